"""Judges and history readers specific to Redis.

- ``rdb_snapshots``: the RDB snapshots a server really completed, read from the ``INFO
  persistence`` fields that ``RedisClient(persistence_info=True)`` records with every write;
  the safe points of ``checkers.loss_window.LossWindow``.
- ``DeposedPrimaryLoss``: with ``min-replicas-to-write``, a primary cut off from its replicas
  (here: paused while Sentinel promotes one) acknowledges writes for at most
  min-replicas-max-lag plus one replication cron after it last heard from them; only writes
  acknowledged that close to the fault may be lost.
- ``ReplicaReadsAndFailover``: replicas serve reads, and one takes over the writes when the
  primary is lost (redis-ha-replica-failover as documented).
- ``MissedOwnWritesWhileCut``: reads from replicas cut off from the primary miss the reader's
  own writes (redis-ha-replica-failover, reading from replicas).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    windows_of,
)
from ...checkers.loss_window import SafePoint
from ...checkers.recovery import Resumes
from ...checkers.sessions import check_sessions
from ...checkers.verdict import Anomaly
from ...history import NEMESIS, Completed, FaultWindow, History


def rdb_snapshots(history: History, fault: str = "kill") -> list[SafePoint]:
    """The RDB snapshots each server lifetime completed, as safe points.

    Every acknowledged write carries what ``INFO persistence`` said right after the server
    applied it: ``rdb_saves`` (background saves begun in this lifetime: Redis counts one when
    it forks), ``rdb_bgsave_in_progress`` and ``rdb_last_bgsave_status``. Hence:

    - snapshot k completed with success by the completion of a write that saw ``rdb_saves`` k
      and none in progress, or ``rdb_saves`` k+1 in progress, with the last status ``ok``;
    - it holds every write the server applied before it forked, in particular each write that
      saw ``rdb_saves`` < k, and so every write acknowledged before such a write's invocation:
      the latest such invocation is what the snapshot ``covers``.

    A kill restarts the server and its counters, so lifetimes are told apart by the ``fault``
    windows, and a write whose call spans one is not used. Writes without the fields (another
    client) are ignored; without any, there is no safe point.
    """
    windows = sorted(windows_of(history, fault), key=lambda w: w.start)
    lives: list[tuple[float, float]] = []
    lo: float = float("-inf")
    for w in windows:
        lives.append((lo, w.start))
        if w.end is None:
            lo = float("inf")
            break
        lo = w.end
    if lo != float("inf"):
        lives.append((lo, float("inf")))
    seen = [c for c in client_ops(history) if c.type == "ok" and c.completion is not None
            and c.completion.get("rdb_saves") is not None]
    points: list[SafePoint] = []
    for start, end in lives:
        mine = [c for c in seen if c.invoke.time >= start
                and c.completion.time < end]  # type: ignore[union-attr]
        done: dict[int, Completed] = {}  # snapshot -> the first write that saw it completed
        for c in mine:
            saves, running, status = _fields(c)
            if status != "ok":
                continue
            k = saves if not running else saves - 1
            if k >= 1 and (k not in done or c.completion.time  # type: ignore[union-attr]
                           < done[k].completion.time):  # type: ignore[union-attr]
                done[k] = c
        for k, reporter in sorted(done.items()):
            before = [c for c in mine if _fields(c)[0] < k]
            if not before:
                continue
            latest = max(before, key=lambda c: c.invoke.time)
            points.append(SafePoint(reporter.completion.time,  # type: ignore[union-attr]
                                    latest.invoke.time, f"RDB snapshot {k}",
                                    tuple(sorted({*reporter.indices, *latest.indices}))))
    return points


def _fields(c: Completed) -> tuple[int, bool, str]:
    done = c.completion
    assert done is not None
    return (int(done.get("rdb_saves")), bool(int(done.get("rdb_bgsave_in_progress") or 0)),
            str(done.get("rdb_last_bgsave_status")))


@dataclass
class DeposedPrimaryLoss:
    """min-replicas-to-write: "an isolated old primary stops accepting writes within max-lag".

    The primary acknowledges a write only while it counts enough replicas that acknowledged
    its stream within ``min-replicas-max-lag``; it recounts them once a second (the replication
    cron). So it may acknowledge writes up to ``bound_s`` = max-lag + that second after it last
    heard from its replicas: before a pause (what the replicas had not yet received) and on
    waking from it (the writes that waited in its socket buffers are served before the cron
    runs). A lost write is allowed only when its call overlaps ``[start - bound, start]`` or
    ``[end, end + bound]`` of a pause window (the call's span, not its acknowledgement alone:
    a busy client thread may record an acknowledgement late).

    Exercised, for every pause: writes acknowledged before it, writes in flight when it ended
    (sent before the wake, answered after it: the woken primary served or refused them),
    writes acknowledged after it by a node that
    acknowledged none before the first pause (a replica was promoted: the primary really was
    deposed), and a final read.
    """

    max_lag_s: float
    cron_s: float = 1.0
    f: str = "add"
    fault: str = "pause"
    lost: str = "lost-writes"
    name: str = "deposed-primary-loss"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"for every {self.fault}: {self.f}s acknowledged before it, in "
                          f"flight when it ended (answered by the woken primary), acknowledged "
                          f"after it by a promoted node; a final read")

    @property
    def bound_s(self) -> float:
        return self.max_lag_s + self.cron_s

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = sorted(windows_of(history, self.fault), key=lambda w: w.start)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        ops = [c for c in client_ops(history) if c.f == self.f]
        acked = [c for c in ops if c.type == "ok" and c.completion is not None]
        old = {c.completion.node for c in acked  # type: ignore[union-attr]
               if c.completion.time < windows[0].start}  # type: ignore[union-attr]
        gaps = []
        previous = 0
        for i, w in enumerate(windows, 1):
            end = w.end if w.end is not None else float("inf")
            if not any(previous <= c.completion.time < w.start  # type: ignore[union-attr]
                       for c in acked):
                gaps.append(f"no {self.f} acknowledged before {self.fault} {i}")
            if not any(c.invoke.time < end and c.completion is not None
                       and c.completion.time >= end for c in ops):
                gaps.append(f"no {self.f} in flight when {self.fault} {i} ended")
            if not any(c.completion.time >= end  # type: ignore[union-attr]
                       and c.completion.node not in old for c in acked):  # type: ignore[union-attr]
                gaps.append(f"no {self.f} acknowledged by a promoted node after {self.fault} "
                            f"{i} (no failover)")
            previous = int(end) if w.end is not None else w.start
        finals = [c for c in history.complete() if c.is_final]
        if not any(c.type == "ok" for c in finals):
            gaps.append("no final read succeeded")
        if gaps:
            return Exercise(False, "; ".join(gaps))
        return Exercise(True, f"{len(acked)} {self.f}s acknowledged around {len(windows)} "
                              f"{self.fault}s, writes in flight at the end of each, a promoted "
                              "node acknowledging after each, final read ok")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} window in the history")
        lost = verdicts[self.lost]
        if lost.result == "unknown":
            return Ruling(INCONCLUSIVE, f"{self.lost}: {lost.reason or 'unknown'}")
        if lost.result == "valid":
            return Ruling(UPHELD, "no acknowledged write was lost")
        bound = int(self.bound_s * NS)
        spans = []
        for w in windows:
            spans.append((w.start - bound, w.start))
            if w.end is not None:
                spans.append((w.end, w.end + bound))
        calls = {i: c for c in client_ops(history) if c.f == self.f and c.type == "ok"
                 for i in c.indices}
        late: list[Anomaly] = []
        for a in lost.anomalies:
            c = next((calls[i] for i in a.ops if i in calls), None)
            if a.kind != "lost-write" or c is None or c.completion is None:
                late.append(a)  # a phantom, or anything else that no bound allows
                continue
            lo, hi = c.invoke.time, c.completion.time
            if not any(lo <= b and hi >= s for s, b in spans):
                late.append(Anomaly("lost-outside-bound", a.ops,
                                    f"{a.explanation}; its call ({lo / NS:.3f}s to "
                                    f"{hi / NS:.3f}s) is more than {self.bound_s:g}s from "
                                    f"every {self.fault}", a.key))
        n = len(lost.anomalies)
        if late:
            return Ruling(REFUTED, f"{len(late)} of {n} lost writes were acknowledged more "
                                   f"than {self.bound_s:g}s (min-replicas-max-lag "
                                   f"{self.max_lag_s:g}s + replication cron {self.cron_s:g}s) "
                                   f"away from the {self.fault}", late)
        return Ruling(UPHELD, f"{n} acknowledged writes lost, all within {self.bound_s:g}s "
                              f"(min-replicas-max-lag {self.max_lag_s:g}s + replication cron "
                              f"{self.cron_s:g}s) of a {self.fault}")


def only(history: History, f: str) -> History:
    """The history with the client operations ``f`` alone (and the nemesis)."""
    return History([op for op in history if op.process == NEMESIS or op.f == f],
                   history.path, None, dict(history.meta))


@dataclass
class ReplicaReadsAndFailover:
    """"Replicas can help scale reads or provide failover when the primary is lost."

    Upheld when replicas (nodes that acknowledged no ``write`` before the first fault) answered
    reads, and the writes resumed on another node during every loss of the primary, as
    ``recovery`` (a ``Resumes`` with ``other_node``) judges on the writes alone. Refuted when
    no replica answered a read, or by ``recovery``. Exercised: reads sent to replicas, and
    writes during every fault window.
    """

    recovery: Resumes
    read: str = "read"
    name: str = "replica-reads-and-failover"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = f"reads sent to replicas; {self.recovery.exercises}"

    def _replica_reads(self, history: History) -> list[Completed]:
        windows = windows_of(history, self.recovery.fault)
        first = min((w.start for w in windows), default=None)
        ops = client_ops(history)
        primary = {c.completion.node for c in ops if c.f == self.recovery.f and c.type == "ok"
                   and c.completion is not None and (first is None or c.completion.time < first)}
        return [c for c in ops if c.f == self.read and c.completion is not None
                and c.completion.node is not None and c.completion.node not in primary]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        reads = self._replica_reads(history)
        if not reads:
            return Exercise(False, "no read was sent to a replica")
        failover = self.recovery.exercised(only(history, self.recovery.f), verdicts)
        if not failover.done:
            return failover
        return Exercise(True, f"{len(reads)} reads sent to replicas; {failover.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        reads = self._replica_reads(history)
        if not reads:
            return Ruling(INCONCLUSIVE, "no read was sent to a replica")
        ok = [c for c in reads if c.type == "ok"]
        if not ok:
            return Ruling(REFUTED, f"none of {len(reads)} reads sent to replicas succeeded",
                          evidence("replica-unavailable", reads, "read refused by a replica"))
        failover = self.recovery.rule(only(history, self.recovery.f), verdicts)
        nodes = sorted({str(c.completion.node) for c in ok if c.completion is not None})
        text = f"{len(ok)} of {len(reads)} reads served by replicas ({', '.join(nodes)})"
        return Ruling(failover.outcome, f"{text}; {failover.reason}", failover.anomalies)


@dataclass
class MissedOwnWritesWhileCut:
    """Reads from replicas miss the reader's own writes while the replicas are cut off from
    the primary (asynchronous replication: a cut replica keeps answering, from old data).

    Refuted by the read-your-writes anomalies of ``check_sessions`` run on every write and
    the reads made inside a ``fault`` window, which are the evidence; reads away from every
    window are not counted (replication lag without a fault shows them too, but only
    sometimes, and they would not be the fault's doing). Upheld when there is none. Exercised:
    in every window, some process read after its own acknowledged write, both inside it.
    """

    checker: str = "sessions"
    fault: str = "partition"
    kinds: tuple[str, ...] = ("read-your-writes",)
    name: str = "missed-own-writes-while-cut"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"in every {self.fault} window, a read after the same client's "
                          "acknowledged write, both inside it")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        ops = client_ops(history)
        counts = []
        for w in windows:
            end = w.end if w.end is not None else float("inf")
            inside = [c for c in ops if c.type == "ok" and c.completion is not None
                      and w.start <= c.invoke.time and c.completion.time < end]
            writes: dict[Any, int] = {}
            n = 0
            for c in sorted(inside, key=lambda c: c.invoke.time):
                if c.f == "read":
                    done = writes.get(c.process)
                    if done is not None and done < c.invoke.time:
                        n += 1
                elif c.completion is not None:
                    writes[c.process] = min(writes.get(c.process, c.completion.time),
                                            c.completion.time)
            counts.append(n)
        if not all(counts):
            return Exercise(False, f"no read after an own write in {counts.count(0)} of "
                                   f"{len(windows)} {self.fault} windows")
        return Exercise(True, f"{sum(counts)} reads after their client's own write inside the "
                              f"{len(windows)} {self.fault} windows (at least {min(counts)} "
                              "in each)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} window in the history")
        # The checker runs again with each window's reads alone: on the whole history it stops
        # at its first 1000 anomalies, which plain replication lag before the cut can fill.
        touching: list[Anomaly] = []
        unknown = []
        for w in windows:
            v = check_sessions(inside(history, w))
            touching += [a for a in v.anomalies if a.kind in self.kinds]
            if v.result == "unknown":
                unknown.append(v.reason or "unknown")
        if touching:
            return Ruling(REFUTED, f"{len(touching)} reads missed their client's own write "
                                   f"while the replicas were cut off ({self.checker})",
                          touching)
        if unknown:
            return Ruling(INCONCLUSIVE, f"{self.checker}: {'; '.join(unknown)}")
        whole = verdicts.get(self.checker)
        away = sum(1 for a in whole.anomalies if a.kind in self.kinds) if whole else 0
        return Ruling(UPHELD, f"no read missed its client's own write during a {self.fault}"
                              + (f" ({away} away from the faults, not counted)" if away else ""))


def inside(history: History, w: FaultWindow, read: str = "read") -> History:
    """Every write of the history, and only the reads made and answered inside a window (the
    writes stay so that a read of an older value can still be placed)."""
    end = w.end if w.end is not None else float("inf")
    keep = {i for c in client_ops(history) if c.f != read or (
        c.completion is not None and w.start <= c.invoke.time and c.completion.time < end)
        for i in c.indices}
    return History([op for op in history if op.index in keep or (
        op.process == NEMESIS and w.start <= op.time <= end)], history.path, None,
        dict(history.meta))
