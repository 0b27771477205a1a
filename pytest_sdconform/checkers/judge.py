"""Judges: how a case turns a history (and its checkers' verdicts) into a claim's outcome.

A judge is a small object with a ``name``, a sentence saying what it ``exercises`` (what the
history must show before "no violation" may count as "upheld": requests routed to the paused
server during the pause, a consumer that really crashed, two sends in flight at once...),
``exercised(history, verdicts)``, which says whether that happened, and ``rule(history,
verdicts)``, which says upheld, refuted or inconclusive with a reason and the evidence.

Every case is decided by a judge through ``outcome.decide``, which also enforces the rules that
hold for all of them (faults proven, exercised before upheld, refutations attributed to faults).
``Checkers`` is the judge of a case decided by checkers alone (linearizable, sessions, lost
writes...): refuted by any invalid verdict, inconclusive by any unknown one. The generic judges
of bounds (recovery time, loss window, CAP row, N+1 capacity) live beside it in ``checkers/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..history import NEMESIS, Completed, FaultWindow, History, Operation
from .verdict import Anomaly, Verdict

UPHELD, REFUTED, INCONCLUSIVE = "upheld", "refuted", "inconclusive"
OUTCOMES = (UPHELD, REFUTED, INCONCLUSIVE)
NS = 1e9

Verdicts = Mapping[str, Verdict]


@dataclass(frozen=True)
class Exercise:
    """Whether the history shows the behaviour a claim is about, and the figures that say so."""

    done: bool
    why: str


@dataclass
class Ruling:
    """A judge's decision. A refutation carries the operations that prove it (``anomalies``),
    so that it can be placed relative to the fault windows and shown in the report."""

    outcome: str
    reason: str
    anomalies: list[Anomaly] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")


class Judge(Protocol):
    name: str
    exercises: str

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise: ...

    def rule(self, history: History, verdicts: Verdicts) -> Ruling: ...


# --- what "exercised" means for the common cases -----------------------------------------------

ExerciseRule = Callable[[History, Verdicts], Exercise]


def described(rule: ExerciseRule, text: str) -> ExerciseRule:
    """Give an exercise rule the sentence a report shows as what it needs."""
    rule.__doc__ = text
    return rule


def client_ops(history: History) -> list[Completed]:
    """Client operations, final reads left out."""
    return [c for c in history.complete() if c.process != NEMESIS and not c.is_final]


def windows_of(history: History, fault: str | None = None) -> list[FaultWindow]:
    return [w for w in history.fault_windows() if fault is None or w.fault == fault]


def healed(history: History, w: FaultWindow) -> Operation | None:
    """The record of a window's heal once its stop returned (``<fault>-healed``: what the
    heal proved, and what the fault observed while it was on), if any."""
    if w.end_index is None:
        return None
    return next((op for op in history.ops if op.index > w.end_index
                 and op.process == NEMESIS and op.f == f"{w.fault}-healed"), None)


def in_window(c: Completed, w: FaultWindow, end: int | None = None) -> bool:
    """The operation was invoked while the window was open (``end``: where an open window
    stops counting, the history's end by default)."""
    stop = w.end if w.end is not None else end
    return w.start <= c.invoke.time and (stop is None or c.invoke.time < stop)


def ok_in_every_window(fault: str | None = None) -> ExerciseRule:
    """Exercised when every window of ``fault`` (any fault: None) overlaps a successful
    client operation: the system was really used while it was broken."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault or 'fault'} window in the history")
        ops = [(c, c.completion.time) for c in client_ops(history)
               if c.type == "ok" and c.completion is not None]
        counts = []
        for w in windows:
            end = w.end if w.end is not None else float("inf")
            counts.append(sum(1 for c, done in ops if c.invoke.time < end and done >= w.start))
        empty = [i for i, n in enumerate(counts) if n == 0]
        if empty:
            return Exercise(False, f"no operation succeeded during {len(empty)} of "
                                   f"{len(windows)} fault windows")
        return Exercise(True, f"{sum(counts)} operations succeeded during the "
                              f"{len(windows)} fault windows (at least {min(counts)} in each)")

    return described(rule, f"operations succeed during every {fault or 'fault'} window")


def ops_in_every_window(fault: str | None = None, f: str | None = None) -> ExerciseRule:
    """Exercised when calls (``f``, any by default) were made during every window of
    ``fault``, whatever they returned: for claims about what a broken system answers."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault or 'fault'} window in the history")
        ops = [c for c in client_ops(history) if f is None or c.f == f]
        counts = [sum(1 for c in ops if in_window(c, w)) for w in windows]
        if not all(counts):
            return Exercise(False, f"no {f or 'call'} was made during "
                                   f"{counts.count(0)} of {len(windows)} fault windows")
        return Exercise(True, f"{sum(counts)} {f or 'call'}s made during the {len(windows)} "
                              f"fault windows (at least {min(counts)} in each)")

    return described(rule, f"{f or 'call'}s made during every {fault or 'fault'} window")


def acked_before_every_window(f: str, fault: str | None = None) -> ExerciseRule:
    """Exercised when every window of ``fault`` (a crash) came after acknowledged ``f``
    operations and the final read succeeded: there was something to lose, and the loss
    could be seen. For durability claims, where nothing need succeed while a node is down."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault or 'fault'} window in the history")
        done = sorted(c.completion.time for c in client_ops(history)  # type: ignore[union-attr]
                      if c.f == f and c.type == "ok")
        counts = []
        before = 0
        for w in sorted(windows, key=lambda w: w.start):
            n = sum(1 for t in done if before <= t < w.start)
            counts.append(n)
            before = w.end if w.end is not None else w.start
        finals = [c for c in history.complete() if c.is_final]
        if not finals or not any(c.type == "ok" for c in finals):
            return Exercise(False, "no final read succeeded: a loss could not be seen")
        if not all(counts):
            return Exercise(False, f"{counts.count(0)} of {len(windows)} faults came with no "
                                   f"acknowledged {f} since the one before")
        return Exercise(True, f"{sum(counts)} acknowledged {f}s before the {len(windows)} "
                              f"faults (at least {min(counts)} before each), final read ok")

    return described(rule, f"acknowledged {f}s before every {fault or 'fault'}, and a final "
                           "read that could show their loss")


def some_ok(history: History, verdicts: Verdicts) -> Exercise:
    """operations succeed (a claim about fault-free behaviour)"""
    n = sum(1 for c in client_ops(history) if c.type == "ok")
    return Exercise(n > 0, f"{n} operations succeeded" if n else "no operation succeeded")


@dataclass
class Checkers:
    """Decided by the verdicts of the named checkers: refuted by any invalid one (its anomalies
    are the evidence), inconclusive by any unknown one, upheld otherwise, once ``exercise``
    says the behaviour was exercised (default: operations succeeded during every fault)."""

    deciding: Sequence[str]
    exercise: ExerciseRule = field(default_factory=ok_in_every_window)
    exercises: str = "operations succeed during every fault window"
    name: str = "checkers"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return self.exercise(history, verdicts)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        missing = [n for n in self.deciding if n not in verdicts]
        if missing:
            raise ValueError(f"no verdict from deciding checker(s) {missing}")
        invalid = [n for n in self.deciding if verdicts[n].result == "invalid"]
        if invalid:
            anomalies = [a for n in invalid for a in verdicts[n].anomalies]
            kinds = sorted({a.kind for a in anomalies})
            n = len(anomalies)
            return Ruling(REFUTED, f"{', '.join(invalid)}: {n} anomal"
                          f"{'y' if n == 1 else 'ies'} ({', '.join(kinds)})", anomalies)
        unknown = [n for n in self.deciding if verdicts[n].result == "unknown"]
        if unknown:
            return Ruling(INCONCLUSIVE, "; ".join(f"{n}: {verdicts[n].reason or 'unknown'}"
                                                  for n in unknown))
        return Ruling(UPHELD, f"{', '.join(self.deciding)}: valid")


def evidence(kind: str, ops: Sequence[Completed], why: str, limit: int = 20) -> list[Anomaly]:
    """One anomaly per operation (at most ``limit``): how judges hand over their evidence."""
    return [Anomaly(kind, c.indices, why) for c in list(ops)[:limit]]
