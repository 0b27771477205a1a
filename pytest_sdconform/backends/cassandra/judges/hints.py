"""Judge of the Cassandra hinted-handoff and repair claims: every write acknowledged while a
replica was cut off is on that replica after the heal (``ReplicaHasEveryWrite``, decided by the
lost-writes verdict of its final read). Lost writes refute, unless hints were still pending
when the final read ran (``Settled``: then they may yet arrive, inconclusive); writes missing
from every replica (``split_by_view``) are a loss no hint or repair could undo, not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    windows_of,
)
from ....checkers.verdict import Anomaly
from ....history import History
from .common import acked_in, final_reads_from


@dataclass
class Settled:
    """What the settle step after the heal found; the suite's ``converged`` callback fills it.

    ``hints_drained``: the hint holder reported no pending hints before the final read (None:
    not asked). ``repaired``: a full repair completed before the final read (None: not run).
    """

    hints_drained: bool | None = None
    repaired: bool | None = None
    detail: str = ""


@dataclass
class ReplicaHasEveryWrite:
    """Every acknowledged add is on ``replica`` after the heal (its final read, at ONE, on keys
    it owns). Decided by the ``lost-writes`` verdict of that final read."""

    replica: str  # the node label completions carry (its address)
    label: str = "the lagging replica"
    fault: str | None = None
    settled: Settled = field(default_factory=Settled)
    need_repair: bool = False
    name: str = "replica-has-every-write"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"adds acknowledged while {self.label} was cut off, in every "
                          f"{self.fault or 'fault'} window, and a final read answered by "
                          f"{self.label}" + (", after a full repair" if self.need_repair else ""))

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"{self.label} was never cut off")
        counts = [len(acked_in(history, w, ("add",))) for w in windows]
        if not all(counts):
            return Exercise(False, f"no add was acknowledged while {self.label} was cut off "
                                   f"({counts.count(0)} of {len(windows)} windows)")
        if not final_reads_from(history, self.replica):
            return Exercise(False, f"no final read was answered by {self.label}")
        if self.need_repair and not self.settled.repaired:
            return Exercise(False, "the repair did not complete before the final read")
        return Exercise(True, f"{sum(counts)} adds acknowledged while {self.label} was cut off; "
                              f"final read answered by {self.label}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        lost = verdicts["lost-writes"]
        if lost.result == "unknown":
            return Ruling(INCONCLUSIVE, f"lost-writes: {lost.reason}")
        windows = windows_of(history, self.fault)
        during = sum(len(acked_in(history, w, ("add",))) for w in windows)
        if lost.result == "valid":
            return Ruling(UPHELD, f"{self.label} has every acknowledged write ({during} "
                                  f"acknowledged while it was cut off)")
        lagging, gone, view = split_by_view(lost.anomalies, history)
        gone_note = (f"; {len(gone)} more are missing from every replica ({view} read): "
                     "acknowledged at ONE by a single replica that then crashed, a loss no "
                     "hint or repair could undo, not counted here" if gone else "")
        if not lagging:
            return Ruling(UPHELD, f"{self.label} has every acknowledged write the cluster still "
                                  f"holds ({during} acknowledged while it was cut off)"
                                  f"{gone_note}")
        if self.need_repair and not self.settled.repaired:
            return Ruling(INCONCLUSIVE, f"{len(lagging)} acknowledged writes missing on "
                                        f"{self.label}, but the repair the claim relies on did "
                                        f"not complete before the final read: it may have "
                                        f"brought them{gone_note}")
        if self.settled.hints_drained is False:
            return Ruling(INCONCLUSIVE, f"{len(lagging)} acknowledged writes missing on "
                                        f"{self.label}, but hints were still pending when the "
                                        f"final read ran ({self.settled.detail}): they may yet "
                                        f"arrive{gone_note}")
        first = min((w.start for w in windows), default=None)
        before = sum(1 for a in lagging if a.kind == "lost-write" and first is not None
                     and _ack_time(a, history) < first)
        drained = (f" after the hint holder reported no pending hints ({self.settled.detail})"
                   if self.settled.hints_drained else "")
        repaired = " and a full repair" if self.settled.repaired else ""
        elsewhere = f", though the cluster still has them ({view} read)" if view else ""
        return Ruling(REFUTED, f"{len(lagging)} acknowledged writes are missing on "
                               f"{self.label}{drained}{repaired}{elsewhere} ({before} "
                               f"acknowledged before the window opened (a cut is on before its "
                               f"start is recorded, while it is proved), the rest of the "
                               f"{during} acknowledged during it){gone_note}", lagging)


def split_by_view(anomalies: Sequence[Anomaly], history: History
                  ) -> tuple[list[Anomaly], list[Anomaly], str]:
    """Lost writes split by the final read's ``cluster_view`` (what the cluster as a whole
    still had, read beside the replica's own copy): (still held elsewhere, so the replica
    lags; missing everywhere; the view's consistency level, "" without a view). Without a
    view every lost write counts as lagging."""
    by_index = {op.index: op for op in history}
    lagging, gone = [], []
    cls: set[str] = set()
    for a in anomalies:
        ops = [by_index[i] for i in a.ops if i in by_index]
        writes = [op for op in ops if op.f == "add" and op.type == "ok"]
        views = [op for op in ops if op.f == "read" and op.type == "ok"
                 and op.get("cluster_view") is not None]
        if a.kind != "lost-write" or not writes or not views:
            lagging.append(a)
            continue
        cls.update(str(op.get("cluster_view_cl")) for op in views)
        if any(writes[0].value in op.get("cluster_view") for op in views):
            lagging.append(a)
        else:
            gone.append(a)
    return lagging, gone, "/".join(sorted(cls))


def _ack_time(a: Anomaly, history: History) -> int:
    """The acknowledgement of a lost write: the first ok add among its operations."""
    by_index = {op.index: op for op in history}
    oks = [by_index[i].time for i in a.ops if i in by_index
           and by_index[i].type == "ok" and by_index[i].f == "add"]
    return min(oks) if oks else 0
