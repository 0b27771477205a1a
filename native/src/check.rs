//! `check_ops`: the whole check of a register, kv or mutex history, with
//! what the evidence of a partition that is not valid reads from every operation computed here
//! rather than in a Python loop per operation (`Hints`), its operations' positions (native.py
//! pairs and prepares only those the evidence shows), and the deepest configuration as
//! `wgl.SearchResult` holds it (the bitset of linearized operations as an int, their order as
//! a list).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList};

use crate::attrs::Fields;
use crate::history::{self, Call};
use crate::wgl;

/// Operations shown before the one that cannot follow them (`linearizable.LAST_SHOWN`).
const LAST_SHOWN: usize = 12;

/// What `linearizable.evidence` and `linearization` would read from every placed operation:
/// the history indices of the longest linearizable prefix, the (at most two) latest
/// state-changing operations before the stuck one, and the state after each of the last
/// `LAST_SHOWN` placed operations (registers and mutex only: None for the kv store).
type Hints = (Vec<i64>, Vec<usize>, Option<Vec<Py<PyAny>>>);

/// The evidence's inputs for one partition (its operations' calls and steps, its kinds), as
/// `linearizable.evidence` computes them; None when an index is not an integer.
fn hints<'py>(
    py: Python<'py>,
    calls: &[Call<'py>],
    members: &[usize],
    found: &crate::FoundOut,
    replay: Option<(&[u8], &[u32], &[u32], u32)>,
    values: &[Py<PyAny>],
    index: &Fields<'py, 1>,
) -> PyResult<Option<Hints>> {
    let idx = |op: &Bound<'py, PyAny>| -> PyResult<Option<i64>> {
        Ok(index.get(op, 0)?.extract::<i64>().ok())
    };
    let (order, stuck) = (&found.2, found.4);
    let mut placed = order.clone();
    placed.sort_unstable();
    // (invocation index, completion index) of each placed operation
    let mut at = Vec::with_capacity(placed.len());
    let mut prefix = Vec::with_capacity(2 * placed.len());
    for &i in &placed {
        let c = &calls[members[i as usize]];
        let Some(inv) = idx(&c.op)? else { return Ok(None) };
        prefix.push(inv);
        let comp = match &c.completion {
            Some(op) => match idx(op)? {
                Some(e) => {
                    prefix.push(e);
                    Some(e)
                }
                None => return Ok(None),
            },
            None => None,
        };
        at.push((inv, comp));
    }
    let mut changers = vec![];
    if let Some(s) = stuck {
        let c = &calls[members[s as usize]];
        let limit = match &c.completion {
            Some(op) => idx(op)?,
            None => idx(&c.op)?,
        };
        let Some(limit) = limit else { return Ok(None) };
        // the two last by completion (or invocation) index, a later one first among equals
        let (mut before, mut last): (Option<(i64, usize)>, Option<(i64, usize)>) = (None, None);
        for (&i, &(inv, comp)) in placed.iter().zip(&at) {
            let f = &calls[members[i as usize]].f;
            if inv >= limit || f.to_str()? == "read" {
                continue;
            }
            let k = comp.unwrap_or(inv);
            if last.is_none_or(|(l, _)| k >= l) {
                before = last;
                last = Some((k, i as usize));
            } else if before.is_none_or(|(b, _)| k >= b) {
                before = Some((k, i as usize));
            }
        }
        changers = [before, last].into_iter().flatten().map(|(_, i)| i).collect();
    }
    let after = replay.map(|(kind, a, b, init)| {
        let mut state = init;
        let mut out = Vec::with_capacity(LAST_SHOWN);
        for (n, &i) in order.iter().enumerate() {
            let i = i as usize;
            state = match kind[i] {
                wgl::WRITE => a[i],
                wgl::CAS_OK => b[i],
                wgl::CAS_UNKNOWN if state == a[i] => b[i],
                _ => state, // a read, a failed cas, a nop: legal here, no change
            };
            if n + LAST_SHOWN >= order.len() {
                out.push(values[state as usize].clone_ref(py));
            }
        }
        out
    });
    Ok(Some((prefix, changers, after)))
}

/// A search's result as `native._results` reads it: (result, explored, best bitset, best
/// state id, stuck op, reason, best state as a string (kv), the order the deepest
/// configuration's operations were linearized in). The bitset and order are None for a valid
/// result.
pub type ResultOut = (String, usize, Option<Py<PyAny>>, u32, Option<u32>, String, Option<String>,
                      Option<Py<PyAny>>);

/// (partition, key, invocation positions, completion positions (-1: none), completion
/// positions of known outcomes (None: unknown), the evidence's hints)
type PlaceOut = (usize, Py<PyAny>, Vec<i64>, Vec<i64>, Vec<Option<i64>>, Option<Hints>);

/// (partitions, operations, results, register values by id, places of those not valid)
type CheckOut = (usize, usize, Vec<Option<ResultOut>>, Vec<Py<PyAny>>, Vec<PlaceOut>);

/// The deepest configuration of `order` as `wgl.SearchResult` keeps it: the bitset as an int
/// and the order as a list (its `ordered`).
pub fn deepest(py: Python<'_>, order: &[u32]) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let n = order.iter().map(|&i| i as usize + 1).max().unwrap_or(0);
    let mut bytes = vec![0u8; n.div_ceil(8)];
    for &i in order {
        bytes[i as usize / 8] |= 1 << (i % 8);
    }
    let int = py.get_type::<PyInt>();
    let best = int.call_method1("from_bytes", (PyBytes::new(py, &bytes), "little"))?;
    let ordered = PyList::new(py, order)?.into_any();
    Ok((best.unbind(), ordered.unbind()))
}

pub fn result_out(py: Python<'_>, f: crate::FoundOut) -> PyResult<ResultOut> {
    let (result, explored, order, state, stuck, reason, text) = f;
    let (best, path) = if result == "valid" {
        (None, None)
    } else {
        let (b, p) = deepest(py, &order)?;
        (Some(b), Some(p))
    };
    Ok((result, explored, best, state, stuck, reason, text, path))
}

#[pyfunction]
#[pyo3(signature = (ops, kind, etcd, init, freeze, nemesis, time_limit, max_states, max_bytes,
                    threads, stop_on_invalid))]
#[allow(clippy::too_many_arguments)]
pub fn check_ops<'py>(
    py: Python<'py>,
    ops: &Bound<'py, PyAny>,
    kind: u8,
    etcd: bool,
    init: &Bound<'py, PyAny>,
    freeze: &Bound<'py, PyAny>,
    nemesis: &Bound<'py, PyAny>,
    time_limit: Option<f64>,
    max_states: usize,
    max_bytes: Option<usize>,
    threads: usize,
    stop_on_invalid: bool,
) -> PyResult<Option<CheckOut>> {
    let Some(enc) = history::encode(py, ops, kind, etcd, init, freeze, nemesis)? else {
        return Ok(None);
    };
    let n = enc.parts.len();
    let ends: Vec<Vec<i64>> = enc.parts.iter().map(|p| p.0.ends.clone()).collect();
    // the kinds, to replay the states of a partition that is not valid (not the kv's strings)
    let kinds: Vec<(Vec<u8>, Vec<u32>, Vec<u32>, u32)> = if kind == 1 {
        vec![]
    } else {
        enc.parts.iter().map(|(p, _, init)| (p.kind.clone(), p.a.clone(), p.b.clone(), *init))
            .collect()
    };
    let index = Fields::new([pyo3::intern!(py, "index").clone()],
                            enc.calls.first().map(|c| &c.op))?;
    let found = crate::run(py, enc.parts, time_limit, max_states, max_bytes, threads,
                           stop_on_invalid);
    let mut places = Vec::new();
    for (i, f) in found.iter().enumerate() {
        if !f.as_ref().is_some_and(|f| f.0 != "valid") {
            continue;
        }
        let members = &enc.members[i];
        let starts = members.iter().map(|&c| enc.calls[c].pos).collect();
        let key = enc.calls[members[0]].key.clone().unbind();
        let known = ends[i].iter().map(|&e| (e >= 0).then_some(e)).collect();
        let replay = kinds.get(i).map(|(k, a, b, init)| (&k[..], &a[..], &b[..], *init));
        let found = f.as_ref().expect("not valid");
        let hints = hints(py, &enc.calls, members, found, replay, &enc.values, &index)?;
        places.push((i, key, starts, enc.completions[i].clone(), known, hints));
    }
    let results = found
        .into_iter()
        .map(|f| f.map(|f| result_out(py, f)).transpose())
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Some((n, enc.operations, results, enc.values, places)))
}
