"""Judges of the Cassandra claims about writes no replica took and about conflicting writes:
consistency level ANY acknowledging a write while every replica of its key is down
(``AckedWithoutReplica``), concurrent writes on the two sides of a partition resolved by
last-write-wins rather than kept as siblings (``SiblingsKept``), and Dynamo's "available under
partitions, converges afterwards" (``AvailableThenConverges``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
    windows_of,
)
from ....checkers.verdict import Anomaly
from ....history import Completed, History
from .common import WRITES, acked_in, inside, unexercised


@dataclass
class AckedWithoutReplica:
    """"A write at ANY succeeds once it is applied to at least one replica." Refuted by a write
    invoked after every replica of its key was down or cut off (the ``fault`` window, proven
    before it opens) and acknowledged before any came back (the window closes when the heal
    begins): no replica can have applied it; the coordinator kept a hint. ``replicas`` says
    what the fault did, as a clause ("every replica of the keys was down").
    Upheld when writes were sent in that window and every one was refused.

    Exercised: writes invoked and answered (any way) inside every window."""

    fault: str | None = "kill"
    replicas: str = "every replica of the keys was down"
    fs: Collection[str] = ("add", "write")
    name: str = "acked-without-replica"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"writes invoked and answered while {self.replicas}, in every "
                          f"{self.fault or 'fault'} window")

    def _answered(self, history: History) -> list[list[Completed]]:
        return [[c for c in client_ops(history) if c.f in self.fs and inside(c, w)]
                for w in windows_of(history, self.fault)]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        per = self._answered(history)
        if not per:
            return Exercise(False, f"no {self.fault or 'fault'} window in the history")
        if not all(per):
            return Exercise(False, f"no write was answered while {self.replicas} "
                                   f"in {sum(1 for p in per if not p)} of {len(per)} windows")
        return Exercise(True, f"{sum(map(len, per))} writes answered while {self.replicas}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        if not windows_of(history, self.fault):
            return Ruling(INCONCLUSIVE, f"no {self.fault or 'fault'} window in the history")
        acked = [c for w in windows_of(history, self.fault)
                 for c in acked_in(history, w, tuple(self.fs))]
        if acked:
            return Ruling(REFUTED, f"{len(acked)} writes acknowledged while {self.replicas}: "
                                   "applied to no replica (a hint on the coordinator at most)",
                          evidence("acked-without-replica", acked,
                                   f"acknowledged while {self.replicas}"))
        answered = sum(map(len, self._answered(history)))
        return Ruling(UPHELD, f"all {answered} writes sent while {self.replicas} were "
                              "refused")


def _side(c: Completed, sides: Mapping[str, Collection[str]]) -> str | None:
    node = c.completion.node if c.completion is not None else None
    return next((s for s, nodes in sides.items() if node in nodes), None)


@dataclass
class SiblingsKept:
    """"Vector clocks and Merkle trees resolve conflicts": writes to one key acknowledged on
    both sides of a partition are concurrent (neither side could see the other's), so a
    conflict resolution that tracks causality keeps both: after the heal and a repair, a final
    read returns each side's last acknowledged write of the window (siblings, a list). Refuted
    when the final read returns one side's write alone: the other side's last acknowledged
    write, which nothing on its side replaced, was dropped silently (last-write-wins by
    timestamp). ``repaired``: set by the suite once the repair (Merkle-tree comparison) has
    completed before the final read.

    Exercised: per key, writes acknowledged inside the window on both sides, no write
    acknowledged after it (the final read then decides between the two sides), and a final
    read after a completed repair."""

    sides: Mapping[str, Collection[str]]  # side -> node labels (completions' ``node``)
    fault: str | None = "partition"
    repaired: list[bool] = field(default_factory=list)  # [True] once a repair completed
    name: str = "siblings-kept"
    exercises: str = ("writes to one key acknowledged on both sides of a partition, none after "
                      "it, and a final read after a completed repair")

    def _last_per_side(self, history: History) -> dict[str, dict[str, Completed]]:
        """key -> side -> the last write acknowledged inside a window on that side."""
        out: dict[str, dict[str, Completed]] = {}
        for w in windows_of(history, self.fault):
            for c in acked_in(history, w, WRITES):
                side = _side(c, self.sides)
                if side is None or c.end is None:
                    continue
                last = out.setdefault(str(c.key), {}).get(side)
                if last is None or (last.end is not None and c.end > last.end):
                    out[str(c.key)][side] = c
        return out

    def _contested(self, history: History) -> dict[str, dict[str, Completed]]:
        windows = windows_of(history, self.fault)
        end = max((w.end for w in windows if w.end is not None), default=None)
        later = {c.key for c in client_ops(history) if c.f in WRITES and c.type in ("ok", "info")
                 and end is not None and c.end is not None and c.end >= end}
        return {k: v for k, v in self._last_per_side(history).items()
                if len(v) == len(self.sides) and k not in later}

    def _finals(self, history: History) -> dict[str, Completed]:
        return {str(c.key): c for c in history.complete()
                if c.is_final and c.type == "ok" and c.f == "read"}

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        contested = self._contested(history)
        missing = unexercised(history, self.fault, contested,
                              "no key had writes acknowledged on every side of the partition "
                              "and none after it",
                              bool(self.repaired),
                              "the repair did not complete before the final read")
        if missing is not None:
            return missing
        read = [k for k in contested if k in self._finals(history)]
        if not read:
            return Exercise(False, "no final read of a contested key succeeded")
        return Exercise(True, f"{len(read)} keys written on both sides of the partition, read "
                              "after a completed repair")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        finals = self._finals(history)
        dropped: list[Anomaly] = []
        kept = 0
        for key, last in self._contested(history).items():
            final = finals.get(key)
            if final is None:
                continue
            got = final.value if isinstance(final.value, list) else [final.value]
            missing = [(s, c) for s, c in last.items() if c.invoke.value not in got]
            if not missing:
                kept += 1
                continue
            winner = [s for s, c in last.items() if c.invoke.value in got]
            for side, c in missing:
                dropped.append(Anomaly(
                    "lost-concurrent-update", c.indices + final.indices,
                    f"the {side} side's last write {c.invoke.value!r}, concurrent with the "
                    f"{'/'.join(winner) or 'other'} side's, is gone: the final read after the "
                    f"repair returned {final.value!r}, no sibling kept", key))
        if dropped:
            return Ruling(REFUTED, f"{len(dropped)} acknowledged concurrent writes dropped "
                                   "without a conflict being reported (last-write-wins)",
                          dropped)
        if not kept:
            return Ruling(INCONCLUSIVE, "no contested key was read at the end")
        return Ruling(UPHELD, f"{kept} keys kept every side's concurrent write")


@dataclass
class AvailableThenConverges:
    """Dynamo's promise: "highly available under partitions" (each side answers: ``CapRow``
    with every side expected to answer) and "eventually consistent" (after the heal, final
    reads from different nodes agree: the ``convergence`` verdict). Refuted by a side that
    refused, or by final reads that disagree; inconclusive when either part cannot tell."""

    sides: Mapping[str, Collection[str]]
    fault: str | None = "partition"
    name: str = "available-then-converges"
    exercises: str = field(init=False)
    _cap: CapRow = field(init=False)

    def __post_init__(self) -> None:
        self._cap = CapRow(sides=self.sides, expect={s: True for s in self.sides},
                           fault=self.fault)
        self.exercises = (f"{self._cap.exercises}, and final reads of a key from at least two "
                          "nodes after the heal")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        cap = self._cap.exercised(history, verdicts)
        if not cap.done:
            return cap
        conv = verdicts.get("convergence")
        if conv is None or conv.result == "unknown":
            return Exercise(False, "convergence could not be checked: "
                                   + (conv.reason if conv is not None else "no verdict"))
        return Exercise(True, f"{cap.why}; final reads compared")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        cap = self._cap.rule(history, verdicts)
        if cap.outcome == REFUTED:
            return cap
        conv = verdicts.get("convergence")
        if conv is not None and conv.result == "invalid":
            return Ruling(REFUTED, f"the replicas did not converge: {conv.reason}",
                          list(conv.anomalies))
        if cap.outcome == INCONCLUSIVE or conv is None or conv.result == "unknown":
            return Ruling(INCONCLUSIVE, cap.reason if cap.outcome == INCONCLUSIVE else
                          "convergence: " + (conv.reason if conv is not None else "no verdict"))
        return Ruling(UPHELD, f"{cap.reason}; the final reads agree")
