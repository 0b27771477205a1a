"""Availability under faults: how much succeeded, how fast, and how long service was gone.

Definitions (all times in ``details`` are seconds since the run started, latencies ms):

- An operation is *during faults* when its invocation time falls inside a fault window (of any
  fault), otherwise *outside*. An invocation that never completed counts as ``info``.
- ``success_ratio`` = ok / (ok + fail + info). ``p50_ms`` / ``p99_ms``: nearest-rank latency
  percentiles of ok operations. ``throughput_ok_per_s``: ok operations per second of the phase,
  where the phase lasts the union of fault windows clipped to the client span (first client
  invocation to last client event) for *during*, and the rest of the span for *outside*.
- ``longest_unavailable``: the longest stretch of the client span in which no client operation
  of any kind completed ok, counting from the span's start to the first ok and from the last
  ok to the span's end.
- Per fault window, an RTO estimate: ``to_first_ok_s`` is the time from the window's start to
  the earliest ok completion of an operation *invoked at or after* the start, and
  ``heal_to_first_ok_s`` the same from its end (the heal). Only operations invoked after the
  instant count, because one already in flight may finish before the fault bites and would make
  the service look up. Read ``to_first_ok_s`` for a fault the system should fail over from
  (kill the primary), ``heal_to_first_ok_s`` for one it can only wait out. Both per ``f`` too.
- ``vacuous`` (per ``f`` and overall): nothing succeeded during the faults, so no claim about
  behaviour under faults can rest on this run.

Verdict: ``invalid`` when a requirement fails (``max_unavailable_s`` -> ``unavailable``;
``min_success_ratio``, judged during the faults or, without faults, over the whole run ->
``low-availability``); else ``unknown`` with reason "vacuous: ..." when there were faults but
nothing succeeded during them (callers make that ``inconclusive``); else ``valid``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history import (
    Completed,
    FaultWindow,
    History,
    in_windows,
    paused_gc,
    window_lookup,
)
from .verdict import Anomaly, Verdict

NAME = "availability"
NS_PER_S = 1e9
NS_PER_MS = 1e6
VACUOUS = "vacuous: no operation succeeded during the faults"


@dataclass
class Tally:
    """Outcomes and ok latencies of one kind of operation in one phase."""

    ok: int = 0
    fail: int = 0
    info: int = 0
    latencies: list[int] = field(default_factory=list)

    def add(self, c: Completed) -> None:
        done = c.completion
        if done is None or done.type == "info":
            self.info += 1
        elif done.type == "ok":
            self.ok += 1
            self.latencies.append(done.time - c.invoke.time)
        else:
            self.fail += 1

    @property
    def total(self) -> int:
        return self.ok + self.fail + self.info

    def stats(self, duration_ns: int) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "ok": self.ok,
            "fail": self.fail,
            "info": self.info,
            "success_ratio": self.ok / self.total if self.total else None,
            "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99),
            "throughput_ok_per_s": self.ok / (duration_ns / NS_PER_S) if duration_ns else None,
        }


def percentile(ordered: Sequence[int], p: float) -> float | None:
    """Nearest-rank percentile, in ms, of latencies in ns."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] / NS_PER_MS


class FirstOk:
    """The earliest ok completion among operations invoked at or after a given time."""

    def __init__(self, oks: Sequence[Completed]) -> None:
        ordered = sorted(oks, key=lambda c: c.start)
        self.starts = [c.start for c in ordered]
        self.earliest = [_done_at(c) for c in ordered]
        for i in range(len(ordered) - 2, -1, -1):  # a suffix minimum: one bisect per question
            self.earliest[i] = min(self.earliest[i], self.earliest[i + 1])

    def after(self, t: int | None) -> float | None:
        """Seconds from ``t`` to that completion (``None``: there is none, or no ``t``)."""
        if t is None:
            return None
        i = bisect.bisect_left(self.starts, t)
        return None if i == len(self.starts) else (self.earliest[i] - t) / NS_PER_S


def _done_at(c: Completed) -> int:
    assert c.completion is not None
    return c.completion.time


def fault_time(windows: Sequence[FaultWindow], t0: int, t1: int) -> int:
    """Nanoseconds of [t0, t1] covered by at least one fault window."""
    total, reached = 0, t0
    for w in sorted(windows, key=lambda w: w.start):
        start, end = max(w.start, reached), min(t1 if w.end is None else w.end, t1)
        if end > start:
            total += end - start
            reached = end
    return total


def longest_gap(
    oks: Sequence[Completed], t0: int, t1: int, windows: Sequence[FaultWindow]
) -> dict[str, Any]:
    """The longest stretch of [t0, t1] without an ok completion, and the oks around it."""
    ordered = sorted(oks, key=_done_at)
    marks = [t0, *(_done_at(c) for c in ordered), t1]
    around: list[Completed | None] = [None, *ordered, None]
    i = max(range(len(marks) - 1), key=lambda i: marks[i + 1] - marks[i])
    return {
        "length_s": (marks[i + 1] - marks[i]) / NS_PER_S,
        "start_s": marks[i] / NS_PER_S,
        "end_s": marks[i + 1] / NS_PER_S,
        "ops": [j for c in around[i : i + 2] if c is not None for j in c.indices],
        "during_faults": in_windows(windows, marks[i], marks[i + 1]),
    }


def tally(
    pairs: Sequence[Completed], during: Callable[[int], bool]
) -> tuple[dict[tuple[str, bool], Tally], list[Completed]]:
    """Tallies by (f, during faults), and the operations that completed ok."""
    tallies: dict[tuple[str, bool], Tally] = {}
    oks: list[Completed] = []
    for c in pairs:
        slot = (c.invoke.f, during(c.invoke.time))
        t = tallies.get(slot)
        if t is None:
            t = tallies[slot] = Tally()
        t.add(c)
        if c.completion is not None and c.completion.type == "ok":
            oks.append(c)
    return tallies, oks


def phase_stats(
    tallies: dict[tuple[str, bool], Tally], fault_ns: int, span_ns: int, faults: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Overall stats by phase, and the same per f (with its ``vacuous`` flag)."""
    overall = {True: Tally(), False: Tally()}
    by_f: dict[str, dict[str, Any]] = {}
    for f in sorted({f for f, _ in tallies}):
        entry: dict[str, Any] = {}
        for inside, label, duration in (
            (True, "during_faults", fault_ns),
            (False, "outside_faults", span_ns - fault_ns),
        ):
            t = tallies.get((f, inside), Tally())
            o = overall[inside]
            o.ok, o.fail, o.info = o.ok + t.ok, o.fail + t.fail, o.info + t.info
            o.latencies += t.latencies
            entry[label] = t.stats(duration) if faults or not inside else None
        entry["vacuous"] = tallies.get((f, True), Tally()).ok == 0 if faults else None
        by_f[f] = entry
    summary = {
        "during_faults": overall[True].stats(fault_ns) if faults else None,
        "outside_faults": overall[False].stats(span_ns - fault_ns),
        "vacuous": overall[True].ok == 0 if faults else None,
    }
    return summary, by_f


def recovery(windows: Sequence[FaultWindow], oks: Sequence[Completed]) -> list[dict[str, Any]]:
    """Per fault window, the time to the first ok after its start and after its heal."""
    first_ok = FirstOk(oks)
    per_f = {
        f: FirstOk([c for c in oks if c.invoke.f == f]) for f in sorted({c.invoke.f for c in oks})
    }
    out = []
    for w in sorted(windows, key=lambda w: w.start):
        out.append(
            {
                "fault": w.fault,
                "start_s": w.start / NS_PER_S,
                "end_s": None if w.end is None else w.end / NS_PER_S,
                "to_first_ok_s": first_ok.after(w.start),
                "heal_to_first_ok_s": first_ok.after(w.end),
                "by_f": {
                    f: {"to_first_ok_s": x.after(w.start), "heal_to_first_ok_s": x.after(w.end)}
                    for f, x in per_f.items()
                },
            }
        )
    return out


def measure(pairs: Sequence[Completed], windows: Sequence[FaultWindow]) -> dict[str, Any]:
    """Every number in ``details``; ``pairs`` must not be empty."""
    t0 = pairs[0].start  # complete() lists operations in invocation order
    t1 = max(c.start if c.completion is None else c.completion.time for c in pairs)
    fault_ns = fault_time(windows, t0, t1)
    tallies, oks = tally(pairs, window_lookup(windows))
    summary, by_f = phase_stats(tallies, fault_ns, t1 - t0, bool(windows))
    return {
        "span_s": (t1 - t0) / NS_PER_S,
        "fault_time_s": fault_ns / NS_PER_S,
        **summary,
        "by_f": by_f,
        "longest_unavailable": longest_gap(oks, t0, t1, windows),
        "fault_windows": recovery(windows, oks),
    }


def check_availability(
    history: History,
    *,
    min_success_ratio: float | None = None,
    max_unavailable_s: float | None = None,
) -> Verdict:
    """Availability per kind of operation, inside and outside fault windows (see the docstring)."""
    windows = history.fault_windows()
    with paused_gc():
        # Final reads run after heal and a settle pause: they are not the workload's traffic,
        # and counting them would report that pause as an outage.
        pairs = [c for c in history.complete() if not c.is_final]
        if not pairs:
            return Verdict(NAME, "unknown", [], {}, "no client operation in the history")
        details = measure(pairs, windows)
    details["requirements"] = {
        "min_success_ratio": min_success_ratio,
        "max_unavailable_s": max_unavailable_s,
    }
    anomalies = requirement_failures(details, windows, min_success_ratio, max_unavailable_s)
    if anomalies:
        return Verdict(NAME, "invalid", anomalies, details)
    if windows and details["vacuous"]:
        return Verdict(NAME, "unknown", [], details, VACUOUS)
    return Verdict(NAME, "valid", [], details)


def requirement_failures(
    details: dict[str, Any],
    windows: Sequence[FaultWindow],
    min_success_ratio: float | None,
    max_unavailable_s: float | None,
) -> list[Anomaly]:
    out = []
    gap = details["longest_unavailable"]
    if max_unavailable_s is not None and gap["length_s"] > max_unavailable_s:
        why = (
            f"no operation succeeded for {gap['length_s']:.3f}s "
            f"(from {gap['start_s']:.3f}s to {gap['end_s']:.3f}s); "
            f"at most {max_unavailable_s}s allowed"
        )
        out.append(Anomaly("unavailable", gap["ops"], why))
    phase = details["during_faults"] if windows else details["outside_faults"]
    ratio = phase["success_ratio"]
    if min_success_ratio is not None and ratio is not None and ratio < min_success_ratio:
        where = "during the faults" if windows else "over the run"
        why = f"{ratio:.3f} of operations succeeded {where}; at least {min_success_ratio} required"
        ops = sorted(i for w in windows for i in (w.start_index, w.end_index) if i is not None)
        out.append(Anomaly("low-availability", ops, why))
    return out


class AvailabilityChecker:
    """The Checker for ``check_availability``."""

    name = NAME

    def __init__(
        self, min_success_ratio: float | None = None, max_unavailable_s: float | None = None
    ) -> None:
        self.min_success_ratio = min_success_ratio
        self.max_unavailable_s = max_unavailable_s

    def check(self, history: History) -> Verdict:
        return check_availability(
            history,
            min_success_ratio=self.min_success_ratio,
            max_unavailable_s=self.max_unavailable_s,
        )
