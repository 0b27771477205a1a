"""Lost acknowledged writes: acknowledged adds and appends that the final read no longer shows.

Workloads: ``add`` (a set: the value is the element), ``append`` (a list per key: the value is
the element), and any other write-like ``f`` passed in ``fs`` (``write``, ``send``,
``enqueue``). Each puts its ``value`` into the collection named by its ``key`` (``None`` for a
single set). A ``read`` of a key answers, in its ok completion, the collection as a list.

Final reads are reads whose invocation or completion is marked ``"final": true`` (the runner's
reads after heal and settle). When none is marked, the last ok read of each key (by completion
position) stands in, and ``details["final_reads"]`` says so. A write is judged only against
final reads of its key invoked after it was acknowledged: one still in flight when the read
began may rightly be missing from it, so it counts as ``unchecked``. With several final reads
of a key (one per replica, say), a write survives if any of them shows it.

Per write, by its completion: ``ok`` and absent -> ``lost-write``; ``info`` (or never completed)
and present -> recovered, which is fine (an unknown outcome may have happened); ``info`` and
absent -> unknown-outcome absent, also fine. An element that any ok read shows but that no
write ever attempted, or that only ``fail``-ed writes carried (``fail`` means it did not happen),
is a ``phantom``.

RPO. To a user a recovery point objective is "how much recent data can a failure take": the
data-loss window. Measured here it is the span of acknowledgement times of the lost writes,
``rpo_s = last_lost_ack_s - first_lost_ack_s`` (0 when one write was lost: a point, not a span;
``lost`` says how many). Loss usually reaches back before the fault shows (replication lag, the
last checkpoint), so ``loss_before_fault_s`` is how far before the onset of a fault the loss
goes: for each lost write, the time from its ack to the start of the fault active then or next
to begin (0 when acked during a fault), maximised. That is the figure to set against "RPO =
replication lag at failure" or "RPO = the checkpoint interval". Each fault window reports how
many lost writes overlap it (invocation to ack), and each anomaly names the faults it overlaps.

``acked_losses`` reads such a verdict back onto the history for the judges of a failover's loss
(which acknowledged writes were lost, which survived, whether a lost one left a hole).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history import NEMESIS, Completed, FaultWindow, History, freeze, paused_gc
from .columnar import fault_windows, paired
from .lost_writes_fast import scan
from .verdict import Anomaly, Verdict

NAME = "lost-writes"
NS_PER_S = 1e9


def elements(value: Any) -> set[Any]:
    """The elements a read returned (``None``: nothing; a scalar: itself)."""
    if value is None:
        return set()
    if not isinstance(value, list | tuple | set | frozenset):
        return {freeze(value)}
    try:
        return set(value)  # the common case, at C speed
    except TypeError:
        return {freeze(v) for v in value}


def _completed_at(c: Completed) -> int:
    assert c.completion is not None
    return c.completion.index


@dataclass(slots=True)
class FinalRead:
    op: Completed
    shows: set[Any]


def final_reads(reads: Sequence[Completed]) -> tuple[dict[Any, list[FinalRead]], str]:
    """The final reads of each key, and a sentence saying where they came from."""
    marked = [c for c in reads if c.is_final]
    chosen: dict[Any, list[Completed]] = {}
    if marked:
        for c in marked:
            if c.type == "ok":
                chosen.setdefault(freeze(c.key), []).append(c)
        source = "marked final"
    else:
        for c in (c for c in reads if c.type == "ok"):
            prev = chosen.get(freeze(c.key))
            if prev is None or _completed_at(c) > _completed_at(prev[0]):
                chosen[freeze(c.key)] = [c]
        source = "last ok read of each key (no read was marked final)"
    return {k: [FinalRead(c, elements(c.value)) for c in cs] for k, cs in chosen.items()}, source


@dataclass
class Tally:
    """What became of the writes; every field ends up in ``details``."""

    attempted: int = 0
    acknowledged: int = 0
    survived: int = 0
    lost: int = 0
    unchecked: int = 0  # acknowledged, but no final read of its key began after the ack
    recovered: int = 0  # outcome unknown, and present
    unknown_absent: int = 0  # outcome unknown, and absent: fine either way
    failed: int = 0
    phantoms: int = 0


def classify(
    writes: Iterable[Completed], finals: dict[Any, list[FinalRead]], tally: Tally
) -> list[tuple[Completed, list[FinalRead]]]:
    """Tally each write's fate; return the lost ones with the final reads that miss them."""
    lost: list[tuple[Completed, list[FinalRead]]] = []
    none: list[FinalRead] = []
    for c in writes:
        tally.attempted += 1
        done = c.completion
        typ = "info" if done is None else done.type
        if typ == "fail":
            tally.failed += 1
            continue
        el = freeze(c.invoke.value)
        reads = finals.get(freeze(c.invoke.key), none)
        if typ == "ok":
            tally.acknowledged += 1
            acked = done.index  # type: ignore[union-attr]
            after = [r for r in reads if r.op.invoke.index > acked]
            if not after:
                tally.unchecked += 1
            elif any(el in r.shows for r in after):
                tally.survived += 1
            else:
                tally.lost += 1
                lost.append((c, after))
        elif any(el in r.shows for r in reads):
            tally.recovered += 1
        else:
            tally.unknown_absent += 1
    return lost


def find_phantoms(writes: Iterable[Completed], reads: Iterable[Completed]) -> list[Anomaly]:
    """Elements a read shows that no write put there (or only writes that failed)."""
    allowed: dict[Any, set[Any]] = {}
    failed: dict[Any, dict[Any, Completed]] = {}
    for c in writes:
        invoke, done = c.invoke, c.completion
        k, el = freeze(invoke.key), freeze(invoke.value)
        if done is not None and done.type == "fail":
            failed.setdefault(k, {}).setdefault(el, c)
        else:
            known = allowed.get(k)
            if known is None:
                allowed[k] = {el}
            else:
                known.add(el)
    reported: dict[Any, set[Any]] = {}
    out: list[Anomaly] = []
    nothing: frozenset[Any] = frozenset()
    for r in reads:
        done = r.completion
        if done is None or done.type != "ok":
            continue
        k = freeze(r.invoke.key)
        strange = elements(done.value) - allowed.get(k, nothing)
        if not strange:  # the common case: every element was written
            continue
        seen = reported.setdefault(k, set())
        for el in strange - seen:
            seen.add(el)
            w = failed.get(k, {}).get(el)
            why = "no write attempted it" if w is None else "every write of it failed"
            ops = r.indices + ([] if w is None else w.indices)
            out.append(Anomaly("phantom", sorted(ops), f"read shows {el!r}, but {why}", r.key))
    return out


@dataclass
class FaultIndex:
    """Which fault windows a span overlaps, without scanning every window for every span."""

    windows: list[FaultWindow]
    starts: list[int] = field(init=False)
    reach: list[float] = field(init=False)  # the latest end among windows[: i + 1]

    def __post_init__(self) -> None:
        self.windows = sorted(self.windows, key=lambda w: w.start)
        self.starts = [w.start for w in self.windows]
        self.reach, m = [], float("-inf")
        for w in self.windows:
            m = max(m, float("inf") if w.end is None else w.end)
            self.reach.append(m)

    def overlapping(self, start: int, end: int) -> list[int]:
        """Positions of the windows that overlap [start, end] (the rule of ``in_windows``)."""
        i, out = bisect.bisect_right(self.starts, end), []
        while i > 0 and self.reach[i - 1] > start:
            i -= 1
            w = self.windows[i]
            if w.end is None or w.end > start:
                out.append(i)
        return out

    def lead(self, t: int) -> int | None:
        """How long before the fault active at ``t``, or the next to begin, ``t`` is."""
        if self.overlapping(t, t):
            return 0
        i = bisect.bisect_right(self.starts, t)
        return None if i == len(self.starts) else self.starts[i] - t


def report_lost(
    lost: Sequence[tuple[Completed, list[FinalRead]]], faults: FaultIndex
) -> tuple[list[Anomaly], dict[str, Any]]:
    """One ``lost-write`` per lost write, and the data-loss window (see the module docstring)."""
    anomalies: list[Anomaly] = []
    per_window = [0] * len(faults.windows)
    acks: list[int] = []
    leads: list[int] = []
    for c, after in lost:
        assert c.completion is not None
        acked = c.completion.time
        acks.append(acked)
        hits = faults.overlapping(c.start, acked)
        for i in hits:
            per_window[i] += 1
        lead = faults.lead(acked)
        if lead is not None:
            leads.append(lead)
        names = sorted({faults.windows[i].fault for i in hits}) or ["no fault"]
        ops = c.indices + [i for r in after for i in r.op.indices]
        why = (
            f"{c.f} of {c.invoke.value!r} acknowledged at {acked / NS_PER_S:.3f}s is missing "
            f"from the final read; it overlaps {', '.join(names)}"
        )
        anomalies.append(Anomaly("lost-write", ops, why, c.key))
    summary: dict[str, Any] = {
        "first_lost_ack_s": min(acks) / NS_PER_S if acks else None,
        "last_lost_ack_s": max(acks) / NS_PER_S if acks else None,
        "rpo_s": (max(acks) - min(acks)) / NS_PER_S if acks else 0.0,
        "loss_before_fault_s": max(leads) / NS_PER_S if leads else None,
        "fault_windows": [
            {
                "fault": w.fault,
                "start_s": w.start / NS_PER_S,
                "end_s": None if w.end is None else w.end / NS_PER_S,
                "lost_overlapping": n,
            }
            for w, n in zip(faults.windows, per_window, strict=True)
        ],
    }
    return anomalies, summary


def check_lost_writes(history: History, *, fs: Iterable[str] = ("add", "append")) -> Verdict:
    """Acknowledged writes (``f`` in ``fs``) missing from the final read of their key."""
    kinds = frozenset(fs)
    with paused_gc():
        cols = paired(history)
        fast = None if cols is None else scan(cols, kinds, elements)
        if cols is None or fast is None:  # a phantom, or a history complete() rejects
            return _check_reference(history, kinds)
    finals = {k: [FinalRead(c, els) for c, els in rs] for k, rs in fast.finals.items()}
    lost = [
        (c, [r for r in finals[k] if r.op.invoke.index > _completed_at(c)]) for c, k in fast.lost
    ]
    anomalies, summary = report_lost(lost, FaultIndex(fault_windows(cols)))
    return _verdict(fast.source, finals, Tally(**fast.tally), summary, anomalies, fast.marked)


def _check_reference(history: History, kinds: frozenset[str]) -> Verdict:
    """The reference path, on ``History.complete``'s pairs; it words every anomaly
    (``lost_writes_fast.py`` decides the histories that show none)."""
    with paused_gc():
        pairs = history.complete()
        writes = [c for c in pairs if c.invoke.f in kinds]
        reads = [c for c in pairs if c.invoke.f == "read"]
        finals, source = final_reads(reads)
        tally = Tally()
        lost = classify(writes, finals, tally)
        phantoms = find_phantoms(writes, reads)
        tally.phantoms = len(phantoms)
        anomalies, summary = report_lost(lost, FaultIndex(history.fault_windows()))
    return _verdict(source, finals, tally, summary, anomalies + phantoms, reads)


def _verdict(
    source: str,
    finals: dict[Any, list[FinalRead]],
    tally: Tally,
    summary: dict[str, Any],
    anomalies: list[Anomaly],
    reads: Sequence[Completed],
) -> Verdict:
    details: dict[str, Any] = {
        "final_reads": source,
        "final_read_count": sum(len(rs) for rs in finals.values()),
        **vars(tally),
        **summary,
    }
    if anomalies:
        return Verdict(NAME, "invalid", anomalies, details)
    reason = why_unknown(reads, finals, tally)
    return Verdict(NAME, "unknown" if reason else "valid", [], details, reason)


def why_unknown(
    reads: Sequence[Completed], finals: dict[Any, list[FinalRead]], tally: Tally
) -> str:
    """Why nothing can be concluded, or "" when the check meant something."""
    if not finals:
        marked = sum(1 for c in reads if c.is_final)
        if marked:
            return f"no final read: all {marked} reads marked final failed or timed out"
        return "no final read: nothing read the collections back after the writes"
    if tally.acknowledged == 0:
        return "no acknowledged write to check"
    if tally.unchecked == tally.acknowledged:
        return "no acknowledged write was followed by a final read of its key"
    return ""


class LostWritesChecker:
    """The Checker for ``check_lost_writes``."""

    name = NAME

    def __init__(self, fs: Iterable[str] = ("add", "append")) -> None:
        self.fs = tuple(fs)

    def check(self, history: History) -> Verdict:
        return check_lost_writes(history, fs=self.fs)


@dataclass(frozen=True)
class AckedLosses:
    """A lost-writes verdict read back onto its history: the clients' acknowledged ``f``
    writes (final reads left out), the ones the verdict's ``lost-write`` anomalies name, and
    the indices of the successful final reads (the evidence that a loss was seen)."""

    writes: list[Completed]
    lost: list[Completed]
    finals: list[int]
    lost_ids: frozenset[int]

    def survivors(self, before: int) -> list[Completed]:
        """The writes acknowledged before ``before`` (ns: a primary's death) and not lost."""
        return [c for c in self.writes if _acked_at(c) < before
                and not set(c.indices) & self.lost_ids]

    @staticmethod
    def survivor_after(c: Completed, survivors: Sequence[Completed]) -> Completed | None:
        """The first of ``survivors`` invoked after ``c`` was acknowledged: with ``c`` lost, a
        hole in what the copy kept rather than the tail of what it had not yet received."""
        later = [s for s in survivors if s.invoke.time > _acked_at(c)]
        return min(later, key=lambda s: s.invoke.time) if later else None


def _acked_at(c: Completed) -> int:
    assert c.completion is not None
    return c.completion.time


def acked_losses(history: History, verdict: Verdict, f: str) -> AckedLosses:
    """The acknowledged ``f`` writes of ``history`` and which of them ``verdict`` (this
    module's, on the same history) found lost."""
    lost_ids = frozenset(i for a in verdict.anomalies if a.kind == "lost-write" for i in a.ops)
    finals = [i for c in history.complete() if c.is_final and c.type == "ok"
              for i in c.indices]
    writes = [c for c in history.complete() if c.process != NEMESIS and not c.is_final
              and c.f == f and c.type == "ok"]
    lost = [c for c in writes if set(c.indices) & lost_ids]
    return AckedLosses(writes, lost, finals, lost_ids)
