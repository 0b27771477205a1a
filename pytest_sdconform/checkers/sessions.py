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

Which write a read observed, and the order writes took effect in, is the business of
``version_order.py`` (the rules ``version``, ``realtime`` and ``value``, chosen per key and
named in ``details["order"]``; reads it cannot place are counted in
``details["reads_skipped"]`` by reason). "Older" below is that order, and only what the history
proves is reported.

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
this, or ``History.complete``'s pairing, raises ``HistoryError``. Under real-time order a
history is checked by ``sessions_fast.py`` in columns, without an object per operation; the
keys it finds an anomaly on go through the reference path here, to word them, and a history
with a key under versions goes through it whole.

Monotonic writes as readers see it (a node returned a session's w2, then its w1), which needs
no version order, is ``monotonic_writes.py``; the documents' per-replica read-after-ack, which
they call "monotonic write consistency", is ``read_after_ack.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..history import Completed, History, paused_gc
from .columnar import Columns, paired
from .sessions_fast import scan
from .verdict import Anomaly, Result, Verdict
from .version_order import Seen, Write, by_key, hashable, observe, place_writes, rule_for

RYW = "read-your-writes"
MR = "monotonic-reads"
MW = "monotonic-writes"
WFR = "writes-follow-reads"
GUARANTEES = (RYW, MR, MW, WFR)
ORDERS = ("auto", "version", "realtime", "value")

_SCALAR_KEYS = frozenset((str, int, float, bool, type(None)))  # hashable as they are
_ORDER_NAMES = {"realtime": "real-time order", "version": "version order", "value": "value order"}


@dataclass(slots=True)
class _Session:
    """One process on one key so far: its latest write and its latest observation."""

    write: Write | None = None
    seen: Seen | None = None


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
    if order in ("auto", "realtime"):
        initial = history.meta.get("initial")
        with paused_gc():
            cols = paired(history)
            found = None
            if cols is not None and cols.increasing:
                found = scan(cols, initial, frozenset(guarantees), order, GUARANTEES)
        if cols is not None and found is not None:
            stats, rules, bad = found
            findings = _Findings(guarantees, max_anomalies)
            if bad:  # the reference path words them, on those keys alone
                _check_keys(cols, bad, initial, findings)
            return _verdict(findings, stats, rules)
    return _check_reference(history, guarantees, order, max_anomalies)


def _check_keys(cols: Columns, keys: list[Hashable], initial: Any, findings: _Findings) -> None:
    """The reference path's findings on some keys under real-time order, in ``keys``' order."""
    wanted = set(keys)
    ours = [
        Completed(inv, done)
        for inv, done in zip(cols.invokes, cols.completions, strict=True)
        if (inv.key if inv.key.__class__ in _SCALAR_KEYS else hashable(inv.key)) in wanted
    ]
    events = by_key(ours)
    stats: dict[str, Any] = {"reads": 0, "reads_checked": 0, "reads_skipped": {}, "writes": 0}
    for key in keys:  # the statistics are the fast path's already
        _check_key(events[key], "realtime", initial, findings, stats)


def _check_reference(
    history: History, guarantees: Sequence[str], order: str, max_anomalies: int
) -> Verdict:
    """The reference path: every rule, every anomaly worded (``sessions_fast.py`` is the
    shortcut for histories under real-time order that show none)."""
    _require_increasing_indices(history)
    findings = _Findings(guarantees, max_anomalies)
    stats: dict[str, Any] = {"reads": 0, "reads_checked": 0, "reads_skipped": {}, "writes": 0}
    rules: dict[str, int] = {}
    initial = history.meta.get("initial")
    with paused_gc():
        for events in by_key(history.complete()).values():
            rule = rule_for(events, order)
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


def _check_key(
    events: list[Completed], rule: str, initial: Any, findings: _Findings, stats: dict[str, Any]
) -> None:
    key = events[0].invoke.key
    table, steps = place_writes(events, rule, initial, stats)
    checked = observe(steps, table, rule, stats)
    _check_sessions_of_key(key, checked, rule, findings)


def _check_sessions_of_key(
    key: Any, steps: list[Write | Seen], rule: str, findings: _Findings
) -> None:
    """Each process's reads and writes against its own latest write and observation."""
    sessions: dict[Hashable, _Session] = {}
    for step in steps:
        s = sessions.get(step.process)
        if s is None:
            s = sessions[step.process] = _Session()
        if isinstance(step, Seen):
            _check_read(key, s, step, rule, findings)
        else:
            _check_write(key, s, step, rule, findings)


def _check_read(key: Any, s: _Session, seen: Seen, rule: str, findings: _Findings) -> None:
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


def _check_write(key: Any, s: _Session, w2: Write, rule: str, findings: _Findings) -> None:
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


def _proof(w: Write | None) -> list[Completed | None]:
    """The operations that place w in the order: the write, and a read that bounded it."""
    return [] if w is None else [w.op, w.bound_by]


def _show(w: Write) -> str:
    return f"the initial value {w.value!r}" if w.op is None else repr(w.value)


def _read(seen: Seen) -> str:
    """What a read returned, with the version it saw when that is what orders it."""
    shown = repr(seen.op.value) if seen.write is None else _show(seen.write)
    return shown if seen.version is None else f"{shown} (version {seen.version!r})"
