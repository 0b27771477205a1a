//! `sdconform_native`: the compiled core of pytest-sdconform's linearizability checker.
//!
//! `search_many` searches a history's partitions (keys) on a few threads, without the GIL,
//! largest first; `pytest_sdconform/checkers/native.py` encodes the partitions and turns the
//! results back into `wgl.SearchResult`s. The pure-Python `wgl.py` stays the reference.

pub mod attrs;
pub mod check;
pub mod history;
pub mod multi;
pub mod txn;
pub mod wgl;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wgl::{Budget, Found, Outcome, Part, Values};

/// One partition as native.py sends it: kinds, a, b, starts, ends, the string values (kv
/// only, else None) and the initial state's id.
type PartIn = (Vec<u8>, Vec<u32>, Vec<u32>, Vec<i64>, Vec<i64>, Option<Vec<String>>, u32);

/// (result, explored, order, best state id, stuck op, reason, best state as a string (kv))
type FoundOut = (String, usize, Vec<u32>, u32, Option<u32>, String, Option<String>);

fn check(p: &PartIn) -> PyResult<()> {
    let n = p.0.len();
    if [p.1.len(), p.2.len(), p.3.len(), p.4.len()].iter().any(|&l| l != n) {
        return Err(PyValueError::new_err("partition arrays differ in length"));
    }
    let limit = p.5.as_ref().map(|s| s.len() as u32);
    for (i, &k) in p.0.iter().enumerate() {
        if !(wgl::READ..=wgl::APPEND).contains(&k) {
            return Err(PyValueError::new_err(format!("operation {i}: unknown kind {k}")));
        }
        if k == wgl::APPEND && limit.is_none() {
            return Err(PyValueError::new_err("append needs string values"));
        }
        if let Some(l) = limit {
            if p.1[i] >= l || p.6 >= l {
                return Err(PyValueError::new_err(format!("operation {i}: value id out of range")));
            }
        }
    }
    Ok(())
}

fn out(f: Found) -> FoundOut {
    let stuck = f.stuck();
    let (result, reason) = match f.outcome {
        Outcome::Valid => ("valid", String::new()),
        Outcome::Invalid => ("invalid", String::new()),
        Outcome::Unknown(why) => ("unknown", why),
    };
    (result.into(), f.explored, f.order, f.best_state, stuck, reason, f.text)
}

/// Search every partition; a result per partition, None for one left unsearched because
/// another was invalid (with `stop_on_invalid`).
#[pyfunction]
#[pyo3(signature = (parts, time_limit, max_states, max_bytes, threads, stop_on_invalid))]
fn search_many(
    py: Python<'_>,
    parts: Vec<PartIn>,
    time_limit: Option<f64>,
    max_states: usize,
    max_bytes: Option<usize>,
    threads: usize,
    stop_on_invalid: bool,
) -> PyResult<Vec<Option<FoundOut>>> {
    for p in &parts {
        check(p)?;
    }
    let parts = parts
        .into_iter()
        .map(|p| (Part { kind: p.0, a: p.1, b: p.2, starts: p.3, ends: p.4 }, p.5, p.6))
        .collect();
    Ok(run(py, parts, time_limit, max_states, max_bytes, threads, stop_on_invalid))
}

type PartRun = (Part, Option<Vec<String>>, u32);

fn run(
    py: Python<'_>,
    parts: Vec<PartRun>,
    time_limit: Option<f64>,
    max_states: usize,
    max_bytes: Option<usize>,
    threads: usize,
    stop_on_invalid: bool,
) -> Vec<Option<FoundOut>> {
    let deadline = time_limit.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let stop = AtomicBool::new(false);
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].0.kind.len()));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FoundOut>>> = Mutex::new(vec![None; parts.len()]);
    let work = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= order.len() || stop.load(Ordering::Relaxed) {
            return;
        }
        let i = order[k];
        let (part, strings, init) = &parts[i];
        let values = match strings {
            Some(strings) => Values::Strings(strings),
            None => Values::Ids,
        };
        let budget = Budget { deadline, max_states, max_bytes, stop: &stop };
        let found = wgl::search(part, values, *init, &budget);
        let stopped = matches!(&found.outcome, Outcome::Unknown(_)) && stop.load(Ordering::Relaxed);
        if stop_on_invalid && found.outcome == Outcome::Invalid {
            stop.store(true, Ordering::Relaxed);
        }
        if !stopped {
            results.lock().expect("no panics while held")[i] = Some(out(found));
        }
    };
    // A thread is worth starting only for a second partition of some size.
    let big = parts.iter().filter(|p| p.0.kind.len() >= 64).count();
    let threads = threads.clamp(1, big.max(1));
    py.detach(|| {
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(work);
            }
            work();
        })
    });
    results.into_inner().expect("no panics while held")
}

#[pymodule]
fn sdconform_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(search_many, m)?)?;
    m.add_function(wrap_pyfunction!(multi::check_multi_register, m)?)?;
    m.add_function(wrap_pyfunction!(check::check_ops, m)?)?;
    m.add_function(wrap_pyfunction!(txn::check_txn, m)?)?;
    m.add("KINDS", (wgl::READ, wgl::WRITE, wgl::CAS_OK, wgl::CAS_FAIL, wgl::CAS_UNKNOWN,
                    wgl::NOP, wgl::APPEND))?;
    Ok(())
}
