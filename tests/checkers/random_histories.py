"""Hypothesis strategies for small, mostly well-behaved histories with the odd fault in them:
register, set and queue workloads, for tests that two paths of a checker agree.

Each history is an interleaving of a few processes (a process completes its open operation
before it invokes again), with some operations that fail, time out (``info``) or never
complete, a partition's nemesis events, reads marked ``final`` at the end, and answers that
are mostly what a correct store would give, sometimes not (a stale or unknown value, a lost or
duplicated element), so that both valid and violating histories come out.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pytest_sdconform.history import NEMESIS, History, Operation

OUTCOMES = ("ok", "ok", "ok", "ok", "fail", "info")


class _Builder:
    def __init__(self) -> None:
        self.ops: list[Operation] = []

    def add(self, process: Any, typ: str, f: str, key: Any, value: Any, extra: Any = None) -> None:
        n = len(self.ops)
        self.ops.append(Operation(n, n * 10, process, typ, f, key, value, extra=extra))


@st.composite
def histories(draw: st.DrawFn, workload: str) -> History:
    """A history of the ``register``, ``set`` or ``queue`` workload (see the module docstring)."""
    b = _Builder()
    procs = draw(st.integers(1, 4))
    keys: list[Any] = ["a", "b"] + (["c"] if draw(st.booleans()) else [])
    state: dict[Any, Any] = {}  # register: value per key; set: elements; queue: pending
    opened: dict[int, tuple[str, Any, Any]] = {}
    counter = iter(range(1, 10_000))
    fault = draw(st.sampled_from(["none", "healed", "open"]))
    steps = draw(st.integers(0, 40))
    for step in range(steps):
        if fault != "none" and step == steps // 3:
            b.add(NEMESIS, "invoke", "partition-start", None, None)
            b.add(NEMESIS, "info", "partition-start", None, None)
        if fault == "healed" and step == 2 * steps // 3:
            b.add(NEMESIS, "info", "partition-stop", None, None)
        p = draw(st.integers(0, procs - 1))
        if p not in opened:
            f, key, value = _invocation(draw, workload, keys, counter)
            opened[p] = (f, key, value)
            b.add(p, "invoke", f, key, value)
            continue
        f, key, value = opened.pop(p)
        typ = draw(st.sampled_from(OUTCOMES))
        out, extra = _completion(draw, workload, f, key, value, typ, state)
        b.add(p, typ, f, key, out, extra)
    replicas = draw(st.sampled_from((0, 1, 1, 2)))  # final reads per key (one per replica)
    for key in keys * replicas:  # final reads, after everything else
        p = 100 + len(b.ops)
        f = {"register": "read", "set": "read", "queue": "poll"}[workload]
        b.add(p, "invoke", f, key, None, {"final": True})
        typ = draw(st.sampled_from(("ok", "ok", "ok", "info", "fail")))
        out, _ = _completion(draw, workload, f, key, None, typ, state)
        b.add(p, typ, f, key, out, {"final": True})
    return History(b.ops)


def _invocation(draw: st.DrawFn, workload: str, keys: list[Any], counter: Any) -> tuple:
    key = draw(st.sampled_from(keys))
    if workload == "register":
        f = draw(st.sampled_from(("read", "read", "write", "write", "cas")))
        value: Any = None
        if f == "write":
            value = draw(st.one_of(st.just(next(counter)), st.integers(0, 3), st.just([1])))
        elif f == "cas":
            value = draw(st.one_of(st.just([0, next(counter)]), st.just("bad")))
        return f, key, value
    if workload == "set":
        f = draw(st.sampled_from(("read", "add", "add", "append", "write")))
        value = None if f == "read" else draw(st.one_of(st.just(next(counter)), st.integers(0, 2)))
        return f, key, value
    f = draw(st.sampled_from(("poll", "dequeue", "send", "send", "enqueue")))
    value = None
    if f in ("send", "enqueue"):
        value = draw(st.one_of(st.just(next(counter)), st.integers(0, 2)))
    return f, key, value


def _completion(
    draw: st.DrawFn, workload: str, f: str, key: Any, value: Any, typ: str, state: dict
) -> tuple[Any, Any]:
    """The completion's value and extra fields; the state moves when the operation happened
    (ok, or a coin's throw for info)."""
    happened = typ == "ok" or (typ == "info" and draw(st.booleans()))
    if workload == "register":
        versioned = draw(st.integers(0, 29)) == 7  # rare: most keys stay in real-time order
        extra = {"version": draw(st.integers(0, 5))} if versioned else None
        older = state.setdefault(("older", key), [None])  # what the key held before
        if f in ("write", "cas") and happened and (f == "write" or isinstance(value, list)):
            older.append(state.get(key))
            state[key] = value if f == "write" else value[1]
        if f != "read":
            return value, extra
        if typ != "ok":
            return None, None
        good, stale = state.get(key), st.sampled_from(older)  # a stale read breaks RYW or MR
        return draw(st.one_of(st.just(good), st.just(good), stale, st.integers(0, 3))), extra
    if workload == "set":
        elements = state.setdefault(key, [])
        if f != "read":
            if happened:
                elements.append(value)
            return value, None
        if typ != "ok":
            return None, None
        shown = list(elements)
        if shown and draw(st.integers(0, 5)) == 0:
            shown.pop(draw(st.integers(0, len(shown) - 1)))  # a lost element
        if draw(st.integers(0, 7)) == 0:
            shown.append(draw(st.integers(50, 52)))  # a phantom
        return draw(st.one_of(st.just(shown), st.just(shown), st.just(shown[-1:] or None))), None
    pending = state.setdefault(key, [])
    if f in ("send", "enqueue"):
        if happened:
            pending.append(value)
        return value, None
    if typ != "ok":
        return None, None
    if f == "dequeue":
        return (pending.pop(0) if pending else None), None
    batch = pending[: draw(st.integers(0, len(pending)))]
    del pending[: len(batch)]
    if batch and draw(st.integers(0, 6)) == 0:
        batch.append(batch[0])  # a duplicate
    if draw(st.integers(0, 12)) == 0:
        batch.append(77)  # never sent
    triples = [[key, i, m] for i, m in enumerate(batch)]
    if draw(st.integers(0, 150)) == 77:  # not 0, which Hypothesis draws often
        triples.append(["bad"])  # malformed
    return triples, None
