//! Reading an operation's fields without the generic attribute lookup per read.
//!
//! `getattr(op, "process")` on a class with the generic `__getattribute__` finds the name on
//! the type (its MRO) and, when that is a data descriptor (a `__slots__` member, as the fields
//! of `history.Operation` are), calls the descriptor's `__get__`: a type lookup and several calls
//! per read, a third of the pairing loop's time. `Fields` looks each name up once, for one type,
//! and calls the descriptor's `__get__` directly: the same value, the same errors. An object of
//! any other type, or a type where a name is not a data descriptor, is read with `getattr`.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use std::os::raw::c_int;

pub struct Fields<'py, const N: usize> {
    names: [Bound<'py, PyString>; N],
    ty: Option<Bound<'py, PyType>>,
    getters: Vec<(Bound<'py, PyAny>, ffi::descrgetfunc)>, // N of them when `ty` is Some
}

fn slot(ty: &Bound<'_, PyType>, which: c_int) -> *mut std::ffi::c_void {
    // SAFETY: PyType_GetSlot accepts any type object (static ones since Python 3.10).
    unsafe { ffi::PyType_GetSlot(ty.as_type_ptr(), which) }
}

impl<'py, const N: usize> Fields<'py, N> {
    /// The fields `names` of objects of `sample`'s type.
    pub fn new(names: [Bound<'py, PyString>; N], sample: Option<&Bound<'py, PyAny>>)
        -> PyResult<Self> {
        let mut fields = Fields { names, ty: None, getters: vec![] };
        let Some(sample) = sample else { return Ok(fields) };
        let ty = sample.get_type();
        let generic = ffi::PyObject_GenericGetAttr as *mut std::ffi::c_void;
        if slot(&ty, ffi::Py_tp_getattro) != generic {
            return Ok(fields); // a custom __getattribute__ or __getattr__
        }
        let mro = ty.getattr("__mro__")?;
        for name in &fields.names {
            let mut found = None;
            for base in mro.try_iter()? {
                if let Some(d) = base?.getattr("__dict__")?.get_item(name).ok() {
                    found = Some(d);
                    break;
                }
            }
            let Some(descr) = found else { return Ok(fields) };
            let dty = descr.get_type();
            let (get, set) = (slot(&dty, ffi::Py_tp_descr_get), slot(&dty, ffi::Py_tp_descr_set));
            if get.is_null() || set.is_null() {
                return Ok(fields); // not a data descriptor: the instance could hide it
            }
            // SAFETY: the tp_descr_get slot holds a descrgetfunc.
            let get: ffi::descrgetfunc = unsafe { std::mem::transmute(get) };
            fields.getters.push((descr, get));
        }
        fields.ty = Some(ty);
        Ok(fields)
    }

    /// Field `i` of `obj`, as `getattr(obj, names[i])`.
    #[inline]
    pub fn get(&self, obj: &Bound<'py, PyAny>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        if let Some(ty) = &self.ty {
            if unsafe { ffi::Py_TYPE(obj.as_ptr()) } == ty.as_type_ptr() {
                let (descr, get) = &self.getters[i];
                // SAFETY: `get` is the __get__ of `descr`, a data descriptor found on `obj`'s
                // exact type; it returns a new reference or NULL with an exception set.
                return unsafe {
                    let r = get(descr.as_ptr(), obj.as_ptr(), ty.as_ptr());
                    Bound::from_owned_ptr_or_err(obj.py(), r)
                };
            }
        }
        obj.getattr(&self.names[i])
    }
}
