"""The one decision path: from a case's history, verdicts and judge to upheld, refuted or
inconclusive, with the reasons a user can check.

Every case goes through ``decide``, which enforces, whatever the judge:

- **faults proven**: each fault the case names must have been started (its start proved it
  took effect) and healed (its stop proved the heal) at least once; otherwise the case cannot
  be upheld: inconclusive, naming the fault.
- **exercised before upheld**: the judge states what the claim needs the history to show
  (``Judge.exercises``); an "upheld" without it is inconclusive with the judge's reason.
- **refutations attributed**: every anomaly is placed against the fault windows (``during``,
  ``after``, ``before``, or ``none`` when the history has no fault). A case about faults that
  is refuted only by anomalies before any fault (or with no fault at all) is flagged
  ``attributed: false``; the case then fails even where a refutation is expected, since that
  is a harness bug or a finding, never the fault's doing.
- **emulators**: a claim an emulator cannot exhibit is ``inconclusive (emulator)``, neither
  upheld nor refuted: what one strongly consistent process shows says nothing about replicas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checkers.judge import (
    INCONCLUSIVE,
    NS,
    OUTCOMES,
    REFUTED,
    UPHELD,
    Judge,
)
from .checkers.verdict import Anomaly, Verdict
from .history import NEMESIS, FaultWindow, History, window_lookup

__all__ = ["INCONCLUSIVE", "OUTCOMES", "REFUTED", "UPHELD", "Decision", "FaultRecord",
           "decide", "fault_records", "ok_during_faults", "placer", "relative_to_faults"]


@dataclass(frozen=True)
class FaultRecord:
    """One fault window as verdicts.json shows it: seconds since the run began."""

    name: str
    start_s: float
    stop_s: float | None
    proven: bool  # started (start proved it took effect) and healed (stop proved the heal)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "start_s": round(self.start_s, 3),
                "stop_s": None if self.stop_s is None else round(self.stop_s, 3),
                "proven": self.proven}


def fault_records(history: History) -> list[FaultRecord]:
    """The history's fault windows; a window is proven when it closed without a failed heal
    (a fault is recorded started only after its start proved it took effect)."""
    failed = [op for op in history if op.process == NEMESIS and op.f.endswith("-heal-failed")]
    out = []
    for w in history.fault_windows():
        heal_failed = any(op.f == f"{w.fault}-heal-failed" and op.time >= w.start
                          and (w.end is None or op.time <= w.end + 60 * NS) for op in failed)
        out.append(FaultRecord(w.fault, w.start / NS, None if w.end is None else w.end / NS,
                               w.end is not None and not heal_failed))
    return out


def placer(history: History, windows: Sequence[FaultWindow]) -> Callable[[Anomaly], str]:
    """Where an anomaly's operations lie relative to the fault windows: ``during`` (they span
    or touch a window), ``after`` (they begin after a window closed), ``before`` (they end
    before the first window opened) or ``none`` (the history has no fault). The operations'
    times are looked up once for all the anomalies placed."""
    times = {op.index: op.time for op in history} if windows else {}

    def place(anomaly: Anomaly) -> str:
        ts = [times[i] for i in anomaly.ops if i in times]
        if not ts:
            return "none"
        lo, hi = min(ts), max(ts)
        for w in windows:  # from the fault's onset: it may be felt before it is proven
            if lo <= (w.end if w.end is not None else hi) and hi >= w.onset:
                return "during"
        if any(w.end is not None and lo >= w.end for w in windows):
            return "after"
        return "before"

    return place


def relative_to_faults(anomaly: Anomaly, history: History, windows: Sequence[FaultWindow]
                       ) -> str:
    """One anomaly's place against the fault windows (see ``placer``)."""
    return placer(history, windows)(anomaly)


def ok_during_faults(history: History) -> int:
    """Client operations that completed ok while a fault was active."""
    windows = history.fault_windows()
    if not windows:
        return 0
    active = window_lookup(windows)
    return sum(
        1
        for c in history.complete()
        if c.type == "ok" and c.completion is not None and c.process != NEMESIS
        and (active(c.invoke.time) or active(c.completion.time))
    )


@dataclass
class Decision:
    outcome: str
    reason: str
    exercised: bool
    exercised_why: str
    faults: list[FaultRecord] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)  # with relative_to_faults
    attributed: bool = True  # False: refuted only by anomalies away from the faults
    judge: str = ""


def decide(
    history: History,
    verdicts: Mapping[str, Verdict],
    judge: Judge,
    *,
    faults: Sequence[str] = (),
    emulator_limit: str | None = None,
    max_anomalies: int = 50,
) -> Decision:
    """The outcome of one case. ``faults``: the names of the faults the case injects."""
    records = fault_records(history)
    windows = history.fault_windows()
    ruling = judge.rule(history, verdicts)
    exercise = judge.exercised(history, verdicts)
    place = placer(history, windows)
    placed = [(a, place(a)) for a in ruling.anomalies]
    # The record keeps ``max_anomalies``, those the faults account for first; attribution
    # looks at them all.
    placed.sort(key=lambda p: p[1] not in ("during", "after"))
    anomalies = [dict(a.to_json(), relative_to_faults=where)
                 for a, where in placed[:max_anomalies]]
    where = {w for _, w in placed}
    d = Decision(ruling.outcome, ruling.reason, exercise.done, exercise.why, records,
                 anomalies, judge=judge.name)

    if emulator_limit:  # what an emulator shows about this claim says nothing either way
        return _inconclusive(d, f"inconclusive (emulator): {emulator_limit}")
    if ruling.outcome == REFUTED:
        if faults and placed and not where & {"during", "after"}:
            d.attributed = False
            d.reason = (f"refuted only by anomalies away from the faults "
                        f"({', '.join(sorted(where))}): a harness bug or a finding, not the "
                        f"faults' doing: {ruling.reason}")
        return d
    if ruling.outcome == INCONCLUSIVE:
        return d
    for name in faults:
        mine = [r for r in records if r.name == name]
        if not mine:
            return _inconclusive(d, f"the {name} fault was never started")
        if not all(r.proven for r in mine):
            return _inconclusive(d, f"the {name} fault's heal was not proven")
    if not exercise.done:
        return _inconclusive(d, f"not exercised: {exercise.why} "
                                f"(needed: {judge.exercises})")
    return d


def _inconclusive(d: Decision, reason: str) -> Decision:
    d.outcome, d.reason = INCONCLUSIVE, reason
    return d
