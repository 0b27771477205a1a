"""The version order of one register key, as far as a history proves it: which write each
read observed, and when each write took effect. The session guarantees (``sessions.py``)
compare reads and writes by it.

Which write a read observed: a read's value names the write of that value to that key (the
initial value, ``history.meta["initial"]`` or ``None``, stands for a write before all others).
When a value was written more than once to a key, reads of it are ambiguous and are skipped,
never guessed; so are reads of a value nobody wrote (or that a read returned before its write
began), and reads of a write the rule below cannot place. ``details["reads_skipped"]`` counts
them by reason: ``ambiguous``, ``unattributed``, ``unordered``.

The order is only what the history proves. Each write gets an interval: it took effect after
``start`` and no later than ``end``; w1 provably precedes w2 when ``end(w1) < start(w2)``. The
rule that fills the intervals is chosen per key (``order="auto"``) and named in
``details["order"]``:

1. ``version``: ok completions carry ``version``, a number the database returned (a write's
   version, or the version a read saw). Both ends are the version; a read without its own
   version takes its write's; a write without one cannot be placed. Chosen when any ok read
   or write of the key has one.
2. ``realtime`` (otherwise): history indices. A write starts at its invocation and has taken
   effect by its ok completion, or by the completion of the first read that observed it,
   whichever is earlier (an ``info`` write has only the latter). This is a partial order:
   concurrent writes are never ordered, so never reported, and a numeric, increasing value
   is not taken as evidence of order. It assumes the store orders a write after every write
   that completed before it began; a store that does not (last-write-wins with skewed clocks)
   is exactly what these checks catch.
3. ``value``: only when the caller passes ``order="value"``: values are increasing numbers and
   the store orders writes by value (for instance last-write-wins timestamps equal to values);
   a value that is not a number cannot be placed.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ..history import Completed

INF = float("inf")
_SCALARS = frozenset((str, int, float, bool, type(None)))  # hashable as they are
_NOTHING = object()  # a write-like operation that wrote nothing a read can return
_MISSING = object()  # no write of the value a read returned


@dataclass(slots=True, eq=False)
class Write:
    """A write placed in the version order: it took effect after ``start`` and by ``end``."""

    op: Completed | None  # None: the initial value
    process: Hashable
    value: Any
    start: float
    end: float
    ok: bool = False
    acked: float = INF  # index of its ok completion
    bound_by: Completed | None = None  # the read whose completion set ``end``


@dataclass(slots=True, eq=False)
class Seen:
    """An ok read and the write it observed (``None``: not attributed, but it has a version)."""

    op: Completed
    process: Hashable
    write: Write | None
    start: float
    end: float
    version: float | None
    final: bool


def by_key(completed: list[Completed]) -> dict[Hashable, list[Completed]]:
    """Reads that returned and writes that may have happened, per key, in invocation order."""
    out: dict[Hashable, list[Completed]] = {}
    for c in completed:
        invoke, done = c.invoke, c.completion
        f = invoke.f
        if f == "read":
            if done is None or done.type != "ok":
                continue
        elif f not in ("write", "cas") or (done is not None and done.type == "fail"):
            continue
        key = invoke.key
        if key.__class__ not in _SCALARS:
            key = hashable(key)
        events = out.get(key)
        if events is None:
            out[key] = [c]
        else:
            events.append(c)
    return out


def rule_for(events: list[Completed], order: str) -> str:
    """The rule for one key's events: ``order`` itself unless it is ``"auto"``."""
    if order != "auto":
        return order
    for c in events:
        done = c.completion
        if done is not None and done.extra and version_of(c) is not None:
            return "version"
    return "realtime"


def place_writes(
    events: list[Completed], rule: str, initial: Any, stats: dict[str, Any]
) -> tuple[dict[Hashable, Write | None], list[Write | Completed]]:
    """The write of each value (None: written more than once), and the steps (ok writes, ok
    reads) in invocation order."""
    table: dict[Hashable, Write | None] = {
        hashable(initial): Write(None, None, initial, -INF, -INF)
    }
    steps: list[Write | Completed] = []
    writes = 0
    for c in events:
        invoke, done = c.invoke, c.completion
        if invoke.f == "read":
            steps.append(c)
            continue
        value = invoke.value if invoke.f == "write" else cas_new(invoke.value)
        if value is _NOTHING:
            continue
        acked = done.index if done is not None and done.type == "ok" else INF
        if rule == "realtime":
            w = Write(c, invoke.process, value, invoke.index, acked)
        else:
            v = version_of(c) if rule == "version" else number(value)
            w = Write(c, invoke.process, value, *((-INF, INF) if v is None else (v, v)))
        writes += 1
        token = value if value.__class__ in _SCALARS else hashable(value)
        table[token] = None if token in table else w
        if acked != INF:
            w.ok, w.acked = True, acked
            steps.append(w)
    stats["writes"] += writes
    return table, steps


def observe(
    steps: list[Write | Completed],
    table: dict[Hashable, Write | None],
    rule: str,
    stats: dict[str, Any],
) -> list[Write | Seen]:
    """Attribute each read to a write; under real time, reads also tighten writes' ``end``."""
    out: list[Write | Seen] = []
    skipped: dict[str, int] = stats["reads_skipped"]
    reads = checked = 0
    for step in steps:
        if isinstance(step, Write):
            out.append(step)
            continue
        reads += 1
        seen = attribute(step, table, rule)
        if isinstance(seen, str):
            skipped[seen] = skipped.get(seen, 0) + 1
            continue
        w = seen.write
        if rule == "realtime" and w is not None and w.op is not None:
            tighten(w, step)
        out.append(seen)
        checked += 1
    if rule == "realtime":
        for step2 in out:
            if isinstance(step2, Seen) and step2.write is not None:
                step2.end = step2.write.end  # now that every read has tightened it
    stats["reads"] += reads
    stats["reads_checked"] += checked
    return out


def attribute(c: Completed, table: dict[Hashable, Write | None], rule: str) -> Seen | str:
    """The observation an ok read makes, or the reason it cannot be used."""
    invoke, done = c.invoke, c.completion
    assert done is not None
    final = bool((invoke.extra or done.extra) and (invoke.get("final") or done.get("final")))
    value = done.value
    w = table.get(value if value.__class__ in _SCALARS else hashable(value), _MISSING)
    version = version_of(c) if rule == "version" else None
    if version is not None:
        attributed = w if isinstance(w, Write) else None
        return Seen(c, invoke.process, attributed, version, version, version, final)
    if w is None:
        return "ambiguous"
    if not isinstance(w, Write):
        return "unattributed"
    if w.start == -INF and w.end == INF:
        return "unordered"
    if rule == "realtime" and w.op is not None and done.index < w.start:
        return "unattributed"  # it returned the value before anyone wrote it: not ours to judge
    return Seen(c, invoke.process, w, w.start, w.end, None, final)


def tighten(w: Write, read: Completed) -> None:
    """A write has taken effect by the time a read that returned it completed."""
    assert read.completion is not None
    if read.completion.index < w.end:
        w.end, w.bound_by = read.completion.index, read


def cas_new(value: Any) -> Any:
    """The value a cas ``[expected, new]`` would leave in the register."""
    return value[1] if isinstance(value, list | tuple) and len(value) == 2 else _NOTHING


def version_of(c: Completed) -> float | None:
    if c.type != "ok" or c.completion is None:
        return None
    return number(c.completion.get("version"))


def number(v: Any) -> float | None:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def hashable(value: Any) -> Hashable:
    """A dict key for a value or a key, including unhashable ones decoded from JSON."""
    try:
        hash(value)
    except TypeError:
        return ("<unhashable>", repr(value))
    return value
