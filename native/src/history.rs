//! The per-key partition loop, done once over a history's operations: pair each invocation
//! with its completion (`History.complete`), make each a step (`Model.prepare`), split them by
//! key (`linearizable.partitions`) and encode them for `wgl::search`, as `native.py` does from
//! Python objects. Anything unusual (a process invoking twice, a completion without an
//! invocation, an operation the model lacks, a malformed cas, a kv value that is not a string)
//! returns None, and the Python path takes over, with its errors.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::collections::HashMap;

use crate::attrs::Fields;
use crate::wgl::{self, mix, IdMap, Part};

pub struct Encoded<'py> {
    pub parts: Vec<(Part, Option<Vec<String>>, u32)>,
    pub completions: Vec<Vec<i64>>, // per partition, each operation's completion position or -1
    pub operations: usize,
    pub values: Vec<Py<PyAny>>, // register value ids -> values
    pub calls: Vec<Call<'py>>,
    pub members: Vec<Vec<usize>>, // per partition, each operation's call (an index into `calls`)
}

/// An invocation (its position, f, key, value) and its completion (position, type, value).
pub struct Call<'py> {
    pub pos: i64,
    pub f: Bound<'py, PyString>,
    pub key: Bound<'py, PyAny>,
    pub value: Bound<'py, PyAny>,
    pub done: Option<(i64, Bound<'py, PyString>, Bound<'py, PyAny>)>,
    pub op: Bound<'py, PyAny>,            // the invocation
    pub completion: Option<Bound<'py, PyAny>>,
}

pub(crate) fn scalar(v: &Bound<'_, PyAny>) -> bool {
    v.is_none()
        || v.is_exact_instance_of::<PyString>()
        || v.is_exact_instance_of::<PyInt>()
        || v.is_exact_instance_of::<PyBool>()
        || v.is_exact_instance_of::<PyFloat>()
}

/// `history.freeze`: scalars as they are, a list of scalars as a tuple here, anything else
/// through the Python function.
pub(crate) fn frozen<'py>(v: Bound<'py, PyAny>, freeze: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if scalar(&v) {
        return Ok(v);
    }
    if let Ok(list) = v.cast::<PyList>() {
        if list.iter().all(|x| scalar(&x)) {
            return Ok(PyTuple::new(v.py(), list.iter())?.into_any());
        }
    }
    freeze.call1((v,))
}

fn text(v: &Bound<'_, PyAny>) -> Option<String> {
    if v.is_exact_instance_of::<PyString>() {
        v.cast::<PyString>().ok()?.to_str().ok().map(str::to_owned)
    } else {
        None
    }
}

/// kind 0: registers (`etcd`: a failed cas means the compare failed); kind 1: the string kv;
/// kind 2: the mutex (acquire: a cas false -> true, release: a cas true -> false).
pub fn encode<'py>(
    py: Python<'py>,
    ops: &Bound<'py, PyAny>,
    kind: u8,
    etcd: bool,
    init: &Bound<'py, PyAny>,
    freeze: &Bound<'py, PyAny>,
    nemesis: &Bound<'py, PyAny>,
) -> PyResult<Option<Encoded<'py>>> {
    let Some(calls) = pair(py, ops, nemesis)? else { return Ok(None) };
    let keys = PyDict::new(py);
    let ids = PyDict::new(py);
    let mut values: Vec<Py<PyAny>> = Vec::new();
    let mut vid = |v: &Bound<'py, PyAny>| -> PyResult<u32> {
        if let Some(i) = ids.get_item(v)? {
            return i.extract();
        }
        let i = values.len() as u32;
        ids.set_item(v, i)?;
        values.push(v.clone().unbind());
        Ok(i)
    };
    let mut parts: Vec<(Part, HashMap<String, u32>)> = Vec::new();
    let false_ = PyBool::new(py, false);
    let mut operations = 0;
    let mut completions: Vec<Vec<i64>> = Vec::new();
    // the mutex's states, ids in the order the per-operation lookups gave them before
    let mutex = if kind == 2 && !calls.is_empty() {
        (vid(PyBool::new(py, true).as_any())?, vid(false_.as_any())?)
    } else {
        (0, 0)
    };
    let mut last_key: Option<(&Bound<'py, PyAny>, usize)> = None; // consecutive same keys
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (ci, c) in calls.iter().enumerate() {
        let f = c.f.to_str()?;
        let fs: &[&str] = match kind {
            0 => &["read", "write", "cas"],
            1 => &["read", "write", "append"],
            _ => &["acquire", "release"],
        };
        if !fs.contains(&f) {
            return Ok(None);
        }
        let t = match &c.done {
            Some(d) => d.1.to_str()?,
            None => "info",
        };
        let cas_output = etcd && f == "cas";
        // out: None = UNKNOWN
        let out: Option<Bound<'py, PyAny>> = match t {
            "fail" if !cas_output => continue, // it never happened
            "fail" => Some(false_.to_owned().into_any()),
            "ok" if cas_output => Some(PyBool::new(py, true).to_owned().into_any()),
            "ok" => Some(frozen(c.done.as_ref().expect("ok has a completion").2.clone(), freeze)?),
            _ => None,
        };
        let arg = frozen(c.value.clone(), freeze)?;
        let end = match (&out, &c.done) {
            (Some(_), Some(d)) => d.0,
            _ => -1,
        };
        let cached = last_key.filter(|(key, _)| key.is(&c.key)).map(|(_, k)| k);
        let k = match cached {
            Some(k) => k,
            None => match keys.get_item(&c.key)? {
                Some(k) => k.extract::<usize>()?,
                None => {
                    keys.set_item(&c.key, parts.len())?;
                    completions.push(vec![]);
                    members.push(vec![]);
                    let mut strings = HashMap::new();
                    if kind == 1 {
                        let Some(s) = text(init) else { return Ok(None) };
                        strings.insert(s, 0);
                    }
                    parts.push((Part { kind: vec![], a: vec![], b: vec![], starts: vec![], ends: vec![] },
                                strings));
                    parts.len() - 1
                }
            },
        };
        last_key = Some((&c.key, k));
        let (part, strings) = &mut parts[k];
        let (kd, a, b) = if kind == 2 {
            let (held, free) = mutex;
            let kd = if out.is_none() { wgl::CAS_UNKNOWN } else { wgl::CAS_OK };
            if f == "acquire" { (kd, free, held) } else { (kd, held, free) }
        } else if kind == 0 {
            match (f, &out) {
                ("read", None) => (wgl::NOP, 0, 0),
                ("read", Some(o)) => (wgl::READ, vid(o)?, 0),
                ("write", _) => (wgl::WRITE, vid(&arg)?, 0),
                _ => {
                    let Ok(pair) = arg.cast::<PyTuple>() else { return Ok(None) };
                    if pair.len() != 2 {
                        return Ok(None);
                    }
                    let (e, n) = (vid(&pair.get_item(0)?)?, vid(&pair.get_item(1)?)?);
                    let kd = match &out {
                        None => wgl::CAS_UNKNOWN,
                        Some(o) if o.is(&false_) => wgl::CAS_FAIL,
                        Some(_) => wgl::CAS_OK,
                    };
                    (kd, e, n)
                }
            }
        } else {
            let (kd, v) = match (f, &out) {
                ("read", None) => (wgl::NOP, 0),
                ("read", Some(_)) => (wgl::READ, 1),
                ("write", _) => (wgl::WRITE, 2),
                _ => (wgl::APPEND, 2),
            };
            let s = match v {
                0 => None,
                1 => text(out.as_ref().expect("read ok")),
                _ => text(&arg),
            };
            let id = match (v, s) {
                (0, _) => 0,
                (_, None) => return Ok(None),
                (_, Some(s)) => {
                    let n = strings.len() as u32;
                    *strings.entry(s).or_insert(n)
                }
            };
            (kd, id, 0)
        };
        part.kind.push(kd);
        part.a.push(a);
        part.b.push(b);
        part.starts.push(c.pos);
        part.ends.push(end);
        completions[k].push(c.done.as_ref().map_or(-1, |d| d.0));
        members[k].push(ci);
        operations += 1;
    }
    let init_id = if kind != 1 { vid(init)? } else { 0 };
    let parts = parts
        .into_iter()
        .map(|(p, strings)| {
            if kind != 1 {
                return (p, None, init_id);
            }
            let mut table = vec![String::new(); strings.len()];
            for (s, i) in strings {
                table[i as usize] = s;
            }
            (p, Some(table), 0)
        })
        .collect();
    Ok(Some(Encoded { parts, completions, operations, values, calls, members }))
}

/// Pair each client invocation with its completion (`History.complete`), in invocation order;
/// None when the history is unusual (a process invoking twice, a completion without an
/// invocation, a type or f that is not a string): the Python path then says what is wrong.
pub(crate) fn pair<'py>(
    py: Python<'py>,
    ops: &Bound<'py, PyAny>,
    nemesis: &Bound<'py, PyAny>,
) -> PyResult<Option<Vec<Call<'py>>>> {
    let names = [intern!(py, "process"), intern!(py, "type"), intern!(py, "f"),
                 intern!(py, "key"), intern!(py, "value")].map(|n| n.clone());
    let mut fields: Option<Fields<5>> = None;
    let (a_process, a_type, a_f, a_key, a_value) = (0, 1, 2, 3, 4);
    // open invocations by process: integer processes in a Rust map, any other in a dict
    let open = PyDict::new(py);
    // keyed by mix(process), a bijection, so that the identity hasher spreads them
    let mut open_int: IdMap = IdMap::with_capacity_and_hasher(64, Default::default());
    let mut calls: Vec<Call> = Vec::new();
    for (pos, op) in ops.try_iter()?.enumerate() {
        let op = op?;
        if fields.is_none() {
            fields = Some(Fields::new(names.clone(), Some(&op))?);
        }
        let at = fields.as_ref().expect("set above");
        let process = at.get(&op, a_process)?;
        let int = if process.is_exact_instance_of::<PyInt>() {
            match process.extract::<i64>() {
                Ok(p) => Some(p),
                Err(_) => return Ok(None),
            }
        } else {
            None
        };
        if int.is_none() && process.eq(nemesis)? {
            continue;
        }
        let Ok(typ) = at.get(&op, a_type)?.cast_into::<PyString>() else { return Ok(None) };
        if typ.to_str()? == "invoke" {
            let busy = match int {
                Some(p) => open_int.insert(mix(p as u64), calls.len() as u32).is_some(),
                None => {
                    let busy = open.contains(&process)?;
                    open.set_item(&process, calls.len())?;
                    busy
                }
            };
            if busy {
                return Ok(None);
            }
            let Ok(f) = at.get(&op, a_f)?.cast_into::<PyString>() else { return Ok(None) };
            calls.push(Call { pos: pos as i64, f, key: at.get(&op, a_key)?,
                              value: at.get(&op, a_value)?, done: None, op, completion: None });
        } else {
            let i = match int {
                Some(p) => open_int.remove(&mix(p as u64)).map(|i| i as usize),
                None => match open.get_item(&process)? {
                    Some(i) => {
                        open.del_item(&process)?;
                        Some(i.extract::<usize>()?)
                    }
                    None => None,
                },
            };
            let Some(i) = i else { return Ok(None) };
            calls[i].done = Some((pos as i64, typ, at.get(&op, a_value)?));
            calls[i].completion = Some(op);
        }
    }
    Ok(Some(calls))
}
