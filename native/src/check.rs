//! `check_ops`: the whole check of a register, kv or mutex history, as `check_history`, with
//! everything the evidence of a partition that is not valid needs built here rather than in a
//! Python loop per operation: its `Completed` objects and steps (as `Model.prepare` makes
//! them), its completion positions, and the deepest configuration as `wgl.SearchResult` holds
//! it (the bitset of linearized operations as an int, the path as nested (op, rest) tuples).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList, PyTuple};

use crate::history;

/// A search's result as `native._results` reads it: (result, explored, best bitset, best
/// state id, stuck op, reason, best state as a string (kv), path). The bitset and path are
/// None for a valid result.
pub type ResultOut = (String, usize, Option<Py<PyAny>>, u32, Option<u32>, String, Option<String>,
                      Option<Py<PyAny>>);

/// (partition, key, Completed objects, steps, invocation positions, completion positions of
/// known outcomes (None: unknown))
type PlaceOut = (usize, Py<PyAny>, Py<PyList>, Py<PyList>, Vec<i64>, Vec<Option<i64>>);

/// (partitions, operations, results, register values by id, places of those not valid)
type CheckOut = (usize, usize, Vec<Option<ResultOut>>, Vec<Py<PyAny>>, Vec<PlaceOut>);

/// The deepest configuration of `order` as `wgl.SearchResult` keeps it: the bitset as an int
/// and the path as (last op, (the one before, (...))).
pub fn deepest(py: Python<'_>, order: &[u32]) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let n = order.iter().map(|&i| i as usize + 1).max().unwrap_or(0);
    let mut bytes = vec![0u8; n.div_ceil(8)];
    for &i in order {
        bytes[i as usize / 8] |= 1 << (i % 8);
    }
    let int = py.get_type::<PyInt>();
    let best = int.call_method1("from_bytes", (PyBytes::new(py, &bytes), "little"))?;
    let mut path = py.None().into_bound(py);
    for &i in order {
        path = PyTuple::new(py, [i.into_pyobject(py)?.into_any(), path])?.into_any();
    }
    Ok((best.unbind(), path.unbind()))
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
#[pyo3(signature = (ops, kind, etcd, init, freeze, nemesis, unknown, completed, time_limit,
                    max_states, max_bytes, threads, stop_on_invalid))]
#[allow(clippy::too_many_arguments)]
pub fn check_ops<'py>(
    py: Python<'py>,
    ops: &Bound<'py, PyAny>,
    kind: u8,
    etcd: bool,
    init: &Bound<'py, PyAny>,
    freeze: &Bound<'py, PyAny>,
    nemesis: &Bound<'py, PyAny>,
    unknown: &Bound<'py, PyAny>,
    completed: &Bound<'py, PyAny>,
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
    let found = crate::run(py, enc.parts, time_limit, max_states, max_bytes, threads,
                           stop_on_invalid);
    let mut places = Vec::new();
    for (i, f) in found.iter().enumerate() {
        if !f.as_ref().is_some_and(|f| f.0 != "valid") {
            continue;
        }
        let steps = &enc.steps[i];
        let (mut objs, mut tuples, mut starts) = (vec![], vec![], vec![]);
        for (ci, arg, out) in steps {
            let c = &enc.calls[*ci];
            let done = c.completion.clone().map_or_else(|| py.None().into_bound(py), |o| o);
            objs.push(completed.call1((&c.op, done))?);
            let out = out.clone().unwrap_or_else(|| unknown.clone());
            tuples.push(PyTuple::new(py, [c.f.clone().into_any(), arg.clone(), out])?);
            starts.push(c.pos);
        }
        let key = enc.calls[steps[0].0].key.clone().unbind();
        let known = ends[i].iter().map(|&e| (e >= 0).then_some(e)).collect();
        places.push((i, key, PyList::new(py, objs)?.unbind(), PyList::new(py, tuples)?.unbind(),
                     starts, known));
    }
    let results = found
        .into_iter()
        .map(|f| f.map(|f| result_out(py, f)).transpose())
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Some((n, enc.operations, results, enc.values, places)))
}
