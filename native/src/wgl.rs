//! The Wing-Gong-Lowe search over one partition, step for step the one in
//! `pytest_sdconform/checkers/wgl.py` (the reference): the same event order, the same forced
//! steps, the same cache of (linearized set, state) configurations, the same deepest
//! configuration kept for the report. Only the representation differs: states are small
//! integers (values interned by the caller, concatenated strings interned here), the
//! linearized set is a bitset of u64 words, and the cache is keyed by an incremental hash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Operation kinds, as `native.py` encodes a step.
pub const READ: u8 = 1; // legal iff state == a; no change
pub const WRITE: u8 = 2; // state := a
pub const CAS_OK: u8 = 3; // legal iff state == a; state := b
pub const CAS_FAIL: u8 = 4; // legal iff state != a; no change
pub const CAS_UNKNOWN: u8 = 5; // state := b if state == a, else no change
pub const NOP: u8 = 6; // always legal, no change (a read whose result is unknown)
pub const APPEND: u8 = 7; // state := state ++ a (strings)
pub const TXN: u8 = 8; // transaction a of multi::States: its new state, or illegal

const NONE: u32 = u32::MAX;

/// One partition's operations, in invocation order.
pub struct Part {
    pub kind: Vec<u8>,
    pub a: Vec<u32>,
    pub b: Vec<u32>,
    pub starts: Vec<i64>,
    pub ends: Vec<i64>, // < 0: unknown outcome (its return goes after every other event)
}

/// What a step may need of the values: nothing (registers), the strings behind the ids, or
/// the transactions and interned states of the multi-register (which the caller keeps, to read
/// the deepest state back).
pub enum Values<'a> {
    Ids,
    Strings(&'a [String]),
    Txns(&'a mut crate::multi::States),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Valid,
    Invalid,
    Unknown(String),
}

pub struct Found {
    pub outcome: Outcome,
    pub explored: usize,
    pub order: Vec<u32>,  // the deepest configuration's operations, in linearized order
    pub best_state: u32,  // its state (a value id, or an index into `strings`)
    pub stuck: u32,       // the operation whose return could not be passed there, or NONE
    pub text: Option<String>, // the best state as a string (Values::Strings only)
}

impl Found {
    pub fn stuck(&self) -> Option<u32> {
        (self.stuck != NONE).then_some(self.stuck)
    }
}

pub struct Budget<'a> {
    pub deadline: Option<Instant>,
    pub max_states: usize,
    pub max_bytes: Option<usize>,
    pub stop: &'a AtomicBool, // another partition was found invalid
}

#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

pub(crate) type IdMap = HashMap<u64, u32, BuildHasherDefault<IdHasher>>;

pub(crate) fn mix(mut z: u64) -> u64 {
    // splitmix64's finalizer
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Visited configurations: bitsets stored flat, chained by hash.
struct Cache {
    words: usize,
    heads: IdMap,
    next: Vec<u32>,
    bits: Vec<u64>,
    states: Vec<u32>,
}

impl Cache {
    fn len(&self) -> usize {
        self.states.len()
    }
    fn bytes(&self) -> usize {
        self.len() * (self.words * 8 + 4 + 4 + 16)
    }
    fn contains(&self, h: u64, lin: &[u64], state: u32) -> bool {
        let mut e = match self.heads.get(&h) {
            Some(&e) => e,
            None => return false,
        };
        while e != NONE {
            let k = e as usize;
            if self.states[k] == state && &self.bits[k * self.words..(k + 1) * self.words] == lin {
                return true;
            }
            e = self.next[k];
        }
        false
    }
    fn insert(&mut self, h: u64, lin: &[u64], state: u32) {
        let k = self.states.len() as u32;
        let prev = self.heads.insert(h, k).unwrap_or(NONE);
        self.next.push(prev);
        self.bits.extend_from_slice(lin);
        self.states.push(state);
    }
}

/// String states, interned by a polynomial hash kept incrementally (mod 2^61 - 1), so that
/// an append hashes in O(1); a hash hit is confirmed by comparing the bytes, so two states are
/// one id exactly when their strings are equal. The strings live in one byte arena; a memo maps
/// (state, appended value) -> state.
struct Strings {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
    hash: Vec<u64>,
    heads: IdMap,
    chain: Vec<u32>,
    concat: IdMap,
}

const MOD: u64 = (1 << 61) - 1;

fn mulmod(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    let r = ((p & MOD as u128) + (p >> 61)) as u64;
    if r >= MOD { r - MOD } else { r }
}

fn powmod(mut e: usize) -> u64 {
    let (mut base, mut acc) = (1_000_003u64, 1u64);
    while e > 0 {
        if e & 1 == 1 {
            acc = mulmod(acc, base);
        }
        base = mulmod(base, base);
        e >>= 1;
    }
    acc
}

fn poly(s: &str) -> u64 {
    s.bytes().fold(0u64, |h, c| {
        let r = mulmod(h, 1_000_003) + c as u64 + 1;
        if r >= MOD { r - MOD } else { r }
    })
}

impl Strings {
    fn new(table: &[String]) -> Strings {
        let mut s = Strings { bytes: vec![], spans: vec![], hash: vec![], heads: IdMap::default(),
                              chain: vec![], concat: IdMap::default() };
        for t in table {
            let start = s.bytes.len();
            s.bytes.extend_from_slice(t.as_bytes());
            s.add(start, t.len(), poly(t));
        }
        s
    }
    fn get(&self, i: u32) -> &[u8] {
        let (start, len) = self.spans[i as usize];
        &self.bytes[start..start + len]
    }
    fn text(&self, i: u32) -> String {
        String::from_utf8_lossy(self.get(i)).into_owned()
    }
    fn add(&mut self, start: usize, len: usize, h: u64) -> u32 {
        let i = self.spans.len() as u32;
        self.spans.push((start, len));
        self.hash.push(h);
        let prev = self.heads.insert(h ^ mix(len as u64), i).unwrap_or(NONE);
        self.chain.push(prev);
        i
    }
    fn append(&mut self, state: u32, value: u32) -> u32 {
        let memo = mix(((state as u64) << 32) | value as u64); // mix is a bijection
        if let Some(&s) = self.concat.get(&memo) {
            return s;
        }
        let ((sa, la), (sb, lb)) = (self.spans[state as usize], self.spans[value as usize]);
        let h = {
            let r = mulmod(self.hash[state as usize], powmod(lb)) + self.hash[value as usize];
            if r >= MOD { r - MOD } else { r }
        };
        let len = la + lb;
        let mut c = self.heads.get(&(h ^ mix(len as u64))).copied().unwrap_or(NONE);
        while c != NONE {
            let (sc, lc) = self.spans[c as usize];
            let t = &self.bytes[sc..sc + lc];
            if lc == len && t[..la] == self.bytes[sa..sa + la] && t[la..] == self.bytes[sb..sb + lb]
            {
                break;
            }
            c = self.chain[c as usize];
        }
        let s = if c != NONE {
            c
        } else {
            let start = self.bytes.len();
            self.bytes.extend_from_within(sa..sa + la);
            self.bytes.extend_from_within(sb..sb + lb);
            self.add(start, len, h)
        };
        self.concat.insert(memo, s);
        s
    }
}

/// Search one partition from `init`.
pub fn search(part: &Part, values: Values, init: u32, budget: &Budget) -> Found {
    let n = part.kind.len();
    let (mut strings, mut txns) = match values {
        Values::Ids => (None, None),
        Values::Strings(table) => (Some(Strings::new(table)), None),
        Values::Txns(states) => (None, Some(states)),
    };
    let done = |outcome, explored, order, best_state, stuck, strings: Option<Strings>| Found {
        outcome,
        explored,
        order,
        best_state,
        stuck,
        text: strings.map(|s| s.text(best_state)),
    };
    if n == 0 {
        return done(Outcome::Valid, 0, vec![], init, NONE, strings);
    }
    // Events as wgl.py sorts them: (position, 0 call | 1 return, op); an unknown return sorts
    // after everything, by op.
    let big: i64 = 1 << 62;
    let mut events: Vec<(i64, u8, u32)> = Vec::with_capacity(2 * n);
    for i in 0..n {
        events.push((part.starts[i], 0, i as u32));
        let e = part.ends[i];
        events.push((if e < 0 { big + i as i64 } else { e }, 1, i as u32));
    }
    events.sort_unstable();
    let size = events.len();
    // Doubly linked list over nodes 1..=size, head 0, terminator -1.
    let mut nxt: Vec<i64> = (1..=(size as i64 + 1)).collect();
    nxt[size] = -1;
    let mut prv: Vec<i64> = (-1..size as i64).collect();
    let mut is_call = vec![false; size + 1];
    let mut op_of = vec![0u32; size + 1];
    let mut ret_node = vec![0usize; n];
    for (k, &(_, kind, i)) in events.iter().enumerate() {
        let node = k + 1;
        op_of[node] = i;
        if kind == 0 {
            is_call[node] = true;
        } else {
            ret_node[i as usize] = node;
        }
    }
    let known: Vec<bool> = part.ends.iter().map(|&e| e >= 0).collect();
    let mut known_left = known.iter().filter(|&&k| k).count();
    let words = n.div_ceil(64);
    let zob: Vec<u64> = (0..n as u64).map(mix).collect();

    let mut state = init;
    let mut lin = vec![0u64; words];
    let mut lin_hash = 0u64;
    // The linearization so far, as links (op, parent) in an arena shared by configurations.
    let mut links: Vec<(u32, u32)> = Vec::new();
    let mut path = NONE;
    // (call node, state before it, forced, path before it)
    let mut stack: Vec<(usize, u32, bool, u32)> = Vec::new();
    let mut cache = Cache { words, heads: IdMap::default(), next: vec![], bits: vec![], states: vec![] };
    let (mut best_state, mut best_stuck, mut best_path) = (init, NONE, NONE);
    let mut best_depth: i64 = -1;
    let order_of = |links: &Vec<(u32, u32)>, mut p: u32| {
        let mut out = Vec::new();
        while p != NONE {
            out.push(links[p as usize].0);
            p = links[p as usize].1;
        }
        out.reverse();
        out
    };
    let mut entry = nxt[0] as usize;
    let mut iterations: u64 = 0;
    while known_left > 0 {
        iterations += 1;
        if iterations & 0x3FFF == 0 {
            let why = if budget.deadline.is_some_and(|d| Instant::now() > d) {
                Some("time limit reached")
            } else if budget.stop.load(Ordering::Relaxed) {
                Some("stopped: another partition is invalid")
            } else {
                None
            };
            if let Some(why) = why {
                let order = order_of(&links, best_path);
                return done(Outcome::Unknown(why.into()), cache.len(), order, best_state,
                            best_stuck, strings);
            }
        }
        let mut backtrack = false;
        if is_call[entry] {
            let i = op_of[entry] as usize;
            let (a, b) = (part.a[i], part.b[i]);
            let new_state = match part.kind[i] {
                READ => (state == a).then_some(state),
                WRITE => Some(a),
                CAS_OK => (state == a).then_some(b),
                CAS_FAIL => (state != a).then_some(state),
                CAS_UNKNOWN => Some(if state == a { b } else { state }),
                NOP => Some(state),
                APPEND => Some(strings.as_mut().expect("APPEND needs strings").append(state, a)),
                TXN => txns.as_mut().expect("TXN needs transactions").apply(state, a),
                k => panic!("unknown operation kind {k}"),
            };
            let Some(new_state) = new_state else {
                entry = nxt[entry] as usize;
                continue;
            };
            let same = new_state == state;
            if !known[i] && same {
                entry = nxt[entry] as usize;
                continue;
            }
            lin[i / 64] |= 1 << (i % 64);
            let h = (lin_hash ^ zob[i]) ^ mix(new_state as u64 ^ 0xA5A5_0000_0000);
            if !cache.contains(h, &lin, new_state) {
                if cache.len() >= budget.max_states {
                    lin[i / 64] &= !(1 << (i % 64));
                    let order = order_of(&links, best_path);
                    return done(Outcome::Unknown("state budget reached".into()), cache.len(),
                                order, best_state, best_stuck, strings);
                }
                let held = cache.bytes() + links.len() * 8 + txns.as_ref().map_or(0, |t| t.bytes());
                if budget.max_bytes.is_some_and(|m| held >= m) {
                    lin[i / 64] &= !(1 << (i % 64));
                    let order = order_of(&links, best_path);
                    return done(Outcome::Unknown("memory budget reached".into()), cache.len(),
                                order, best_state, best_stuck, strings);
                }
                cache.insert(h, &lin, new_state);
                stack.push((entry, state, same, path));
                links.push((i as u32, path));
                path = (links.len() - 1) as u32;
                state = new_state;
                lin_hash ^= zob[i];
                if known[i] {
                    known_left -= 1;
                }
                let r = ret_node[i];
                let (pe, ne) = (prv[entry], nxt[entry]);
                nxt[pe as usize] = ne;
                prv[ne as usize] = pe;
                let (pr, nr) = (prv[r], nxt[r]);
                nxt[pr as usize] = nr;
                if nr != -1 {
                    prv[nr as usize] = pr;
                }
                entry = nxt[0] as usize;
                continue;
            }
            lin[i / 64] &= !(1 << (i % 64));
            if !same {
                entry = nxt[entry] as usize;
                continue;
            }
            // A forced step into an explored configuration: this configuration is dead too.
            backtrack = true;
        }
        if !backtrack && (stack.len() as i64) > best_depth {
            // A return whose operation is still unplaced: this branch is dead.
            best_depth = stack.len() as i64;
            best_state = state;
            best_stuck = op_of[entry];
            best_path = path;
        }
        // Backtrack to the last real choice.
        loop {
            let Some((e, s, forced, p)) = stack.pop() else {
                let order = order_of(&links, best_path);
                return done(Outcome::Invalid, cache.len(), order, best_state, best_stuck,
                            strings);
            };
            entry = e;
            state = s;
            path = p;
            let i = op_of[entry] as usize;
            lin[i / 64] &= !(1 << (i % 64));
            lin_hash ^= zob[i];
            if known[i] {
                known_left += 1;
            }
            let r = ret_node[i];
            let (pr, nr) = (prv[r], nxt[r]);
            nxt[pr as usize] = r as i64;
            if nr != -1 {
                prv[nr as usize] = r as i64;
            }
            let (pe, ne) = (prv[entry], nxt[entry]);
            nxt[pe as usize] = entry as i64;
            prv[ne as usize] = entry as i64;
            if !forced {
                break;
            }
        }
        entry = nxt[entry] as usize;
    }
    done(Outcome::Valid, cache.len(), vec![], state, NONE, strings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: &[u8], a: &[u32], b: &[u32], starts: &[i64], ends: &[i64]) -> Found {
        let part = Part { kind: kind.into(), a: a.into(), b: b.into(), starts: starts.into(),
                          ends: ends.into() };
        let stop = AtomicBool::new(false);
        let budget = Budget { deadline: None, max_states: 1 << 20, max_bytes: None, stop: &stop };
        search(&part, Values::Ids, 0, &budget)
    }

    #[test]
    fn write_then_read_is_valid() {
        let f = run(&[WRITE, READ], &[1, 1], &[0, 0], &[0, 2], &[1, 3]);
        assert_eq!(f.outcome, Outcome::Valid);
    }

    #[test]
    fn stale_read_after_write_is_invalid() {
        // write 1 completes, then a read returns the initial 0
        let f = run(&[WRITE, READ], &[1, 0], &[0, 0], &[0, 2], &[1, 3]);
        assert_eq!(f.outcome, Outcome::Invalid);
        assert_eq!(f.stuck(), Some(1));
        assert_eq!(f.order, vec![0]);
    }

    #[test]
    fn concurrent_read_may_see_either() {
        let f = run(&[WRITE, READ], &[1, 0], &[0, 0], &[0, 1], &[2, 3]);
        assert_eq!(f.outcome, Outcome::Valid);
    }

    #[test]
    fn state_budget_gives_unknown() {
        let part = Part { kind: vec![WRITE, WRITE, READ], a: vec![1, 2, 3], b: vec![0; 3],
                          starts: vec![0, 1, 2], ends: vec![3, 4, 5] };
        let stop = AtomicBool::new(false);
        let budget = Budget { deadline: None, max_states: 1, max_bytes: None, stop: &stop };
        let f = search(&part, Values::Ids, 0, &budget);
        assert_eq!(f.outcome, Outcome::Unknown("state budget reached".into()));
    }
}
