"""Judges and exercise rules of the Cassandra consistency-level claims: lightweight
transactions completing under the fault (``paxos_in_every_window``), writes during a cut read
back once the lagging replica is back (``written_then_read_after``), and R + W <= N
(``StaleWhileCut``: a process that writes through one node and reads through the cut one
misses its own write; stale reads while the replica is cut refute).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ....checkers.judge import (
    INCONCLUSIVE,
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
from ....history import History
from .common import WRITES, acked_in, inside

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


# --- stale reads while a replica is cut off ------------------------------------------------

STALE = ("read-your-writes", "monotonic-reads")


def _times(history: History) -> dict[int, int]:
    return {op.index: op.time for op in history}


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
