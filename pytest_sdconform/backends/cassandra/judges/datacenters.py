"""Judges of the Cassandra claims about two data centres: "QUORUM over two DCs is weak
consistency" (``QuorumIsWeak``: a QUORUM read through one data centre that misses a write
acknowledged at QUORUM through the other before it began) and disaster recovery by
replication to another data centre (``SurvivesDcLoss``: with one data centre lost, the other
keeps every acknowledged write and serves). The LOCAL_QUORUM and EACH_QUORUM rows are
``checkers.cap.CapRow`` with a data centre per side; ``RefusesOnlyWhenCut`` adds the control a
refusal needs (the same calls succeed before the cut).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from ....checkers.cap import CapRow
from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    in_window,
    windows_of,
)
from ....checkers.verdict import Anomaly
from ....history import Completed, History
from .common import acked_in, final_reads_from, inside


def _node(c: Completed) -> str | None:
    return c.completion.node if c.completion is not None else None


@dataclass
class QuorumIsWeak:
    """The claim: QUORUM across two data centres is "weak consistency". Writes at QUORUM go
    through ``writers`` (one data centre's coordinators), reads at QUORUM through ``readers``
    (the other's). A read *must see* a write acknowledged before it began unless a newer one
    was; a read that returns an older acknowledged write (or nothing) instead is stale, and
    upholds the claim. Refuted when every such cross-DC read saw the newest acknowledged write
    or a newer one: reads and write quorums intersect, which is not weak.

    Exercised: at least ``min_pairs`` cross-DC reads begun after a write was acknowledged,
    some of them inside every ``fault`` window, and reads that returned at least two distinct
    values (they followed the writes)."""

    writers: Collection[str]
    readers: Collection[str]
    fault: str | None = "kill"
    min_pairs: int = 20
    name: str = "quorum-is-weak"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"at least {self.min_pairs} QUORUM reads through the other data "
                          f"centre begun after a QUORUM write was acknowledged, in every "
                          f"{self.fault or 'fault'} window, returning several values")

    def _pairs(self, history: History) -> list[tuple[Completed, Completed, Completed | None]]:
        """(read, the newest write acknowledged before it began, what it returned)."""
        ops = client_ops(history) + [c for c in history.complete() if c.is_final]
        writes = [c for c in ops if c.f == "write" and c.type == "ok" and c.end is not None
                  and _node(c) in self.writers]
        # Every write a read may return, those that timed out (info) included.
        by_value = {(c.key, c.invoke.value): c for c in ops if c.f == "write"}
        out = []
        for r in ops:
            if r.f != "read" or r.type != "ok" or _node(r) not in self.readers:
                continue
            before = [w for w in writes if w.key == r.key and w.end is not None
                      and w.end < r.invoke.time]
            if before:
                newest = max(before, key=lambda w: w.end or 0)
                out.append((r, newest, by_value.get((r.key, r.value))))
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        pairs = self._pairs(history)
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault or 'fault'} window in the history")
        per = [sum(1 for r, _, _ in pairs if in_window(r, w)) for w in windows]
        values = {(r.key, repr(r.value)) for r, _, _ in pairs}
        if len(pairs) < self.min_pairs or not all(per):
            return Exercise(False, f"{len(pairs)} cross-DC reads after an acknowledged write "
                                   f"({per.count(0)} windows without one)")
        if len(values) < 2:
            return Exercise(False, "the cross-DC reads all returned one value")
        return Exercise(True, f"{len(pairs)} cross-DC reads after an acknowledged write "
                              f"(at least {min(per)} per window), {len(values)} values seen")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        stale: list[Anomaly] = []
        pairs = self._pairs(history)
        for r, newest, got in pairs:
            assert newest.end is not None
            # Nothing, or a write acknowledged before the newest was invoked (a timed-out write
            # may have landed after it: not counted).
            if (r.value is None and got is None) or (
                    got is not None and got.type == "ok" and got.end is not None
                    and got.end < newest.invoke.time):
                stale.append(Anomaly(
                    "stale-read", newest.indices + r.indices,
                    f"a QUORUM read through {_node(r)} returned {r.value!r}, older than "
                    f"{newest.invoke.value!r} acknowledged through {_node(newest)} before the "
                    "read began", r.key))
        if stale:
            return Ruling(UPHELD, f"{len(stale)} of {len(pairs)} cross-DC QUORUM reads missed "
                                  "an acknowledged write: weak", stale)
        done = self.exercised(history, verdicts)
        if not done.done:
            return Ruling(INCONCLUSIVE, f"no stale read, but not exercised: {done.why}")
        return Ruling(REFUTED, f"every one of {len(pairs)} QUORUM reads through the other data "
                               "centre returned the newest write acknowledged at QUORUM before "
                               "it began, or a newer one: write and read quorums intersect "
                               "across the data centres (not weak)",
                      evidence("read-saw-write", [r for r, _, _ in pairs[-5:]],
                               "a cross-DC QUORUM read that saw the newest acknowledged "
                               "write"))


@dataclass
class SurvivesDcLoss:
    """Disaster recovery across data centres: while ``lost`` (every node of one data centre)
    is down, the ``survivors`` (the other's coordinators) keep taking writes, and the final
    read through a survivor (at LOCAL_QUORUM: the surviving data centre's copy alone) holds
    every acknowledged add (the ``lost-writes`` verdict), those acknowledged before the loss
    included. Refuted by a lost write, or by survivors that refused every add during the loss.

    Exercised: adds acknowledged before the first window, adds answered by the survivors in
    every window, and a final read answered by a survivor."""

    survivors: Collection[str]
    fault: str | None = "kill"
    label: str = "the surviving data centre"
    name: str = "survives-dc-loss"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = ("adds acknowledged before the data centre was lost, adds sent to "
                          f"{self.label} during every {self.fault or 'fault'} window, and a "
                          f"final read answered by {self.label}")

    def _during(self, history: History) -> list[list[Completed]]:
        return [[c for c in client_ops(history) if c.f == "add" and inside(c, w)
                 and _node(c) in self.survivors] for w in windows_of(history, self.fault)]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault or 'fault'} window in the history")
        first = min(w.start for w in windows)
        before = [c for c in client_ops(history) if c.f == "add" and c.type == "ok"
                  and c.end is not None and c.end < first]
        if not before:
            return Exercise(False, "no add was acknowledged before the data centre was lost")
        per = self._during(history)
        if not all(per):
            return Exercise(False, f"{self.label} received no add in {per.count([])} of "
                                   f"{len(per)} windows")
        if not any(final_reads_from(history, n) for n in self.survivors):
            return Exercise(False, f"no final read was answered by {self.label}")
        return Exercise(True, f"{len(before)} adds acknowledged before the loss, "
                              f"{sum(map(len, per))} sent to {self.label} during it")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        lost = verdicts.get("lost-writes")
        if lost is not None and lost.result == "invalid":
            return Ruling(REFUTED, f"{self.label} lacks acknowledged writes: {lost.reason}",
                          list(lost.anomalies))
        refused = [calls for calls in self._during(history)
                   if calls and not any(c.type == "ok" for c in calls)]
        if refused:
            return Ruling(REFUTED, f"{self.label} refused all {len(refused[0])} adds sent to "
                                   "it while the other data centre was lost",
                          evidence("refused", refused[0], f"refused by {self.label}"))
        if lost is None or lost.result == "unknown":
            return Ruling(INCONCLUSIVE, "lost-writes: "
                          + (lost.reason if lost is not None else "no verdict"))
        served = sum(1 for w in windows_of(history, self.fault)
                     for _ in acked_in(history, w, ("add",)))
        return Ruling(UPHELD, f"{self.label} kept every acknowledged write and took {served} "
                              "adds while the other data centre was lost")


@dataclass
class RefusesOnlyWhenCut:
    """A ``CapRow`` whose refusals only count if the same calls succeed without the fault:
    exercised once ``base`` is and at least ``min_ok`` calls were acknowledged before the
    first window opened (a consistency level that never succeeds says nothing about what a
    partition does to it)."""

    base: CapRow
    min_ok: int = 1
    name: str = "cap-row-with-control"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"{self.base.exercises}, and at least {self.min_ok} calls "
                          "acknowledged before the first window")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        done = self.base.exercised(history, verdicts)
        if not done.done:
            return done
        windows = windows_of(history, self.base.fault)
        first = min((w.start for w in windows), default=None)
        before = [c for c in client_ops(history) if c.type == "ok" and c.end is not None
                  and (first is None or c.end < first)]
        if len(before) < self.min_ok:
            return Exercise(False, f"{len(before)} calls acknowledged before the first window: "
                                   "refusals during it prove nothing")
        return Exercise(True, f"{done.why}; {len(before)} acknowledged before the first window")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        return self.base.rule(history, verdicts)
