"""Writes resume once a replica was promoted: the bound starts at the promotion the fault saw.

``watch_promotion`` wraps a kill of a primary in ``faults.watch.Watch``: it asks the primary's
replica for its ``ROLE`` until it answers ``master``, and the heal record says when.
``ResumesAfterPromotion`` then judges, per window, the clients' part only: from the promotion
to the first write acknowledged by a node that took none before, within ``client_bound_s``
(the clients' own timeouts) — ``checkers.recovery.Resumes`` with its onset at the promotion.

Why not one bound from the kill: Redis Cluster's detection and election are bounded by its
settings (``sharded.cluster_rto_bound_s``: 1.5 node timeouts to detect, the election's delay
and timeout), but the detection measured 3.3-4.4 s against the 3 s its derivation gives (the
PFAIL reports a replica needs travel by gossip, slower on a busy machine), and the total
reached 5.8 s of 9.1 under CI's load. The promotion's time is reported beside the settings'
bound; a promotion never seen during a window longer than that bound refutes (no failover).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    Exercise,
    Ruling,
    Verdicts,
    healed,
    windows_of,
)
from ...checkers.recovery import Resumes
from ...checkers.verdict import Anomaly
from ...faults import Fault
from ...faults.watch import Watch, observed
from ...history import FaultWindow, History
from .topology import admin

EVENT = "promoted"


def is_primary(address: str) -> bool:
    """Whether the server at ``address`` calls itself a primary (``ROLE``'s first field)."""
    role = admin(address, timeout=0.3).execute_command("ROLE")
    first = role[0] if role else b""
    return (first.decode() if isinstance(first, bytes) else str(first)) == "master"


def watch_promotion(kill: Fault, replica_address: str, every_s: float = 0.1) -> Watch:
    """``kill`` (of the replica's primary), watched until the replica is promoted."""
    return Watch(kill, EVENT, lambda: is_primary(replica_address), every_s)


@dataclass
class ResumesAfterPromotion:
    f: str  # the write that must resume ("add")
    fault: str  # the watched kill's name
    client_bound_s: float  # from the promotion to the first write on the promoted node
    settings_bound_s: float  # the promotion's bound from the system's settings (reported)
    name: str = "resumes-after-promotion"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"clients call {self.f} during every {self.fault} window, the "
                          "replica's promotion watched by the fault")

    def _resumes(self, onsets: dict[int, int]) -> Resumes:
        return Resumes(self.f, self.fault, bound_s=self.client_bound_s, other_node=True,
                       onset=lambda w: onsets.get(w.start_index, w.start),
                       onset_name="the promotion")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        if any(o is None for o in observed(history, self.fault, EVENT)):
            return Exercise(False, f"a {self.fault}'s promotion was not watched (nothing in "
                                   "its heal record)")
        return self._resumes({}).exercised(history, verdicts)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        seen = observed(history, self.fault, EVENT)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} window in the history")
        onsets: dict[int, int] = {}
        promoted: list[float] = []
        for w, o in zip(windows, seen, strict=True):
            if o is None:
                return Ruling(INCONCLUSIVE, f"a {self.fault}'s promotion was not watched")
            if o.get("after_s") is None:
                return self._never(history, w)
            promoted.append(float(o["after_s"]))
            onsets[w.start_index] = w.start + int(float(o["after_s"]) * NS)
        ruling = self._resumes(onsets).rule(history, verdicts)
        if ruling.outcome == INCONCLUSIVE:
            return ruling
        told = (f"; the replica was promoted at worst {max(promoted):.2f}s into a {self.fault} "
                f"(the settings' bound {self.settings_bound_s:.2f}s), writes counted from "
                f"there (clients' bound {self.client_bound_s:g}s)")
        return Ruling(ruling.outcome, ruling.reason + told, ruling.anomalies)

    def _never(self, history: History, w: FaultWindow) -> Ruling:
        span = ((w.end if w.end is not None else max(op.time for op in history)) - w.start) / NS
        if span < self.settings_bound_s:
            return Ruling(INCONCLUSIVE, f"no promotion seen during a {self.fault} of "
                                        f"{span:.2f}s, shorter than the settings' bound "
                                        f"({self.settings_bound_s:.2f}s)")
        heal = healed(history, w)
        text = (f"no replica was promoted during a {self.fault} of {span:.2f}s, longer than "
                f"the settings' bound ({self.settings_bound_s:.2f}s)")
        return Ruling(REFUTED, text, [Anomaly("no-promotion",
                                              [heal.index if heal else w.start_index], text)])

