//! The list-append transaction checker's hot part, step for step as `checkers/txn.py`,
//! `cycles.py` and `graph.py` do it: pairing, the appends' writers, the reads' anomalies, the
//! version orders, the ww/wr/rw (po, rt) dependency graph and the cycle search (Tarjan's
//! components, breadth-first shortest cycles, reachability bitsets for G-single).
//!
//! Edges are added in the order the Python checker adds them and every search walks them in
//! that order, so both engines report the same anomalies, cycles included. Keys and values
//! must be integers or strings (interned here); processes integers or strings; anything else
//! (a pairing error, a malformed micro-op, a float, a nested list) returns None and the Python
//! path takes over, with its errors. No text is made here: `checkers/txn_findings.py` writes the
//! explanations from the records (kind, transactions, key, positions in the micro-ops).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PyString, PyTuple};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hash (as rustc's FxHash) for the integer keys of the maps here.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

const OK: u8 = 0;
const FAIL: u8 = 1;
const OTHER: u8 = 2;
const WW: u8 = 0;
const WR: u8 = 1;
const RW: u8 = 2;
const PO: u8 = 3;
const RT: u8 = 4;
const EDGE_NAMES: [&str; 5] = ["ww", "wr", "rw", "po", "rt"];
const NOKEY: u32 = u32::MAX;
const NONE: u32 = u32::MAX; // no transaction
/// txn.py's UNSEEN_EDGES: rw edges from a read of a whole version order to unseen appends.
const UNSEEN_EDGES: usize = 20;

enum Mop {
    Append(u32, u32),
    Read(u32, Vec<u32>),
    Skip, // a read of a transaction that did not commit: never looked at
}

struct Txn {
    typ: u8,
    process: u32,
    inv_index: i64,
    comp_index: i64,
    inv_pos: i64,
    comp_pos: i64,
    mops: Vec<Mop>,
}

/// Integers and strings interned to dense ids (Python's equality for these two types): keys,
/// processes.
#[derive(Default)]
struct Atoms {
    ints: FxMap<i64, u32>,
    strs: HashMap<String, u32>,
    objs: Vec<Py<PyAny>>,
}

impl Atoms {
    fn id(&mut self, v: &Bound<'_, PyAny>) -> Option<u32> {
        let next = self.objs.len() as u32;
        let (id, new) = if v.is_exact_instance_of::<PyInt>() {
            let i: i64 = v.extract().ok()?;
            match self.ints.entry(i) {
                Entry::Occupied(e) => (*e.get(), false),
                Entry::Vacant(e) => (*e.insert(next), true),
            }
        } else if v.is_exact_instance_of::<PyString>() {
            let s = v.cast::<PyString>().ok()?.to_str().ok()?;
            match self.strs.get(s) {
                Some(&id) => (id, false),
                None => {
                    self.strs.insert(s.to_owned(), next);
                    (next, true)
                }
            }
        } else {
            return None;
        };
        if new {
            self.objs.push(v.clone().unbind());
        }
        Some(id)
    }
}

/// (key, value) pairs interned to dense ids, a value an integer or a string. A read's elements
/// are first matched by identity against the objects of the key's previous read (a history
/// built in memory shares them: no hashing), then by value.
#[derive(Default)]
struct Pairs {
    ints: FxMap<(u32, i64), u32>,
    str_ids: HashMap<String, u32>,
    strs: FxMap<(u32, u32), u32>,
    key_of: Vec<u32>,
    last: Vec<Vec<(usize, u32)>>, // per key: the previous read's (object address, pair)
}

impl Pairs {
    fn id(&mut self, k: u32, v: &Bound<'_, PyAny>) -> Option<u32> {
        let next = self.key_of.len() as u32;
        let id = if v.is_exact_instance_of::<PyInt>() {
            *self.ints.entry((k, v.extract::<i64>().ok()?)).or_insert(next)
        } else if v.is_exact_instance_of::<PyString>() {
            let s = v.cast::<PyString>().ok()?.to_str().ok()?;
            let sid = match self.str_ids.get(s) {
                Some(&i) => i,
                None => {
                    let i = self.str_ids.len() as u32;
                    self.str_ids.insert(s.to_owned(), i);
                    i
                }
            };
            *self.strs.entry((k, sid)).or_insert(next)
        } else {
            return None;
        };
        if id == next {
            self.key_of.push(k);
        }
        Some(id)
    }

    /// The read list of a committed read of key `k` (kept alive by the caller while the
    /// history is encoded); None for a value txn.py would take apart otherwise.
    fn read(&mut self, k: u32, v: &Bound<'_, PyAny>) -> Option<Vec<u32>> {
        if v.is_none() {
            return Some(vec![]);
        }
        if self.last.len() <= k as usize {
            self.last.resize_with(k as usize + 1, Vec::new);
        }
        let mut cache = std::mem::take(&mut self.last[k as usize]);
        let mut out = Vec::new();
        let mut one = |i: usize, x: Bound<'_, PyAny>| -> Option<()> {
            let at = x.as_ptr() as usize;
            let id = match cache.get(i) {
                Some(&(a, id)) if a == at => id,
                _ => {
                    let id = self.id(k, &x)?;
                    if i < cache.len() {
                        cache[i] = (at, id);
                    } else {
                        cache.push((at, id));
                    }
                    id
                }
            };
            out.push(id);
            Some(())
        };
        if let Ok(l) = v.cast::<PyList>() {
            for (i, x) in l.iter().enumerate() {
                one(i, x)?;
            }
        } else {
            for (i, x) in v.cast::<PyTuple>().ok()?.iter().enumerate() {
                one(i, x)?;
            }
        }
        self.last[k as usize] = cache;
        Some(out)
    }
}

fn item<'py>(seq: &Bound<'py, PyAny>, i: usize) -> Option<Bound<'py, PyAny>> {
    if let Ok(l) = seq.cast::<PyList>() {
        return l.get_item(i).ok();
    }
    seq.cast::<PyTuple>().ok()?.get_item(i).ok()
}

fn is_str(v: &Bound<'_, PyAny>, s: &str) -> bool {
    v.cast::<PyString>().ok().and_then(|x| x.to_str().ok().map(|x| x == s)).unwrap_or(false)
}

struct Call<'py> {
    pos: i64,
    index: i64,
    process: u32,
    value: Bound<'py, PyAny>,
    done: Option<(i64, i64, u8, Bound<'py, PyAny>)>,
}

/// Pair the history's client operations (`History.complete`) and read each `txn`'s micro-ops.
fn encode<'py>(
    py: Python<'py>,
    ops: &Bound<'py, PyAny>,
    keys: &mut Atoms,
    pairs: &mut Pairs,
) -> PyResult<Option<Vec<Txn>>> {
    let (a_process, a_type, a_f, a_value, a_index) = (
        intern!(py, "process"), intern!(py, "type"), intern!(py, "f"), intern!(py, "value"),
        intern!(py, "index"),
    );
    let mut procs = Atoms::default();
    let mut open: FxMap<u32, usize> = FxMap::default();
    // every client call, None for one that is not a txn (only its pairing matters)
    let mut calls: Vec<Option<Call<'py>>> = Vec::new();
    for (pos, op) in ops.try_iter()?.enumerate() {
        let op = op?;
        let process = op.getattr(a_process)?;
        if is_str(&process, "nemesis") {
            continue;
        }
        let Some(p) = procs.id(&process) else { return Ok(None) };
        let typ = op.getattr(a_type)?;
        let Ok(typ) = typ.cast::<PyString>() else { return Ok(None) };
        let typ = typ.to_str()?;
        if typ == "invoke" {
            if open.insert(p, calls.len()).is_some() {
                return Ok(None);
            }
            let call = if is_str(&op.getattr(a_f)?, "txn") {
                let Ok(index) = op.getattr(a_index)?.extract::<i64>() else { return Ok(None) };
                Some(Call { pos: pos as i64, index, process: p, value: op.getattr(a_value)?,
                            done: None })
            } else {
                None
            };
            calls.push(call);
        } else {
            let Some(i) = open.remove(&p) else { return Ok(None) };
            if let Some(call) = &mut calls[i] {
                let Ok(index) = op.getattr(a_index)?.extract::<i64>() else { return Ok(None) };
                let code = match typ {
                    "ok" => OK,
                    "fail" => FAIL,
                    _ => OTHER,
                };
                call.done = Some((pos as i64, index, code, op.getattr(a_value)?));
            }
        }
    }
    let mut txns = Vec::new();
    // the read lists, alive while encoding: Pairs::read matches elements by their address
    let mut keep: Vec<Bound<'py, PyAny>> = Vec::new();
    for call in calls.into_iter().flatten() {
        let (comp_pos, comp_index, typ, value) = match call.done {
            Some((pos, index, typ, v)) => {
                let value = if typ == OK { v } else { call.value };
                (pos, index, typ, value)
            }
            None => (-1, -1, OTHER, call.value),
        };
        let mut mops = Vec::new();
        if let Ok(list) = value.cast::<PyList>() {
            for mop in list.iter() {
                let Some(f) = item(&mop, 0) else { return Ok(None) };
                let m = if is_str(&f, "append") {
                    let (Some(k), Some(v)) = (item(&mop, 1), item(&mop, 2)) else {
                        return Ok(None);
                    };
                    let Some(k) = keys.id(&k) else { return Ok(None) };
                    let Some(v) = pairs.id(k, &v) else { return Ok(None) };
                    Mop::Append(k, v)
                } else if typ == OK {
                    let (Some(k), Some(v)) = (item(&mop, 1), item(&mop, 2)) else {
                        return Ok(None);
                    };
                    let Some(k) = keys.id(&k) else { return Ok(None) };
                    let Some(seen) = pairs.read(k, &v) else { return Ok(None) };
                    keep.push(v);
                    Mop::Read(k, seen)
                } else {
                    Mop::Skip
                };
                mops.push(m);
            }
        }
        txns.push(Txn { typ, process: call.process, inv_index: call.index, comp_index,
                        inv_pos: call.pos, comp_pos, mops });
    }
    Ok(Some(txns))
}

// -- the analysis ---------------------------------------------------------------------------

/// One anomaly kept for its report: the transactions, the key (or NOKEY), positions (micro-op
/// and element, as txn_findings.py reads them) and, for a cycle, its edges (a, b, kind, key).
struct Record {
    kind: String,
    txns: Vec<u32>,
    key: u32,
    refs: Vec<i64>,
    edges: Option<Vec<(u32, u32, u8, u32)>>,
}

struct Reports {
    max: usize,
    counts: Vec<(String, usize)>,
    records: Vec<Record>,
}

impl Reports {
    fn report(&mut self, kind: &str, txns: Vec<u32>, key: u32, refs: Vec<i64>,
              edges: Option<Vec<(u32, u32, u8, u32)>>) {
        let n = match self.counts.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.counts.push((kind.to_owned(), 1));
                1
            }
        };
        if n <= self.max {
            self.records.push(Record { kind: kind.to_owned(), txns, key, refs, edges });
        }
    }
}

struct ReadRec {
    t: u32,
    k: u32,
    mi: u32,
    ext: usize,
}

fn seen_of<'a>(txns: &'a [Txn], r: &ReadRec) -> &'a [u32] {
    match &txns[r.t as usize].mops[r.mi as usize] {
        Mop::Read(_, seen) => seen,
        _ => &[],
    }
}

type Edge = (u32, u8, u32); // (to, kind, key)

struct Graph {
    out: Vec<Vec<Edge>>,
}

impl Graph {
    fn add(&mut self, a: u32, b: u32, kind: u8, key: u32) {
        if a != b {
            self.out[a as usize].push((b, kind, key));
        }
    }
}

/// txn.py's `_run` after the pairing; pairs are (key, value) ids, `key_of` each one's key.
fn analyse(txns: &[Txn], n_keys: usize, key_of: &[u32], realtime: bool, process_order: bool,
           rep: &mut Reports) {
    let n_pairs = key_of.len();
    let committed: Vec<u32> =
        (0..txns.len() as u32).filter(|&t| txns[t as usize].typ == OK).collect();
    // index_appends
    let mut writer = vec![NONE; n_pairs];
    let mut writer_order: Vec<u32> = Vec::new(); // as txn.py's dict: first assignment first
    let mut failed = vec![NONE; n_pairs];
    let mut finals = vec![false; n_pairs];
    let mut stamp = vec![u32::MAX; n_keys];
    for (t, x) in txns.iter().enumerate() {
        for m in &x.mops {
            if let Mop::Append(_, pv) = *m {
                if x.typ == FAIL {
                    failed[pv as usize] = t as u32;
                } else {
                    if writer[pv as usize] == NONE {
                        writer_order.push(pv);
                    }
                    writer[pv as usize] = t as u32;
                }
            }
        }
        for m in x.mops.iter().rev() {
            if let Mop::Append(k, pv) = *m {
                if stamp[k as usize] != t as u32 {
                    stamp[k as usize] = t as u32;
                    finals[pv as usize] = true;
                }
            }
        }
    }
    // reads
    let mut reads: Vec<ReadRec> = Vec::new();
    let mut own: FxMap<u32, Vec<u32>> = FxMap::default();
    let mut vstamp = vec![u32::MAX; n_pairs];
    let mut read_no: u32 = 0;
    for &t in &committed {
        own.clear();
        for (mi, m) in txns[t as usize].mops.iter().enumerate() {
            let (k, seen) = match m {
                Mop::Append(k, v) => {
                    own.entry(*k).or_default().push(*v);
                    continue;
                }
                Mop::Read(k, seen) => (*k, seen),
                Mop::Skip => continue,
            };
            let mut ext = seen.len();
            if let Some(mine) = own.get(&k).filter(|m| !m.is_empty()) {
                if seen.len() < mine.len() || seen[seen.len() - mine.len()..] != mine[..] {
                    rep.report("internal", vec![t], k, vec![mi as i64], None);
                    continue;
                }
                ext = seen.len() - mine.len();
            }
            read_no = read_no.wrapping_add(1);
            let mut duplicate = false;
            for &v in seen {
                if vstamp[v as usize] == read_no {
                    duplicate = true;
                }
                vstamp[v as usize] = read_no;
            }
            if duplicate {
                rep.report("duplicate-elements", vec![t], k, vec![mi as i64], None);
            }
            for (pos, &pv) in seen[..ext].iter().enumerate() {
                if writer[pv as usize] != NONE {
                    continue;
                }
                let w = failed[pv as usize];
                if w != NONE {
                    rep.report("G1a", vec![w, t], k, vec![mi as i64, pos as i64], None);
                } else {
                    rep.report("garbage", vec![t], k, vec![mi as i64, pos as i64], None);
                }
            }
            if ext > 0 {
                let last = seen[ext - 1] as usize;
                if writer[last] != NONE && !finals[last] {
                    rep.report("G1b", vec![writer[last], t], k,
                               vec![mi as i64, ext as i64 - 1], None);
                }
            }
            reads.push(ReadRec { t, k, mi: mi as u32, ext });
        }
    }
    // version_orders: the longest read of each key, keys in the order first read
    let mut longest: Vec<Option<usize>> = vec![None; n_keys];
    let mut key_order: Vec<u32> = Vec::new();
    for (i, r) in reads.iter().enumerate() {
        match longest[r.k as usize] {
            None => {
                longest[r.k as usize] = Some(i);
                key_order.push(r.k);
            }
            Some(j) if seen_of(txns, r).len() > seen_of(txns, &reads[j]).len() => {
                longest[r.k as usize] = Some(i);
            }
            _ => {}
        }
    }
    let mut bad = vec![false; n_keys];
    for r in &reads {
        let u = &reads[longest[r.k as usize].expect("read")];
        if !bad[r.k as usize] && !seen_of(txns, u).starts_with(seen_of(txns, r)) {
            bad[r.k as usize] = true;
            rep.report("incompatible-order", vec![u.t, r.t], r.k,
                       vec![u.mi as i64, r.mi as i64], None);
        }
    }
    let order = |k: u32| -> &[u32] { seen_of(txns, &reads[longest[k as usize].expect("read")]) };
    // build
    let mut g = Graph { out: vec![Vec::new(); txns.len()] };
    let mut in_order = vec![false; n_pairs];
    for &k in &key_order {
        for &pv in order(k) {
            in_order[pv as usize] = true;
        }
    }
    let mut unseen: FxMap<u32, Vec<u32>> = FxMap::default();
    for &pv in &writer_order {
        let w = writer[pv as usize];
        if !in_order[pv as usize] && txns[w as usize].typ == OK {
            unseen.entry(key_of[pv as usize]).or_default().push(w);
        }
    }
    for &k in &key_order {
        for pair in order(k).windows(2) {
            let (a, b) = (writer[pair[0] as usize], writer[pair[1] as usize]);
            if a != NONE && b != NONE {
                g.add(a, b, WW, k);
            }
        }
    }
    for r in &reads {
        let versions = order(r.k);
        let external = &seen_of(txns, r)[..r.ext];
        if !versions.starts_with(external) {
            continue;
        }
        if let Some(&last) = external.last() {
            let source = writer[last as usize];
            if source != NONE {
                g.add(source, r.t, WR, r.k);
            }
        }
        if external.len() < versions.len() {
            let next = writer[versions[external.len()] as usize];
            if next != NONE {
                g.add(r.t, next, RW, r.k);
            }
        } else if let Some(ws) = unseen.get(&r.k) {
            for &w in ws.iter().take(UNSEEN_EDGES) {
                g.add(r.t, w, RW, r.k);
            }
        }
    }
    if process_order {
        let mut last: FxMap<u32, u32> = FxMap::default();
        for &t in &committed {
            if let Some(prev) = last.insert(txns[t as usize].process, t) {
                g.add(prev, t, PO, NOKEY);
            }
        }
    }
    if realtime {
        realtime_edges(txns, &committed, &mut g);
    }
    cycles(&g, rep);
}

/// T1 -> T2 when T1 completed before T2 began, reduced by a frontier (txn.py's
/// `realtime_edges`): once T2 completes, its predecessors leave the frontier.
fn realtime_edges(txns: &[Txn], committed: &[u32], g: &mut Graph) {
    let mut events: Vec<(i64, u8, u32)> = Vec::with_capacity(committed.len() * 2);
    for &t in committed {
        let x = &txns[t as usize];
        events.push((x.inv_index, 1, t));
        events.push((x.comp_index, 0, t));
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    let mut preds: FxMap<u32, Vec<u32>> = FxMap::default();
    for (_, is_invoke, t) in events {
        if is_invoke == 1 {
            for &p in &frontier {
                g.add(p, t, RT, NOKEY);
            }
            preds.insert(t, frontier.clone());
        } else {
            if let Some(ps) = preds.get(&t) {
                frontier.retain(|x| !ps.contains(x));
            }
            if !frontier.contains(&t) {
                frontier.push(t);
            }
        }
    }
}

// -- the cycle search (cycles.py, graph.py) -----------------------------------------------------

/// Successor lists of the given nodes (local ids 0..nodes.len()), over edges whose kind is in
/// `mask` and whose end is among the nodes (`local`: global -> local id), sorted, deduplicated.
fn succ(g: &Graph, nodes: &[u32], local: Option<&[u32]>, mask: u8) -> Vec<Vec<u32>> {
    nodes
        .iter()
        .map(|&v| {
            let mut s: Vec<u32> = g.out[v as usize]
                .iter()
                .filter(|e| mask >> e.1 & 1 == 1)
                .filter_map(|e| match local {
                    None => Some(e.0),
                    Some(l) => (l[e.0 as usize] != u32::MAX).then(|| l[e.0 as usize]),
                })
                .collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect()
}

/// Tarjan's components (iterative), roots in order 0..n, in reverse topological order.
fn sccs(succ: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let n = succ.len();
    let mut index = vec![-1i64; n];
    let mut low = vec![0i64; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut counter = 0i64;
    for root in 0..n {
        if index[root] >= 0 {
            continue;
        }
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            let mut child = None;
            while *pos < succ[v].len() {
                let w = succ[v][*pos] as usize;
                *pos += 1;
                if index[w] < 0 {
                    child = Some(w);
                    break;
                }
                if on_stack[w] && index[w] < low[v] {
                    low[v] = index[w];
                }
            }
            if let Some(w) = child {
                index[w] = counter;
                low[w] = counter;
                counter += 1;
                stack.push(w as u32);
                on_stack[w] = true;
                work.push((w, 0));
                continue;
            }
            work.pop();
            if let Some(&(u, _)) = work.last() {
                if low[v] < low[u] {
                    low[u] = low[v];
                }
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = stack.pop().expect("on the stack");
                    on_stack[w as usize] = false;
                    comp.push(w);
                    if w as usize == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

type CEdge = (u32, u32, u8, u32); // (from, to, kind, key)

struct Search<'g> {
    g: &'g Graph,
    within: Vec<bool>,
    seen: Vec<u32>,
    stamp: u32,
    parent: Vec<Edge>,
}

impl Search<'_> {
    fn enter(&mut self, comp: &[u32], on: bool) {
        for &v in comp {
            self.within[v as usize] = on;
        }
    }

    /// A shortest path src -> dst over edges of `mask` inside the component (graph.py's BFS).
    fn path(&mut self, src: u32, dst: u32, mask: u8) -> Option<Vec<CEdge>> {
        self.stamp += 1;
        let s = self.stamp;
        self.seen[src as usize] = s;
        let mut found = false;
        let mut queue = VecDeque::from([src]);
        'bfs: while let Some(u) = queue.pop_front() {
            if u == dst && u != src {
                break;
            }
            for &(v, k, key) in &self.g.out[u as usize] {
                if mask >> k & 1 == 1 && self.within[v as usize] && self.seen[v as usize] != s {
                    self.seen[v as usize] = s;
                    self.parent[v as usize] = (u, k, key);
                    if v == dst {
                        found = true;
                        break 'bfs;
                    }
                    queue.push_back(v);
                }
            }
        }
        if !found {
            return None;
        }
        let mut steps = Vec::new();
        let mut v = dst;
        while v != src {
            let (u, k, key) = self.parent[v as usize];
            steps.push((u, v, k, key));
            v = u;
        }
        steps.reverse();
        Some(steps)
    }
}

fn named(kind: &str, cycle: &[CEdge]) -> String {
    for (k, suffix) in [(PO, "-process"), (RT, "-realtime")] {
        if cycle.iter().any(|e| e.2 == k) {
            return format!("{kind}{suffix}");
        }
    }
    kind.to_owned()
}

fn report_cycle(rep: &mut Reports, kind: &str, cycle: Vec<CEdge>) {
    let txns = cycle.iter().map(|e| e.0).collect();
    rep.report(kind, txns, NOKEY, vec![], Some(cycle));
}

const DEP: u8 = 1 << WW | 1 << WR | 1 << PO | 1 << RT;
const WWS: u8 = 1 << WW | 1 << PO | 1 << RT;
const FULL: u8 = DEP | 1 << RW;

fn cycles(g: &Graph, rep: &mut Reports) {
    let n = g.out.len();
    let all: Vec<u32> = (0..n as u32).collect();
    let everything = sccs(&succ(g, &all, None, FULL));
    if everything.iter().all(|c| c.len() == 1) {
        return;
    }
    let mut s = Search { g, within: vec![false; n], seen: vec![0; n], stamp: 0,
                         parent: vec![(0, 0, 0); n] };
    let mut explained = vec![false; n];
    for mut comp in sccs(&succ(g, &all, None, WWS)) {
        if comp.len() > 1 {
            comp.sort_unstable();
            cycle_in(&mut s, &comp, WWS, WW, rep);
            for &v in &comp {
                explained[v as usize] = true;
            }
        }
    }
    for mut comp in sccs(&succ(g, &all, None, DEP)) {
        if comp.len() > 1 && !comp.iter().all(|&v| explained[v as usize]) {
            comp.sort_unstable();
            cycle_in(&mut s, &comp, DEP, WR, rep);
        }
    }
    let mut singles = 0usize;
    for mut comp in everything {
        if comp.len() > 1 {
            comp.sort_unstable();
            rw_cycles(&mut s, &comp, &mut singles, rep);
        }
    }
}

/// A shortest cycle through one edge of kind `through` inside a component (sorted).
fn cycle_in(s: &mut Search, comp: &[u32], mask: u8, through: u8, rep: &mut Reports) {
    s.enter(comp, true);
    'outer: for &a in comp {
        for &(b, k, key) in &s.g.out[a as usize] {
            if k == through && s.within[b as usize] {
                if let Some(back) = s.path(b, a, mask) {
                    let mut cycle = vec![(a, b, k, key)];
                    cycle.extend(back);
                    let kind = named(if through == WW { "G0" } else { "G1c" }, &cycle);
                    report_cycle(rep, &kind, cycle);
                    break 'outer;
                }
            }
        }
    }
    s.enter(comp, false);
}

/// G-single where an rw edge closes a ww/wr path, else G2 through the first rw edge that
/// closes at all (cycles.py's `_rw_cycles`); `singles` counts unsuffixed G-single cycles.
fn rw_cycles(s: &mut Search, comp: &[u32], singles: &mut usize, rep: &mut Reports) {
    let g = s.g;
    let mut local = vec![u32::MAX; g.out.len()];
    for (i, &v) in comp.iter().enumerate() {
        local[v as usize] = i as u32;
    }
    let rw: Vec<(u32, u32, u32)> = comp
        .iter()
        .flat_map(|&a| {
            let local = &local;
            g.out[a as usize]
                .iter()
                .filter(move |e| e.1 == RW && local[e.0 as usize] != u32::MAX)
                .map(move |e| (a, e.0, e.2))
        })
        .collect();
    if rw.is_empty() {
        return;
    }
    let succ = succ(g, comp, Some(&local), DEP);
    let inner = sccs(&succ);
    let mut at = vec![0usize; comp.len()];
    for (i, members) in inner.iter().enumerate() {
        for &v in members {
            at[v as usize] = i;
        }
    }
    let mut reach: Vec<Vec<u64>> = Vec::with_capacity(inner.len());
    for (i, members) in inner.iter().enumerate() {
        let mut bits = vec![0u64; i / 64 + 1];
        bits[i / 64] |= 1 << (i % 64);
        for &v in members {
            for &w in &succ[v as usize] {
                let j = at[w as usize];
                if j != i {
                    for (x, y) in bits.iter_mut().zip(&reach[j]) {
                        *x |= *y;
                    }
                }
            }
        }
        reach.push(bits);
    }
    s.enter(comp, true);
    let mut found_single = false;
    for &(a, b, key) in &rw {
        let (ia, ib) = (at[local[a as usize] as usize], at[local[b as usize] as usize]);
        let reaches = reach[ib].get(ia / 64).is_some_and(|w| w >> (ia % 64) & 1 == 1);
        if !reaches {
            continue;
        }
        if let Some(back) = s.path(b, a, DEP) {
            let mut cycle = vec![(a, b, RW, key)];
            cycle.extend(back);
            let kind = named("G-single", &cycle);
            if kind == "G-single" {
                *singles += 1;
            }
            report_cycle(rep, &kind, cycle);
            found_single = true;
            if *singles >= rep.max {
                break;
            }
        }
    }
    if !found_single {
        for &(a, b, key) in &rw {
            if let Some(back) = s.path(b, a, FULL) {
                let mut cycle = vec![(a, b, RW, key)];
                cycle.extend(back);
                let kind = named("G2", &cycle);
                report_cycle(rep, &kind, cycle);
                break;
            }
        }
    }
    s.enter(comp, false);
}

// -- the Python face ----------------------------------------------------------------------------

/// (kind, transactions, key or None, positions, cycle edges (a, b, kind, key) or None)
type RecordOut = (String, Vec<u32>, Py<PyAny>, Vec<i64>, Option<Vec<(u32, u32, &'static str, Py<PyAny>)>>);
/// (transactions, committed, counts by kind in the order first found, records kept, and
/// (transaction, invocation position, completion position or -1) of each one they name)
pub type TxnOut = (usize, usize, Vec<(String, usize)>, Vec<RecordOut>, Vec<(u32, i64, i64)>);

/// The list-append checker over a history's operations; None when it needs the Python path.
#[pyfunction]
#[pyo3(signature = (ops, realtime, process_order, max_reports))]
pub fn check_txn(
    py: Python<'_>,
    ops: &Bound<'_, PyAny>,
    realtime: bool,
    process_order: bool,
    max_reports: usize,
) -> PyResult<Option<TxnOut>> {
    let mut keys = Atoms::default();
    let mut pairs = Pairs::default();
    let Some(txns) = encode(py, ops, &mut keys, &mut pairs)? else { return Ok(None) };
    let committed = txns.iter().filter(|x| x.typ == OK).count();
    let mut rep = Reports { max: max_reports, counts: vec![], records: vec![] };
    if committed > 0 {
        let (n_keys, key_of) = (keys.objs.len(), &pairs.key_of);
        py.detach(|| analyse(&txns, n_keys, key_of, realtime, process_order, &mut rep));
    }
    let key = |k: u32| -> Py<PyAny> {
        if k == NOKEY { py.None() } else { keys.objs[k as usize].clone_ref(py) }
    };
    let mut named: Vec<u32> = Vec::new();
    let records = rep
        .records
        .into_iter()
        .map(|r| {
            named.extend(&r.txns);
            let edges = r.edges.map(|es| {
                es.into_iter().map(|(a, b, k, kk)| (a, b, EDGE_NAMES[k as usize], key(kk)))
                    .collect()
            });
            (r.kind, r.txns, key(r.key), r.refs, edges)
        })
        .collect();
    named.sort_unstable();
    named.dedup();
    let places = named
        .into_iter()
        .map(|t| (t, txns[t as usize].inv_pos, txns[t as usize].comp_pos))
        .collect();
    Ok(Some((txns.len(), committed, rep.counts, records, places)))
}
