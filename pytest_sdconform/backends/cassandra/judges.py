"""Judges and exercise rules of the Cassandra claims (suites/cassandra).

Each judge says what the history must show before "no violation" may count as upheld, and
refutes with the operations that prove it:

- ``ReplicaHasEveryWrite`` (hinted handoff, repair): writes acknowledged while a replica was
  cut off, then a final read answered by that replica; lost writes refute, unless hints were
  still pending when the final read ran (then they may yet arrive: inconclusive).
- ``StaleWhileCut`` (R + W <= N): a process writes through one node and reads through the cut
  one; a stale read while the replica is cut refutes.
- ``LastWriteWins``: a write acknowledged after another, given an older client timestamp
  (clock skew), and a read after it that returns the earlier write: the later write was
  silently dropped.

Exercise rules for the checker-decided cases: ``paxos_in_every_window`` (LWT rounds completed
while the fault was on), ``written_then_read_after`` (writes during a cut, reads once the
lagging replica is back), ``acked_while_down`` (writes acknowledged while a replica was down),
``with_final_read_from`` (the final read came from the node whose copy is judged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    ExerciseRule,
    Ruling,
    Verdicts,
    client_ops,
    described,
    windows_of,
)
from ...checkers.verdict import Anomaly
from ...history import Completed, FaultWindow, History

WRITES = ("write", "cas")


def inside(c: Completed, w: FaultWindow) -> bool:
    """Invoked after the window opened and answered (any type) before it closed."""
    done = c.completion
    return (w.start <= c.invoke.time and done is not None
            and (w.end is None or done.time < w.end))


def acked_in(history: History, w: FaultWindow, fs: Sequence[str]) -> list[Completed]:
    """Operations ``fs`` invoked and acknowledged (ok) while the window was open."""
    return [c for c in client_ops(history) if c.f in fs and c.type == "ok" and inside(c, w)]


def final_reads_from(history: History, node: str) -> list[Completed]:
    """Successful final reads answered by ``node``."""
    return [c for c in history.complete() if c.is_final and c.type == "ok"
            and c.completion is not None and c.completion.node == node]


# --- exercise rules ------------------------------------------------------------------------


def paxos_in_every_window(fault: str | None = None) -> ExerciseRule:
    """Lightweight transactions: a write or compare-and-set went through Paxos (invoked and
    acknowledged) while the fault was on, in every window: rounds really completed under it."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault or 'fault'} window in the history")
        counts = [len(acked_in(history, w, WRITES)) for w in windows]
        if not all(counts):
            return Exercise(False, f"no LWT write or compare-and-set completed during "
                                   f"{counts.count(0)} of {len(windows)} {fault or 'fault'} "
                                   "windows")
        return Exercise(True, f"{sum(counts)} LWT writes and compare-and-sets completed during "
                              f"the {len(windows)} windows (at least {min(counts)} in each)")

    return described(rule, "LWT writes or compare-and-sets acknowledged during every "
                           f"{fault or 'fault'} window")


def written_then_read_after(fault: str | None = None) -> ExerciseRule:
    """Writes acknowledged while the fault was on (the cut replica misses them), then reads of
    those keys begun after the heal (when a read quorum may include the lagging replica)."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault or 'fault'} window in the history")
        ops = client_ops(history)
        writes, reads = 0, 0
        for w in windows:
            acked = acked_in(history, w, WRITES)
            if not acked:
                return Exercise(False, f"no write acknowledged during a {w.fault} window")
            keys = {c.key for c in acked}
            after = [c for c in ops if c.f == "read" and c.type == "ok" and c.key in keys
                     and w.end is not None and c.invoke.time >= w.end]
            if not after:
                return Exercise(False, f"no read of a key written during a {w.fault} window "
                                       "succeeded after its heal")
            writes, reads = writes + len(acked), reads + len(after)
        return Exercise(True, f"{writes} writes acknowledged during the {len(windows)} "
                              f"windows, {reads} reads of their keys after the heal")

    return described(rule, f"writes acknowledged during every {fault or 'fault'} window and "
                           "reads of their keys after the heal")


def acked_while_down(f: str, fault: str | None = None) -> ExerciseRule:
    """``f`` acknowledged while the fault was on (only the live replicas hold it), in every
    window, and a final read that succeeded: the loss of a replica could cost those writes."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault or 'fault'} window in the history")
        counts = [len(acked_in(history, w, (f,))) for w in windows]
        if not all(counts):
            return Exercise(False, f"no {f} acknowledged during {counts.count(0)} of "
                                   f"{len(windows)} {fault or 'fault'} windows")
        if not any(c.is_final and c.type == "ok" for c in history.complete()):
            return Exercise(False, "no final read succeeded: a loss could not be seen")
        return Exercise(True, f"{sum(counts)} {f}s acknowledged while the replica was down "
                              f"(at least {min(counts)} per window), final read ok")

    return described(rule, f"{f}s acknowledged during every {fault or 'fault'} window, and a "
                           "final read")


def with_final_read_from(node: str, label: str, base: ExerciseRule) -> ExerciseRule:
    """``base``, and a successful final read answered by ``node`` (whose copy is judged)."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        done = base(history, verdicts)
        if not done.done:
            return done
        if not final_reads_from(history, node):
            return Exercise(False, f"no final read was answered by {label}")
        return Exercise(True, f"{done.why}; final read answered by {label}")

    return described(rule, f"{base.__doc__ or ''}; the final read answered by {label}")


# --- hinted handoff and repair -------------------------------------------------------------


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


def _times(history: History) -> dict[int, int]:
    return {op.index: op.time for op in history}


def _ack_time(a: Anomaly, history: History) -> int:
    """The acknowledgement of a lost write: the first ok add among its operations."""
    by_index = {op.index: op for op in history}
    oks = [by_index[i].time for i in a.ops if i in by_index
           and by_index[i].type == "ok" and by_index[i].f == "add"]
    return min(oks) if oks else 0


# --- stale reads while a replica is cut off ------------------------------------------------

STALE = ("read-your-writes", "monotonic-reads")


@dataclass
class StaleWhileCut:
    """R + W <= N: with ``node`` cut off, a process that writes through another node and then
    reads through ``node`` misses its own write. Refuted by the session anomalies (read your
    writes, monotonic reads) whose read was answered while the fault was on; anomalies outside
    the windows are counted in the reason but decide nothing (they are not the cut's doing)."""

    node: str  # the cut node's label (as completions carry it)
    label: str = "the cut node"
    fault: str | None = None
    name: str = "stale-while-cut"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"a process writes through another node, then reads the same key "
                          f"through {self.label}, during every {self.fault or 'fault'} window")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault or 'fault'} window in the history")
        total = 0
        for w in windows:
            ops = [c for c in client_ops(history) if c.type == "ok" and inside(c, w)]
            n = 0
            for c in ops:
                if c.f != "read" or c.completion is None or c.completion.node != self.node:
                    continue
                n += any(p.process == c.process and p.key == c.key and p.f in WRITES
                         and p.completion is not None and p.completion.node != self.node
                         and p.completion.time < c.invoke.time for p in ops)
            if not n:
                return Exercise(False, f"no process read through {self.label} a key it had "
                                       f"written through another node during a {w.fault} "
                                       "window")
            total += n
        return Exercise(True, f"{total} reads through {self.label} of keys their process had "
                              "just written through another node, while it was cut off")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        sessions = verdicts["sessions"]
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault or 'fault'} window in the history")
        times = _times(history)
        stale, outside = [], 0
        for a in sessions.anomalies:
            if a.kind not in STALE:
                continue
            t = max((times[i] for i in a.ops if i in times), default=None)
            if t is not None and any(w.start <= t and (w.end is None or t <= w.end)
                                     for w in windows):
                stale.append(a)
            else:
                outside += 1
        note = f" ({outside} more outside the cut)" if outside else ""
        if stale:
            kinds = sorted({a.kind for a in stale})
            return Ruling(REFUTED, f"{len(stale)} stale reads through {self.label} while it was "
                                   f"cut off ({', '.join(kinds)}){note}", stale)
        if sessions.result == "unknown" and not outside:
            return Ruling(INCONCLUSIVE, f"sessions: {sessions.reason or 'unknown'}")
        return Ruling(UPHELD, f"no stale read while {self.label} was cut off{note}")


# --- last write wins -----------------------------------------------------------------------


def _ts(c: Completed) -> int | None:
    v = c.completion.get("timestamp_us") if c.completion is not None else None
    return int(v) if v is not None else None


@dataclass
class LastWriteWins:
    """"The most recent write propagates": a write acknowledged after another (real-time
    order) must win over it. Refuted by a read begun after the later write was acknowledged
    that returns the earlier one: the later write was silently dropped. With client-supplied
    timestamps (``timestamp_us`` on the ok completion), a dropped write whose timestamp is
    older than the one that beat it is explained by the clock skew.

    Exercised: a write was acknowledged after another on the same key yet given an older
    timestamp (the skew really produced an inversion), and the key was read after it."""

    fault: str | None = "clock-skew"
    name: str = "last-write-wins"
    exercises: str = ("an acknowledged write given an older timestamp than a write acknowledged "
                      "before it began (clock skew), and a read of the key after it")

    def _inversions(self, history: History) -> list[tuple[Completed, Completed]]:
        writes = [c for c in client_ops(history) if c.f == "write" and c.type == "ok"]
        out = []
        for w2 in writes:
            t2 = _ts(w2)
            if t2 is None:
                continue
            for w1 in writes:
                t1 = _ts(w1)
                if (w1.key == w2.key and t1 is not None and t2 < t1 and w1.end is not None
                        and w1.end < w2.invoke.time):
                    out.append((w1, w2))
                    break
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        pairs = [(w1, w2) for w1, w2 in self._inversions(history)
                 if any(w.start <= w2.invoke.time and (w.end is None or w2.invoke.time < w.end)
                        for w in windows)]
        if not pairs:
            return Exercise(False, f"no write acknowledged after another was given an older "
                                   f"timestamp during a {self.fault or 'fault'} window (the "
                                   "skew produced no inversion)")
        reads = [c for c in history.complete() if c.f == "read" and c.type == "ok"]
        read_after = sum(1 for _, w2 in pairs
                         if any(r.key == w2.key and w2.end is not None
                                and r.invoke.time > w2.end for r in reads))
        if not read_after:
            return Exercise(False, f"{len(pairs)} timestamp inversions, but no read after any")
        return Exercise(True, f"{len(pairs)} writes acknowledged after another with an older "
                              f"timestamp, {read_after} of them read after")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        everything = history.complete()
        writes = [c for c in everything if c.f == "write" and c.type == "ok"
                  and c.process != "nemesis"]
        by_value = {(c.key, c.invoke.value): c for c in writes}
        reads = [c for c in everything if c.f == "read" and c.type == "ok"]
        dropped: list[Anomaly] = []
        skewed = 0
        for r in reads:
            w1 = by_value.get((r.key, r.value))
            if w1 is None or w1.end is None:
                continue
            # A write begun after w1 was acknowledged and acknowledged before r began: it is
            # more recent than w1 in real time, yet r returned w1.
            later = [w2 for w2 in writes if w2.key == r.key and w2.end is not None
                     and w2.invoke.time > w1.end and w2.end < r.invoke.time]
            if not later:
                continue
            w2 = max(later, key=lambda c: c.invoke.time)
            assert w2.end is not None
            t1, t2 = _ts(w1), _ts(w2)
            why = (f"write of {w2.invoke.value!r} acknowledged at {w2.end / NS:.3f}s (after the "
                   f"write of {w1.invoke.value!r} was acknowledged at {w1.end / NS:.3f}s) was "
                   f"dropped: a read begun at {r.invoke.time / NS:.3f}s returned "
                   f"{w1.invoke.value!r}")
            if t1 is not None and t2 is not None:
                why += (f" (its timestamp is {(t1 - t2) / 1000:.0f} ms older)" if t2 < t1 else
                        f" (its timestamp is {(t2 - t1) / 1000:.0f} ms newer)")
                skewed += t2 < t1
            dropped.append(Anomaly("lost-update", w1.indices + w2.indices + r.indices, why,
                                   r.key))
        if dropped:
            return Ruling(REFUTED, f"{len(dropped)} reads returned a write that a later "
                                   f"acknowledged write should have replaced ({skewed} "
                                   "explained by an older client timestamp)", dropped)
        return Ruling(UPHELD, "every read after an acknowledged write returned it or a newer one")


__all__ = [
    "STALE",
    "LastWriteWins",
    "ReplicaHasEveryWrite",
    "Settled",
    "StaleWhileCut",
    "acked_while_down",
    "paxos_in_every_window",
    "with_final_read_from",
    "written_then_read_after",
]
