"""Session guarantees (Terry et al. 1994) checked per process and per key on a register workload.

The four guarantees, and the anomaly kinds reported when one is broken:

- ``read-your-writes``: after process p's ok write w, p never reads a value older than w.
- ``monotonic-reads``: once p has read w1, p never reads a value older than w1.
- ``monotonic-writes``: p's ok writes w1 then w2 take effect in that order.
- ``writes-follow-reads``: if p read w1 and then wrote w2, w2 takes effect after w1.

A session is a process: after an ``info`` the thread takes a new process id, so a session
never outlives an operation with an unknown outcome. ``fail`` operations never happened and
are ignored. An ``info`` or never-completed write may have happened, so a read may observe
it, but it is never "your write" for read-your-writes nor w1/w2 of monotonic writes. An ok
``cas`` (value ``[expected, new]``) counts as a write of ``new``; its read half is not checked.

Which write a read observed: a read's value names the write of that value to that key (the
initial value, ``history.meta["initial"]`` or ``None``, stands for a write before all others).
When a value was written more than once to a key, reads of it are ambiguous and are skipped,
never guessed; so are reads of a value nobody wrote (or that a read returned before its write
began), and reads of a write the rule below cannot place. ``details["reads_skipped"]`` counts
them by reason: ``ambiguous``, ``unattributed``, ``unordered``.

"Older" is a version order, and only what the history proves is reported. Each write gets an
interval: it took effect after ``start`` and no later than ``end``; w1 provably precedes w2
when ``end(w1) < start(w2)``. The rule that fills the intervals is chosen per key
(``order="auto"``) and named in ``details["order"]``:

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

Read-your-writes and monotonic reads compare a read with the session's latest write or read.
Monotonic writes and writes-follow-reads are only checked where the order is known (versions,
or ``order="value"``): under the real-time rule a session orders its own w1 before w2 anyway,
and nothing a black box sees proves the store applied them the other way round. A process
that observes w2 and later w1 broke monotonic reads (reported as such); a final read that
returns w1 may mean w2 was lost (the lost-writes checker's business) rather than reordered. So
with real-time order only, these two guarantees are ``unknown`` in ``details["guarantees"]``
(with the reason in ``details["unchecked"]``), never ``valid``.

Runs in time linear in the history: per process and key only the latest write and the latest
observation (highest ``start``) are kept, never a scan of the writes for each read. History
indices must increase in file order (they are compared as real time); a history that breaks
this, or ``History.complete``'s pairing, raises ``HistoryError``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..history import Completed, History, paused_gc
from .verdict import Anomaly, Result, Verdict

RYW = "read-your-writes"
MR = "monotonic-reads"
MW = "monotonic-writes"
WFR = "writes-follow-reads"
GUARANTEES = (RYW, MR, MW, WFR)
ORDERS = ("auto", "version", "realtime", "value")

_INF = float("inf")
_ORDER_NAMES = {"realtime": "real-time order", "version": "version order", "value": "value order"}
_NOTHING = object()  # a write-like operation that wrote nothing a read can return
_MISSING = object()  # no write of the value a read returned


@dataclass(slots=True, eq=False)
class _Write:
    """A write placed in the version order: it took effect after ``start`` and by ``end``."""

    op: Completed | None  # None: the initial value
    process: Hashable
    value: Any
    start: float
    end: float
    ok: bool = False
    acked: float = _INF  # index of its ok completion
    bound_by: Completed | None = None  # the read whose completion set ``end``


@dataclass(slots=True, eq=False)
class _Seen:
    """An ok read and the write it observed (``None``: not attributed, but it has a version)."""

    op: Completed
    process: Hashable
    write: _Write | None
    start: float
    end: float
    version: float | None
    final: bool


@dataclass(slots=True)
class _Session:
    """One process on one key so far: its latest write and its latest observation."""

    write: _Write | None = None
    seen: _Seen | None = None


class _Findings:
    """Anomalies of the wanted kinds, kept up to a limit but all counted."""

    def __init__(self, wanted: Sequence[str], limit: int):
        self.wanted = frozenset(wanted)
        self.limit = limit
        self.anomalies: list[Anomaly] = []
        self.counts = dict.fromkeys(wanted, 0)

    def add(
        self, kind: str, key: Any, parts: Iterable[Completed | None], explain: Callable[[], str]
    ) -> None:
        """Count one anomaly; keep it (and only then word it) while under the limit."""
        if kind not in self.wanted:
            return
        self.counts[kind] += 1
        if len(self.anomalies) < self.limit:
            ops = sorted({i for c in parts if c is not None for i in c.indices})
            self.anomalies.append(Anomaly(kind, ops, explain(), key))


def check_sessions(
    history: History,
    *,
    guarantees: Sequence[str] = GUARANTEES,
    order: str = "auto",
    max_anomalies: int = 1000,
) -> Verdict:
    """Check the session guarantees named in ``guarantees``; see the module docstring.

    ``order`` is ``"auto"`` (per key: versions when the database returned them, else real
    time), or forces ``"version"``, ``"realtime"`` or ``"value"``. At most ``max_anomalies``
    anomalies are kept; all are counted in ``details["anomaly_counts"]``.
    """
    if not guarantees or any(g not in GUARANTEES for g in guarantees):
        raise ValueError(f"guarantees must be a non-empty subset of {GUARANTEES}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    _require_increasing_indices(history)
    findings = _Findings(guarantees, max_anomalies)
    stats: dict[str, Any] = {"reads": 0, "reads_checked": 0, "reads_skipped": {}, "writes": 0}
    rules: dict[str, int] = {}
    initial = history.meta.get("initial")
    with paused_gc():
        for events in _by_key(history.complete()).values():
            rule = _rule(events, order)
            rules[rule] = rules.get(rule, 0) + 1
            _check_key(events, rule, initial, findings, stats)
    return _verdict(findings, stats, rules)


class SessionsChecker:
    """The session-guarantees checker as a ``Checker``, its options fixed at construction."""

    name = "sessions"

    def __init__(
        self,
        guarantees: Sequence[str] = GUARANTEES,
        order: str = "auto",
        max_anomalies: int = 1000,
    ):
        self.guarantees = tuple(guarantees)
        self.order = order
        self.max_anomalies = max_anomalies

    def check(self, history: History) -> Verdict:
        return check_sessions(
            history, guarantees=self.guarantees, order=self.order, max_anomalies=self.max_anomalies
        )


def _require_increasing_indices(history: History) -> None:
    # Real-time order is compared through indices, so they must follow file order.
    last = -1
    for pos, op in enumerate(history.ops):
        if op.index <= last:
            raise history.error("operation indices must increase in file order", pos)
        last = op.index


def _by_key(completed: list[Completed]) -> dict[Hashable, list[Completed]]:
    """Reads that returned and writes that may have happened, per key, in invocation order."""
    by_key: dict[Hashable, list[Completed]] = {}
    for c in completed:
        f, done = c.invoke.f, c.completion
        if f == "read":
            if done is None or done.type != "ok":
                continue
        elif f not in ("write", "cas") or (done is not None and done.type == "fail"):
            continue
        by_key.setdefault(_token(c.invoke.key), []).append(c)
    return by_key


def _rule(events: list[Completed], order: str) -> str:
    if order != "auto":
        return order
    with_extra = (c for c in events if c.completion is not None and c.completion.extra)
    return "version" if any(_version(c) is not None for c in with_extra) else "realtime"


def _check_key(
    events: list[Completed], rule: str, initial: Any, findings: _Findings, stats: dict[str, Any]
) -> None:
    key = events[0].invoke.key
    table, steps = _place_writes(events, rule, initial, stats)
    checked = _observe(steps, table, rule, stats)
    _check_sessions_of_key(key, checked, rule, findings)


def _place_writes(
    events: list[Completed], rule: str, initial: Any, stats: dict[str, Any]
) -> tuple[dict[Hashable, _Write | None], list[_Write | Completed]]:
    """The write of each value (None: written more than once), and the steps (ok writes, ok
    reads) in invocation order."""
    table: dict[Hashable, _Write | None] = {
        _token(initial): _Write(None, None, initial, -_INF, -_INF)
    }
    steps: list[_Write | Completed] = []
    for c in events:
        invoke, done = c.invoke, c.completion
        if invoke.f == "read":
            steps.append(c)
            continue
        value = invoke.value if invoke.f == "write" else _cas_new(invoke.value)
        if value is _NOTHING:
            continue
        acked = done.index if done is not None and done.type == "ok" else _INF
        if rule == "realtime":
            w = _Write(c, invoke.process, value, invoke.index, acked)
        else:
            v = _version(c) if rule == "version" else _number(value)
            w = _Write(c, invoke.process, value, *((-_INF, _INF) if v is None else (v, v)))
        stats["writes"] += 1
        token = _token(value)
        table[token] = None if token in table else w
        if acked != _INF:
            w.ok, w.acked = True, acked
            steps.append(w)
    return table, steps


def _observe(
    steps: list[_Write | Completed],
    table: dict[Hashable, _Write | None],
    rule: str,
    stats: dict[str, Any],
) -> list[_Write | _Seen]:
    """Attribute each read to a write; under real time, reads also tighten writes' ``end``."""
    out: list[_Write | _Seen] = []
    skipped: dict[str, int] = stats["reads_skipped"]
    reads = checked = 0
    for step in steps:
        if isinstance(step, _Write):
            out.append(step)
            continue
        reads += 1
        seen = _attribute(step, table, rule)
        if isinstance(seen, str):
            skipped[seen] = skipped.get(seen, 0) + 1
            continue
        w = seen.write
        if rule == "realtime" and w is not None and w.op is not None:
            _tighten(w, step)
        out.append(seen)
        checked += 1
    if rule == "realtime":
        for step2 in out:
            if isinstance(step2, _Seen) and step2.write is not None:
                step2.end = step2.write.end  # now that every read has tightened it
    stats["reads"] += reads
    stats["reads_checked"] += checked
    return out


def _attribute(c: Completed, table: dict[Hashable, _Write | None], rule: str) -> _Seen | str:
    """The observation an ok read makes, or the reason it cannot be used."""
    invoke, done = c.invoke, c.completion
    assert done is not None
    final = bool((invoke.extra or done.extra) and (invoke.get("final") or done.get("final")))
    w = table.get(_token(done.value), _MISSING)
    version = _version(c) if rule == "version" else None
    if version is not None:
        attributed = w if isinstance(w, _Write) else None
        return _Seen(c, invoke.process, attributed, version, version, version, final)
    if w is None:
        return "ambiguous"
    if not isinstance(w, _Write):
        return "unattributed"
    if w.start == -_INF and w.end == _INF:
        return "unordered"
    if rule == "realtime" and w.op is not None and done.index < w.start:
        return "unattributed"  # it returned the value before anyone wrote it: not ours to judge
    return _Seen(c, invoke.process, w, w.start, w.end, None, final)


def _tighten(w: _Write, read: Completed) -> None:
    """A write has taken effect by the time a read that returned it completed."""
    assert read.completion is not None
    if read.completion.index < w.end:
        w.end, w.bound_by = read.completion.index, read


def _check_sessions_of_key(
    key: Any, steps: list[_Write | _Seen], rule: str, findings: _Findings
) -> None:
    """Each process's reads and writes against its own latest write and observation."""
    sessions: dict[Hashable, _Session] = {}
    for step in steps:
        s = sessions.get(step.process)
        if s is None:
            s = sessions[step.process] = _Session()
        if isinstance(step, _Seen):
            _check_read(key, s, step, rule, findings)
        else:
            _check_write(key, s, step, rule, findings)


def _check_read(key: Any, s: _Session, seen: _Seen, rule: str, findings: _Findings) -> None:
    w, prev, p = s.write, s.seen, seen.process
    if w is not None and seen.end < w.start:
        findings.add(
            RYW,
            key,
            [w.op, seen.op, *_proof(seen.write)],
            lambda: (
                f"process {p} wrote {_show(w)} to {key!r} and then read {_read(seen)}, "
                f"which precedes it in {_ORDER_NAMES[rule]}"
            ),
        )
    if prev is not None and seen.end < prev.start:
        findings.add(
            MR,
            key,
            [prev.op, seen.op, *_proof(prev.write), *_proof(seen.write)],
            lambda: (
                f"process {p} read {_read(prev)} from {key!r} and then {_read(seen)}, "
                f"which precedes it in {_ORDER_NAMES[rule]}"
            ),
        )
    if prev is None or seen.start > prev.start:
        s.seen = seen


def _check_write(key: Any, s: _Session, w2: _Write, rule: str, findings: _Findings) -> None:
    w1, seen, p = s.write, s.seen, w2.process
    if w1 is not None and w2.end < w1.start:
        findings.add(
            MW,
            key,
            [w1.op, w2.op],
            lambda: (
                f"process {p} wrote {_show(w1)} and then {_show(w2)} to {key!r}, "
                f"but {_show(w2)} precedes {_show(w1)} in {_ORDER_NAMES[rule]}"
            ),
        )
    if seen is not None and seen.write is not w2 and w2.end < seen.start:
        findings.add(
            WFR,
            key,
            [seen.op, w2.op, *_proof(seen.write)],
            lambda: (
                f"process {p} read {_read(seen)} from {key!r} and then wrote {_show(w2)}, "
                f"which precedes it in {_ORDER_NAMES[rule]}"
            ),
        )
    if w1 is None or w2.start > w1.start:
        s.write = w2


def _verdict(findings: _Findings, stats: dict[str, Any], rules: dict[str, int]) -> Verdict:
    total = sum(findings.counts.values())
    details: dict[str, Any] = {
        "guarantees": {g: "invalid" if n else "valid" for g, n in findings.counts.items()},
        "order": next(iter(rules)) if len(rules) == 1 else "mixed" if rules else "none",
        "keys_by_order": rules,
        **stats,
        "anomaly_counts": findings.counts,
    }
    if total > len(findings.anomalies):
        details["anomalies_truncated"] = total - len(findings.anomalies)
    if not rules.get("version") and not rules.get("value"):
        for g in (MW, WFR):
            if g in findings.counts and not findings.counts[g]:
                details["guarantees"][g] = "unknown"
                details.setdefault("unchecked", {})[g] = (
                    "the history carries no version order (versions, or order='value')"
                )
    checkable = [g for g, r in details["guarantees"].items() if r != "unknown"]
    if stats["reads_checked"] == 0 or not checkable:
        details["guarantees"] = dict.fromkeys(findings.counts, "unknown")
        reason = (
            "no ok reads: nothing to check"
            if stats["reads"] == 0
            else "the guarantees asked for need a version order this history does not carry"
            if not checkable and stats["reads_checked"]
            else f"none of the {stats['reads']} ok reads could be attributed to an ordered write"
        )
        return Verdict("sessions", "unknown", details=details, reason=reason)
    result: Result = "invalid" if total else "valid"
    return Verdict("sessions", result, findings.anomalies, details)


def _proof(w: _Write | None) -> list[Completed | None]:
    """The operations that place w in the order: the write, and a read that bounded it."""
    return [] if w is None else [w.op, w.bound_by]


def _show(w: _Write) -> str:
    return f"the initial value {w.value!r}" if w.op is None else repr(w.value)


def _read(seen: _Seen) -> str:
    """What a read returned, with the version it saw when that is what orders it."""
    shown = repr(seen.op.value) if seen.write is None else _show(seen.write)
    return shown if seen.version is None else f"{shown} (version {seen.version!r})"


def _cas_new(value: Any) -> Any:
    """The value a cas ``[expected, new]`` would leave in the register."""
    return value[1] if isinstance(value, list | tuple) and len(value) == 2 else _NOTHING


def _version(c: Completed) -> float | None:
    if c.type != "ok" or c.completion is None:
        return None
    return _number(c.completion.get("version"))


def _number(v: Any) -> float | None:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _token(value: Any) -> Hashable:
    """A dict key for a value or a key, including unhashable ones decoded from JSON."""
    try:
        hash(value)
    except TypeError:
        return ("<unhashable>", repr(value))
    return value
