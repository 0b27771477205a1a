"""Causal consistency of a key-value register history whose written values are unique.

What it means. Two operations are causally ordered, a ⇝ b, when b could have been influenced
by a: a comes before b in the same session (a process; after an ``info`` a thread starts a new
one), or b is a read that returned the value a wrote (reads-from), or a chain of such steps
leads from a to b. Writes not related this way are concurrent, and replicas may apply them in
different orders. A store is causally consistent when every read agrees with that order: what a
process sees may lag, but never contradicts something already in its causal past. This is the
"causal memory" of Ahamad, Neiger, Burns, Kohli and Hutto (Distributed Computing 9(1), 1995),
where each process must be able to explain its own reads by some serial order of all writes
that respects causality; Jepsen's page on the model (jepsen.io/consistency/models/causal)
places it below sequential consistency and above the session guarantees (read-your-writes,
monotonic reads and writes, writes-follow-reads), which it implies.

What is checked. With unique values a read names the write it observed, so the causal order
can be built from the history alone, and a violation shows as one of the patterns Bouajjani,
Enea, Guerraoui and Hamza ("On verifying causal consistency", POPL 2017) list for it. The
anomaly kinds:

- ``causal-order-violated``: a read of key k returned w1's value (or the initial value) while
  another write w2 to k, with w1 ⇝ w2, is in the read's causal past: the read went back
  behind something it had to know about (their WriteCORead and WriteCOInitRead);
- ``thin-air-read``: a read returned a value no write to that key could have produced (never
  written, or written only by an operation that failed);
- ``cyclic-causal-order``: session order and reads-from form a cycle, e.g. a process read a
  value that it wrote only later (a session reading its own future).

These patterns characterise causal consistency exactly (the paper's CC); causal memory forbids
a few more (their WriteHBInitRead and CyclicHB, about the order one process saw concurrent
writes in), which this checker does not look for. So ``invalid`` always proves a violation of
causal memory, and ``valid`` means no causal-order anomaly of the kinds above.

Operations: ok reads; writes that may have happened (ok, ``info``, never completed); an ok
``cas`` ``[expected, new]`` reads ``expected`` and writes ``new`` (an ``info`` cas only may have
written). ``fail`` operations never happened. A value written twice to a key (or writing the
initial value) makes its reads ambiguous: they are skipped and counted, never guessed.

Method: a topological pass over session order + reads-from (a cycle is what is left), with a
vector clock per operation over the processes that write, so a ⇝ b is one comparison; a read is
checked against, per writing process, the latest write to its key in its causal past. Budgets:
``time_limit`` seconds and ``max_cells`` (operations times writing processes) give ``unknown``
with the reason when exceeded, never ``valid``.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from ..history import Completed, History, paused_gc
from .graph import sccs
from .verdict import Anomaly, Result, Verdict
from .version_order import hashable

NAME = "causal"
VIOLATED = "causal-order-violated"
THIN_AIR = "thin-air-read"
CYCLE = "cyclic-causal-order"
KINDS = (VIOLATED, THIN_AIR, CYCLE)
DEFAULT_MAX_CELLS = 20_000_000
_INITIAL = object()  # the source of a read of the initial value
_AMBIGUOUS = object()


@dataclass(slots=True, eq=False)
class _Op:
    c: Completed
    process: Hashable
    pos: int  # position in its session
    reads: tuple[Hashable, Any] | None = None  # (key, value) it observed
    writes: tuple[Hashable, Any] | None = None  # (key, value) it may have written
    source: Any = None  # the _Op it read from, or _INITIAL
    prev: _Op | None = None  # session predecessor
    succ: list[_Op] = field(default_factory=list)
    vc: list[int] | None = None


class _OutOfBudget(Exception):
    pass


def check_causal(
    history: History,
    *,
    time_limit: float | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    max_anomalies: int = 100,
) -> Verdict:
    """Check causal consistency; see the module docstring."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    with paused_gc():
        ops = _operations(history)
        found = _Found(max_anomalies)
        stats = _resolve(ops, history.meta.get("initial"), found)
        writers = {o.process for o in ops if o.writes is not None}
        stats.update(operations=len(ops), writing_processes=len(writers))
        cells = len(ops) * len(writers)
        if cells > max_cells:
            reason = (f"{len(ops)} operations times {len(writers)} writing processes = {cells} "
                      f"vector-clock cells exceed the budget of {max_cells}")
            return _verdict(found, stats, reason)
        try:
            order = _topological(ops, deadline)
            stats["in_cycles"] = _cycles(ops, order, found)
            _check_reads(order, {p: i for i, p in enumerate(writers)}, deadline, found, stats)
        except _OutOfBudget:
            return _verdict(found, stats, f"time limit of {time_limit}s reached")
    return _verdict(found, stats, None)


class CausalChecker:
    """The causal checker as a ``Checker``."""

    name = NAME

    def __init__(self, time_limit: float | None = None, max_cells: int = DEFAULT_MAX_CELLS):
        self.time_limit, self.max_cells = time_limit, max_cells

    def check(self, history: History) -> Verdict:
        return check_causal(history, time_limit=self.time_limit, max_cells=self.max_cells)


class _Found:
    def __init__(self, limit: int):
        self.limit = limit
        self.anomalies: list[Anomaly] = []
        self.counts = dict.fromkeys(KINDS, 0)

    def add(self, kind: str, key: Any, ops: list[_Op], explain: str) -> None:
        self.counts[kind] += 1
        if len(self.anomalies) < self.limit:
            indices = sorted({i for o in ops for i in o.c.indices})
            self.anomalies.append(Anomaly(kind, indices, explain, key))


def _operations(history: History) -> list[_Op]:
    """The operations that happened or may have, each chained to its session predecessor."""
    out: list[_Op] = []
    last: dict[Hashable, _Op] = {}
    for c in history.complete():
        f, t = c.f, c.type
        if f not in ("read", "write", "cas"):
            raise ValueError(f"the causal checker reads register histories (read, write, cas); "
                             f"operation {c.invoke.index} is {f!r}")
        if t == "fail" or (f == "read" and t != "ok"):
            continue
        key = hashable(c.key)
        o = _Op(c, c.process, 0)
        if f == "read":
            o.reads = (key, hashable(c.value))
        elif f == "write":
            o.writes = (key, hashable(c.invoke.value))
        else:
            if not (isinstance(c.invoke.value, list | tuple) and len(c.invoke.value) == 2):
                raise ValueError(f"cas {c.invoke.index} needs a value [expected, new], "
                                 f"got {c.invoke.value!r}")
            o.writes = (key, hashable(c.invoke.value[1]))
            if t == "ok":
                o.reads = (key, hashable(c.invoke.value[0]))
        prev = last.get(o.process)
        if prev is not None:
            o.prev, o.pos = prev, prev.pos + 1
            prev.succ.append(o)
        last[o.process] = o
        out.append(o)
    return out


def _resolve(ops: list[_Op], initial: Any, found: _Found) -> dict[str, Any]:
    """Point each read at the write it observed; report reads of values nobody wrote."""
    table: dict[tuple[Hashable, Any], Any] = {}
    for o in ops:
        if o.writes is not None:
            table[o.writes] = _AMBIGUOUS if o.writes in table else o
    stats: dict[str, Any] = {"reads": 0, "reads_checked": 0, "reads_skipped": {}}
    start = hashable(initial)
    for o in ops:
        if o.reads is None:
            continue
        stats["reads"] += 1
        key, value = o.reads
        src = table.get(o.reads)
        if src is _AMBIGUOUS or (src is not None and value == start):
            stats["reads_skipped"]["ambiguous"] = stats["reads_skipped"].get("ambiguous", 0) + 1
            o.reads = None
        elif src is not None and src is not o:
            o.source = src
            src.succ.append(o)
        elif value == start:
            o.source = _INITIAL
        else:
            found.add(THIN_AIR, key, [o], f"process {o.process} read {value!r} from {key!r}, "
                                          "a value no write to that key could have produced")
            o.reads = None
    return stats


def _topological(ops: list[_Op], deadline: float | None) -> list[_Op]:
    """Kahn's order over session order + reads-from; what a cycle blocks is left out."""
    waiting = {id(o): (o.prev is not None) + isinstance(o.source, _Op) for o in ops}
    ready = deque(o for o in ops if not waiting[id(o)])
    order: list[_Op] = []
    while ready:
        o = ready.popleft()
        order.append(o)
        if deadline is not None and len(order) % 1024 == 0 and time.monotonic() > deadline:
            raise _OutOfBudget
        for s in o.succ:
            waiting[id(s)] -= 1
            if not waiting[id(s)]:
                ready.append(s)
    return order


def _cycles(ops: list[_Op], order: list[_Op], found: _Found) -> int:
    """Report each cycle of the operations the topological pass could not place."""
    placed = {id(o) for o in order}
    left = [o for o in ops if id(o) not in placed]
    if not left:
        return 0
    number = {id(o): i for i, o in enumerate(left)}
    succ = [[number[id(s)] for s in o.succ if id(s) in number] for o in left]
    for comp in sccs(succ, range(len(left))):
        if len(comp) < 2:
            continue  # downstream of a cycle, not on one
        members = [left[i] for i in sorted(comp)]
        inside = {id(o) for o in members}
        readers = [o for o in members if isinstance(o.source, _Op) and id(o.source) in inside]
        shown = ", ".join(f"process {o.process} read {o.reads[1]!r} from {o.reads[0]!r} "
                          f"(written by process {o.source.process})"
                          for o in readers[:3] if o.reads is not None)
        found.add(CYCLE, members[0].reads[0] if members[0].reads else None, members,
                  f"session order and reads-from form a cycle of {len(members)} operations: "
                  f"{shown}; some read returned a value written only in its own future")
    return len(left)


def _check_reads(order: list[_Op], writer: dict[Hashable, int], deadline: float | None,
                 found: _Found, stats: dict[str, Any]) -> None:
    """Vector clocks in causal order; each read against the latest writes in its past."""
    width = len(writer)
    # Per key and writing process: positions of its writes, and the writes themselves.
    by_key: dict[Hashable, dict[int, tuple[list[int], list[_Op]]]] = {}
    for o in order:
        if o.writes is not None:
            pos, ws = by_key.setdefault(o.writes[0], {}).setdefault(writer[o.process], ([], []))
            pos.append(o.pos)
            ws.append(o)
    none = [-1] * width
    for n, o in enumerate(order):
        if deadline is not None and n % 1024 == 0 and time.monotonic() > deadline:
            raise _OutOfBudget
        vc = none if o.prev is None else o.prev.vc
        assert vc is not None
        if isinstance(o.source, _Op):
            assert o.source.vc is not None
            vc = list(map(max, vc, o.source.vc))
        if o.reads is not None:
            stats["reads_checked"] += 1
            _check_read(o, vc, by_key.get(o.reads[0], {}), writer, found)
        if o.writes is not None:
            vc = list(vc)
            vc[writer[o.process]] = o.pos
        o.vc = vc


def _check_read(r: _Op, vc: list[int], writes: dict[int, tuple[list[int], list[_Op]]],
                writer: dict[Hashable, int], found: _Found) -> None:
    assert r.reads is not None
    key, value = r.reads
    w1 = r.source
    for q, (positions, ws) in writes.items():
        i = bisect.bisect_right(positions, vc[q]) - 1
        if i < 0:
            continue
        w2 = ws[i]  # the latest write to the key by process q in the read's causal past
        if w2 is w1 or w2 is r:
            continue
        assert w2.vc is not None and w2.writes is not None
        if w1 is _INITIAL:
            found.add(VIOLATED, key, _chain(w2, r, writer),
                      f"process {r.process} read the initial value {value!r} from {key!r}, but "
                      f"the write of {w2.writes[1]!r} by process {w2.process} is in the read's "
                      "causal past")
            return
        if w2.vc[writer[w1.process]] >= w1.pos:
            found.add(VIOLATED, key, [*_chain(w1, w2, writer), *_chain(w2, r, writer)],
                      f"process {r.process} read {value!r} from {key!r}, but the write of "
                      f"{w2.writes[1]!r} by process {w2.process}, which causally follows the "
                      f"write of {value!r} by process {w1.process}, is in the read's causal "
                      "past")
            return


def _chain(a: _Op, b: _Op, writer: dict[Hashable, int]) -> list[_Op]:
    """A shortest causal path a ⇝ b (a a write), searched backwards from b through the
    operations whose vector clock has a in their past."""
    col = writer[a.process]
    parent: dict[int, _Op | None] = {id(b): None}
    queue = deque([b])
    while queue and id(a) not in parent:
        o = queue.popleft()
        for p in (o.prev, o.source):
            if isinstance(p, _Op) and id(p) not in parent and p.vc is not None \
                    and p.vc[col] >= a.pos:
                parent[id(p)] = o
                queue.append(p)
    path: list[_Op] = []
    step: _Op | None = a if id(a) in parent else None
    while step is not None:
        path.append(step)
        step = parent[id(step)]
    # Inside one session the order is plain: keep only where the chain enters and leaves it.
    return [o for i, o in enumerate(path) if i in (0, len(path) - 1)
            or path[i - 1].process != o.process or path[i + 1].process != o.process] or [a, b]


def _verdict(found: _Found, stats: dict[str, Any], out_of_budget: str | None) -> Verdict:
    total = sum(found.counts.values())
    details = {**stats, "anomaly_counts": found.counts}
    if total > len(found.anomalies):
        details["anomalies_truncated"] = total - len(found.anomalies)
    if total:
        result: Result = "invalid"
        reason = f"stopped early: {out_of_budget}" if out_of_budget else ""
        return Verdict(NAME, result, found.anomalies, details, reason)
    if out_of_budget:
        return Verdict(NAME, "unknown", details=details, reason=out_of_budget)
    if not stats.get("reads_checked"):
        why = ("no ok reads: nothing to check" if not stats["reads"]
               else f"none of the {stats['reads']} ok reads could be attributed to one write")
        return Verdict(NAME, "unknown", details=details, reason=why)
    return Verdict(NAME, "valid", details=details)
