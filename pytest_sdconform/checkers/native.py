"""The compiled search (``native/``, the ``sdconform_native`` extension) when it is built.

``wgl.py`` stays the reference; the Rust crate runs the same Wing-Gong-Lowe search step for
step (same event order, forced steps, cache and deepest configuration), on threads without the
GIL, for the models whose states it can hold as small integers: the registers (``register``,
``cas-register``, ``etcd-cas-register``: values interned), the mutex (as a register of
booleans), the key-value store whose values are strings (``kv``, strings interned in Rust) and
the multi-register (``multi-register``: each state's values interned, native/src/multi.rs).
Any other model, or a history whose values do not fit (a list appended to a string, keys of
mixed types), is searched by ``wgl.py``.

``engine``: ``"native"`` (an error when the extension is not built), ``"python"``, or None for
native when present, otherwise Python with a one-line notice (``NOTICE``).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, cast, overload

from ..history import NEMESIS, Completed, History, Operation, freeze
from .models import UNKNOWN, Model, MultiRegisterStep, Step, kv_step, mutex_step, register_step
from .wgl import MemoryBudget, Partition, SearchResult

ENTRY_POINTS = ("search_many", "check_ops", "check_multi_register", "check_txn")


def usable(core: Any) -> Any:
    """The compiled core when it holds every entry point this package calls; None for a build
    older than this package (rebuilt by ./bootstrap.sh), which is then not used at all."""
    return core if all(hasattr(core, f) for f in ENTRY_POINTS) else None


_core: Any
try:
    _core = usable(importlib.import_module("sdconform_native"))
except ImportError:  # not built: the pure-Python search
    _core = None

ENGINES = ("native", "python")
NOTICE = (
    "sdconform: the compiled checker core is not built, or is older than this package "
    "(./bootstrap.sh builds it when cargo is installed); checking with the pure-Python search"
)
READ, WRITE, CAS_OK, CAS_FAIL, CAS_UNKNOWN, NOP, APPEND = range(1, 8)
_noticed = False
CPUS = os.cpu_count() or 1


def available() -> bool:
    return _core is not None


def supports(model: Model) -> bool:
    if isinstance(model.step, MultiRegisterStep):
        return True
    return model.step in (register_step, mutex_step) or (
        model.step is kv_step and isinstance(model.init, str)
    )


def choose(engine: str | None, model: Model | None = None) -> str:
    """The engine that searches ``model`` (None: the list-append checker, ``txn.py``): ``native``
    only when built and the model is one it holds; an explicit ``native`` without the
    extension is an error, the default a notice."""
    global _noticed
    if engine not in (None, *ENGINES):
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    if engine == "python":
        return "python"
    if _core is None:
        if engine == "native":
            raise ValueError("engine 'native': the compiled core is not built (./bootstrap.sh)")
        if not _noticed:
            _noticed = True
            print(NOTICE, file=sys.stderr)
        return "python"
    return "native" if model is None or supports(model) else "python"


class _Unfit(Exception):
    """A partition whose values the compiled search cannot hold."""


def _register(part: Partition, ids: dict[Any, int]) -> tuple[list[int], list[int], list[int]]:
    kinds, a, b = [], [], []

    def vid(v: Any) -> int:
        return ids.setdefault(v, len(ids))

    for f, arg, out in part.steps:
        if f == "read":
            kinds.append(NOP if out is UNKNOWN else READ)
            a.append(0 if out is UNKNOWN else vid(out))
            b.append(0)
        elif f == "write":
            kinds.append(WRITE)
            a.append(vid(arg))
            b.append(0)
        else:  # cas (expected, new): out False (compare failed), UNKNOWN, or else swapped
            kinds.append(CAS_FAIL if out is False else CAS_UNKNOWN if out is UNKNOWN else CAS_OK)
            a.append(vid(arg[0]))
            b.append(vid(arg[1]))
    return kinds, a, b


def _kv(part: Partition, init: str) -> tuple[list[int], list[int], list[int], list[str]]:
    ids: dict[str, int] = {init: 0}
    kinds, a = [], []
    for f, arg, out in part.steps:
        v = arg if f != "read" else (init if out is UNKNOWN else out)
        if type(v) is not str:
            raise _Unfit(f"{f} of a {type(v).__name__}")
        kinds.append(NOP if f == "read" and out is UNKNOWN else
                     READ if f == "read" else WRITE if f == "write" else APPEND)
        a.append(ids.setdefault(v, len(ids)))
    return kinds, a, [0] * len(kinds), list(ids)


def run_searches(
    parts: list[Partition],
    model: Model,
    deadline: float | None,
    max_states: int,
    stop_on_invalid: bool,
    memory: MemoryBudget,
) -> dict[int, SearchResult] | None:
    """Search every partition natively; None when one does not fit (wgl.py searches them).
    The mutex and the multi-register go through ``search_history`` only."""
    assert _core is not None and supports(model)
    if model.step is mutex_step or isinstance(model.step, MultiRegisterStep):
        return None
    ids: dict[Any, int] = {}
    values: list[Any] = []
    encoded: list[tuple[Any, ...]] = []
    try:
        for p in parts:
            starts = p.starts
            ends = [-1 if e is None else e for e in p.ends]
            if model.step is register_step:
                kinds, a, b = _register(p, ids)
                encoded.append((kinds, a, b, starts, ends, None, ids.setdefault(model.init,
                                                                               len(ids))))
            else:
                kinds, a, b, strings = _kv(p, model.init)
                encoded.append((kinds, a, b, starts, ends, strings, 0))
    except _Unfit:
        return None
    values = list(ids)
    threads = min(CPUS, len(parts)) or 1
    share = max(1, (memory.limit - memory.used) // threads)
    left = None if deadline is None else deadline - time.monotonic()
    found = _core.search_many(encoded, left, max_states, share, threads, stop_on_invalid)
    return _results(found, values if model.step is register_step else None)


def search_history(
    history: History,
    model: Model,
    deadline: float | None,
    max_states: int,
    stop_on_invalid: bool,
    memory: MemoryBudget,
) -> tuple[int, int, dict[int, SearchResult], dict[int, Partition]] | None:
    """The whole check in the compiled core, from pairing to searches (the per-key partition
    loop included): (partitions, operations, results by partition, in ``partitions()``'s
    order, and the ``Partition`` of each not found valid, for its evidence). None when the
    history needs the Python path (native/src/history.rs says when)."""
    assert _core is not None and supports(model)
    if isinstance(model.step, MultiRegisterStep):
        return _multi_register(history, model, deadline, max_states, memory)
    kind = 0 if model.step is register_step else 1 if model.step is kv_step else 2
    etcd = "cas" in model.fail_is_output
    threads = CPUS
    share = max(1, (memory.limit - memory.used) // threads)
    left = None if deadline is None else deadline - time.monotonic()
    got = _core.check_ops(history.ops, kind, etcd, model.init, freeze, NEMESIS, left,
                          max_states, share, threads, stop_on_invalid)
    if got is None:
        return None
    n_parts, n_ops, found, values, places = got
    results = _results(found, None if kind == 1 else values)
    parts = {}
    for i, key, starts, completions, ends, hints in places:
        ops = _Paired(history.ops, starts, completions)
        parts[i] = Partition(key, cast(list[Completed], ops),
                             cast(list[Step], _Prepared(ops, model)), starts, ends)
        if hints is not None:  # what the evidence reads, computed in the compiled loop
            results[i].prefix, results[i].changers, results[i].after = hints
    return n_parts, n_ops, results, parts


class _Paired(Sequence[Completed]):
    """A partition's operations from their positions (completion -1: none), each paired when
    first read: the evidence reads a few of them (the hints spare it the rest)."""

    def __init__(self, ops: list[Operation], starts: list[int], completions: list[int]):
        self.ops, self.starts, self.completions = ops, starts, completions
        self.made: dict[int, Completed] = {}

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, i: int) -> Completed: ...
    @overload
    def __getitem__(self, i: slice) -> list[Completed]: ...
    def __getitem__(self, i: int | slice) -> Completed | list[Completed]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        c = self.made.get(i)
        if c is None:
            e = self.completions[i]
            c = self.made[i] = Completed(self.ops[self.starts[i]], None if e < 0 else self.ops[e])
        return c


class _Prepared(Sequence[Step]):
    """Each operation's step (``Model.prepare``), made when first read."""

    def __init__(self, ops: Sequence[Completed], model: Model):
        self.ops, self.model = ops, model

    def __len__(self) -> int:
        return len(self.ops)

    @overload
    def __getitem__(self, i: int) -> Step: ...
    @overload
    def __getitem__(self, i: slice) -> list[Step]: ...
    def __getitem__(self, i: int | slice) -> Step | list[Step]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        prepared = self.model.prepare(self.ops[i])
        assert prepared is not None  # the compiled loop kept it
        return prepared[1]


def _partition(history: History, model: Model, starts: list[int],
               completions: list[int]) -> Partition:
    """The ``Partition`` of operations the compiled loop kept, at these positions (completion
    -1: none), for the evidence of a search that did not end valid."""
    ops = history.ops
    part = Partition(None, starts=starts)
    for s, e in zip(starts, completions, strict=True):
        c = Completed(ops[s], None if e < 0 else ops[e])
        prepared = model.prepare(c)
        assert prepared is not None  # the compiled loop kept it
        part.key, step = prepared
        part.ops.append(c)
        part.steps.append(step)
        part.ends.append(None if step[2] is UNKNOWN or e < 0 else e)
    return part


def _multi_register(
    history: History, model: Model, deadline: float | None, max_states: int,
    memory: MemoryBudget,
) -> tuple[int, int, dict[int, SearchResult], dict[int, Partition]] | None:
    """``search_history`` for the multi-register: one partition, states as the model's sorted
    (key, value) items."""
    assert _core is not None and isinstance(model.step, MultiRegisterStep)
    left = None if deadline is None else deadline - time.monotonic()
    got = _core.check_multi_register(history.ops, model.step.init, freeze, NEMESIS, left,
                                     max_states, max(1, memory.limit - memory.used))
    if got is None:
        return None
    n_ops, found, best, starts, completions = got
    if n_ops == 0:  # no partition, as linearizable.partitions() finds none
        return 0, 0, {}, {}
    found = (*found[:3], 0, *found[4:])  # the deepest state: ``best``, sent as items
    result = _results([found], [tuple(sorted(best))])
    parts = {} if found[0] == "valid" else {0: _partition(history, model, starts, completions)}
    return 1, n_ops, result, parts


def _results(found: list[Any], values: list[Any] | None) -> dict[int, SearchResult]:
    done: dict[int, SearchResult] = {}
    for i, r in enumerate(found):
        if r is None:
            continue
        if len(r) == 8:  # check_ops: the bitset built in Rust
            result, explored, best, state_id, stuck, reason, text, order = r
        else:
            result, explored, order, state_id, stuck, reason, text = r
        if result == "valid":
            done[i] = SearchResult("valid", explored)
            continue
        if len(r) == 7:
            best = 0
            for op in order:
                best |= 1 << op
        state = None if stuck is None else text if values is None else values[state_id]
        done[i] = SearchResult(result, explored, best, state, stuck, reason, ordered=order)
    return done


def check_txn(
    history: History, realtime: bool, process_order: bool, max_reports: int
) -> tuple[int, int, list[Any], list[Any], list[Any]] | None:
    """The list-append checker (``txn.py``) in the compiled core, native/src/txn.rs:
    (transactions, committed, anomaly counts by kind, the records kept for reports, where each
    transaction they name is), or None for a history it leaves to the Python path."""
    assert _core is not None
    found: tuple[int, int, list[Any], list[Any], list[Any]] | None = _core.check_txn(
        history.ops, realtime, process_order, max_reports
    )
    return found
