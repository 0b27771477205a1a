//! The multi-register (Knossos' `multi-register`: atomic transactions of read and write
//! micro-ops over several registers) for the compiled search, state for state
//! `models.MultiRegisterStep`: a state is the value of each key written so far (a key never
//! written reads as its start value), interned as a small integer, and each (state,
//! transaction) step is computed once. `check_multi_register` is the whole check from the
//! history's operations: pairing (history.rs), encoding, the search (wgl.rs).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString, PyTuple};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::history::{frozen, pair};
use crate::wgl::{self, mix, Budget, IdMap, Part, Values};

const NONE: u32 = u32::MAX;
const UNSET: u32 = u32::MAX; // a key this state has not written

/// One micro-op: a write of `value` to `key`, or a read of `key` that must see `value`
/// (`NONE`: not checked, as a nil read or any read of a transaction whose outcome is unknown).
#[derive(Clone, Copy)]
struct Micro {
    write: bool,
    key: u32,
    value: u32,
}

/// The transactions of one history and the states the search has met.
pub struct States {
    keys: usize,
    starts: Vec<u32>, // each key's start value id
    micros: Vec<Micro>,
    txns: Vec<(usize, usize)>, // each transaction's micro-ops: micros[from..to]
    data: Vec<u32>, // `keys` value ids per state, UNSET for a key not written
    heads: IdMap,
    chain: Vec<u32>,
    memo: IdMap, // (state, txn) -> new state, or NONE: illegal
}

impl States {
    fn new(starts: Vec<u32>, micros: Vec<Micro>, txns: Vec<(usize, usize)>) -> States {
        let keys = starts.len();
        let mut s = States { keys, starts, micros, txns, data: vec![], heads: IdMap::default(),
                             chain: vec![], memo: IdMap::default() };
        s.intern(&vec![UNSET; keys]); // state 0: nothing written, the model's ()
        s
    }

    fn get(&self, state: u32) -> &[u32] {
        let k = state as usize * self.keys;
        &self.data[k..k + self.keys]
    }

    fn intern(&mut self, values: &[u32]) -> u32 {
        let h = values.iter().fold(0x5EED_u64, |h, &v| mix(h ^ v as u64));
        let mut c = self.heads.get(&h).copied().unwrap_or(NONE);
        while c != NONE {
            if self.get(c) == values {
                return c;
            }
            c = self.chain[c as usize];
        }
        let id = self.chain.len() as u32;
        self.data.extend_from_slice(values);
        self.chain.push(self.heads.insert(h, id).unwrap_or(NONE));
        id
    }

    /// The state after transaction `t` from `state`, None when one of its reads cannot see
    /// what it returned there.
    pub fn apply(&mut self, state: u32, t: u32) -> Option<u32> {
        let memo = mix(((state as u64) << 32) | t as u64); // mix is a bijection
        if let Some(&s) = self.memo.get(&memo) {
            return (s != NONE).then_some(s);
        }
        let mut values = self.get(state).to_vec();
        let mut legal = true;
        let (from, to) = self.txns[t as usize];
        for m in &self.micros[from..to] {
            let k = m.key as usize;
            if m.write {
                values[k] = m.value;
            } else if m.value != NONE {
                let now = if values[k] == UNSET { self.starts[k] } else { values[k] };
                if now != m.value {
                    legal = false;
                    break;
                }
            }
        }
        let s = if legal { self.intern(&values) } else { NONE };
        self.memo.insert(memo, s);
        (s != NONE).then_some(s)
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 4 + self.chain.len() * 20 + self.memo.len() * 16
    }

    /// A state's written keys as (key id, value id).
    fn items(&self, state: u32) -> Vec<(usize, u32)> {
        self.get(state).iter().enumerate().filter(|(_, &v)| v != UNSET).map(|(k, &v)| (k, v))
            .collect()
    }
}

/// A list or a tuple.
enum Seq<'py> {
    List(Bound<'py, PyList>),
    Tuple(Bound<'py, PyTuple>),
}

impl<'py> Seq<'py> {
    fn of(v: &Bound<'py, PyAny>) -> Option<Seq<'py>> {
        if let Ok(l) = v.cast::<PyList>() {
            return Some(Seq::List(l.clone()));
        }
        v.cast::<PyTuple>().ok().map(|t| Seq::Tuple(t.clone()))
    }
    fn len(&self) -> usize {
        match self {
            Seq::List(l) => l.len(),
            Seq::Tuple(t) => t.len(),
        }
    }
    fn get(&self, i: usize) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Seq::List(l) => l.get_item(i),
            Seq::Tuple(t) => t.get_item(i),
        }
    }
}

/// Python objects interned by equality, as the model's state compares them: integers in a
/// Rust map, strings, None and tuples in a dict (none of them equals an integer); any other
/// value (a float or a bool, which may equal an integer) is not interned: the Python path.
struct Interner<'py> {
    ints: IdMap, // mix(integer), a bijection -> id
    ids: Bound<'py, PyDict>,
    objects: Vec<Bound<'py, PyAny>>,
}

impl<'py> Interner<'py> {
    fn new(py: Python<'py>) -> Interner<'py> {
        Interner { ints: IdMap::default(), ids: PyDict::new(py), objects: vec![] }
    }
    fn id(&mut self, v: &Bound<'py, PyAny>) -> PyResult<Option<u32>> {
        let next = self.objects.len() as u32;
        if v.is_exact_instance_of::<PyInt>() {
            let Ok(i) = v.extract::<i64>() else { return Ok(None) };
            let id = *self.ints.entry(mix(i as u64)).or_insert(next);
            if id == next {
                self.objects.push(v.clone());
            }
            return Ok(Some(id));
        }
        if !(v.is_none() || v.is_exact_instance_of::<PyString>()
             || v.is_exact_instance_of::<PyTuple>()) {
            return Ok(None);
        }
        if let Some(i) = self.ids.get_item(v)? {
            return Ok(Some(i.extract()?));
        }
        self.ids.set_item(v, next)?;
        self.objects.push(v.clone());
        Ok(Some(next))
    }
}

/// (operations, the search's result, the deepest state's (key, value) items, and per
/// operation its invocation and completion positions (-1: none))
type MultiOut = (usize, crate::FoundOut, Vec<(Py<PyAny>, Py<PyAny>)>, Vec<i64>, Vec<i64>);

/// Whether every micro-op of a transaction is a list or tuple of three (`Model.prepare`).
fn well_formed(txn: &Seq<'_>) -> PyResult<bool> {
    for j in 0..txn.len() {
        if Seq::of(&txn.get(j)?).is_none_or(|m| m.len() != 3) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The whole multi-register check; None when the history needs the Python path (an f other
/// than txn, a transaction that is not a list of [f, key, value], keys that are not all
/// strings or all integers, values other than integers, strings, nil and lists: the Python
/// model says what is wrong, or decides what it can).
#[pyfunction]
#[pyo3(signature = (ops, init, freeze, nemesis, time_limit, max_states, max_bytes))]
#[allow(clippy::too_many_arguments)]
pub fn check_multi_register<'py>(
    py: Python<'py>,
    ops: &Bound<'py, PyAny>,
    init: &Bound<'py, PyAny>,
    freeze: &Bound<'py, PyAny>,
    nemesis: &Bound<'py, PyAny>,
    time_limit: Option<f64>,
    max_states: usize,
    max_bytes: Option<usize>,
) -> PyResult<Option<MultiOut>> {
    let Some(calls) = pair(py, ops, nemesis)? else { return Ok(None) };
    let initial = init.cast::<PyDict>().ok();
    let zero = 0i64.into_pyobject(py)?.into_any();
    let (txn_s, r_s, read_s) = (intern!(py, "txn"), intern!(py, "r"), intern!(py, "read"));
    let mut keys = Interner::new(py);
    let mut values = Interner::new(py);
    let mut starts: Vec<u32> = vec![];
    let mut micros: Vec<Micro> = Vec::with_capacity(calls.len() * 2);
    let mut bounds: Vec<(usize, usize)> = Vec::with_capacity(calls.len());
    let n = calls.len();
    let mut part = Part { kind: Vec::with_capacity(n), a: Vec::with_capacity(n),
                          b: Vec::with_capacity(n), starts: Vec::with_capacity(n),
                          ends: Vec::with_capacity(n) };
    let mut completions = Vec::with_capacity(n);
    let (mut str_keys, mut int_keys) = (false, false);
    for c in &calls {
        if !c.f.is(txn_s) && c.f.to_str()? != "txn" {
            return Ok(None);
        }
        let t = match &c.done {
            Some(d) => d.1.to_str()?,
            None => "info",
        };
        if t == "fail" {
            continue; // it never happened
        }
        let Some(invoked) = Seq::of(&c.value) else { return Ok(None) };
        let known = t == "ok";
        let micro = if known {
            match Seq::of(&c.done.as_ref().expect("ok has a completion").2) {
                Some(m) => {
                    if !well_formed(&invoked)? {
                        return Ok(None);
                    }
                    m
                }
                None => return Ok(None),
            }
        } else {
            invoked
        };
        let first = micros.len();
        for j in 0..micro.len() {
            let Some(m) = Seq::of(&micro.get(j)?) else { return Ok(None) };
            if m.len() != 3 {
                return Ok(None);
            }
            let (f, k, v) = (m.get(0)?, m.get(1)?, m.get(2)?);
            let read = f.is(r_s) || f.is(read_s) || f.cast::<PyString>()
                .is_ok_and(|f| f.to_str().is_ok_and(|f| f == "r" || f == "read"));
            let k = frozen(k, freeze)?;
            if k.is_exact_instance_of::<PyString>() {
                str_keys = true;
            } else if k.is_exact_instance_of::<PyInt>() {
                int_keys = true;
            } else {
                return Ok(None);
            }
            if str_keys && int_keys {
                return Ok(None);
            }
            let Some(key) = keys.id(&k)? else { return Ok(None) };
            if key as usize == starts.len() {
                let start = match &initial {
                    Some(d) => d.get_item(&k)?.unwrap_or_else(|| zero.clone()),
                    None => init.clone(),
                };
                let Some(s) = values.id(&start)? else { return Ok(None) };
                starts.push(s);
            }
            let value = if read && (!known || v.is_none()) {
                NONE
            } else {
                let Some(id) = values.id(&frozen(v, freeze)?)? else { return Ok(None) };
                id
            };
            micros.push(Micro { write: !read, key, value });
        }
        part.kind.push(wgl::TXN);
        part.a.push(bounds.len() as u32);
        part.b.push(0);
        part.starts.push(c.pos);
        part.ends.push(if known { c.done.as_ref().map_or(-1, |d| d.0) } else { -1 });
        completions.push(c.done.as_ref().map_or(-1, |d| d.0));
        bounds.push((first, micros.len()));
    }
    let n = bounds.len();
    let mut states = States::new(starts, micros, bounds);
    let stop = AtomicBool::new(false);
    let deadline = time_limit.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let budget = Budget { deadline, max_states, max_bytes, stop: &stop };
    let found = py.detach(|| wgl::search(&part, Values::Txns(&mut states), 0, &budget));
    let best = states
        .items(found.best_state)
        .into_iter()
        .map(|(k, v)| (keys.objects[k].clone().unbind(), values.objects[v as usize].clone().unbind()))
        .collect();
    Ok(Some((n, crate::out(found), best, part.starts, completions)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: u32, value: u32) -> Micro {
        Micro { write: true, key, value }
    }
    fn r(key: u32, value: u32) -> Micro {
        Micro { write: false, key, value }
    }

    #[test]
    fn reads_see_start_values_then_writes() {
        // keys x=0, y=1 start at value 0; value 1 written to x
        let mut s = States::new(vec![0, 0], vec![r(0, 0), w(0, 1), r(0, 1), r(0, 0)],
                                vec![(0, 3), (3, 4)]);
        let a = s.apply(0, 0).expect("legal");
        assert_eq!(s.items(a), vec![(0, 1)]);
        assert_eq!(s.apply(a, 1), None); // x is 1 now
        assert_eq!(s.apply(0, 1), Some(0));
    }

    #[test]
    fn a_key_written_to_its_start_value_is_a_new_state() {
        // as the model's (): a written key is in the state even at its start value
        let mut s = States::new(vec![0], vec![w(0, 0)], vec![(0, 1)]);
        assert_eq!(s.apply(0, 0), Some(1));
    }
}
