"""The downtime clients see through a failover (``rds-failover-small-downtime``).

``Failover(promote="at-heal")`` kills the primary at the window's start and promotes the
standby at its heal: from the death to the heal's record (``failover-healed``, written once
the standby is primary) is an HA manager's detection time (the fault's duration, a setting of
the manager) plus the promotion PostgreSQL took (measured). What clients see is
longer by what they need to notice the dead connection and find the new primary: the runner's
``op_timeout`` and libpq's ``connect_timeout``, the clients' own settings. "Small" is not a
figure, so the claim is held to those settings: writes are back within them, or not."""

from __future__ import annotations

from dataclasses import dataclass, field

from ....checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    healed,
)
from ....checkers.verdict import Anomaly
from ....history import Completed, History
from .failover import FAILOVER, Timeline, timelines


@dataclass
class DowntimeWithinDetection:
    """The unavailability window clients saw (from the primary's death to the first write
    acknowledged after it: on the promoted standby, since the old primary stays down, fenced)
    is within the failover's own span (detection + promotion, from the window) plus
    ``client_bound_s`` (the clients' timeouts to notice and reconnect).

    Exercised: writes acknowledged before the death, writes tried while there was no primary
    (clients saw the outage), and the window closed (the standby was promoted). Refuted: no
    write acknowledged after the promotion, or the first one later than the bound (the writes
    that failed in between are the evidence)."""

    client_bound_s: float
    f: str = "add"
    fault: str = FAILOVER
    name: str = "downtime-within-detection"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"{self.f}s acknowledged before the primary died, {self.f}s tried "
                          "while there was no primary, and the standby promoted")

    def _ops(self, history: History) -> list[Completed]:
        return [c for c in client_ops(history) if c.f == self.f]

    def _promoted(self, history: History, t: Timeline) -> int | None:
        """When the standby was primary: the heal's record (the promotion is done at the heal),
        else the window's end (the heal began then)."""
        op = healed(history, t.window)
        return op.time if op is not None else t.window.end

    def _down(self, history: History, t: Timeline, ops: list[Completed]) -> list[Completed]:
        """Calls made while there was no primary: from the death to the promotion."""
        done = self._promoted(history, t)
        end = done if done is not None else float("inf")
        return [c for c in ops if t.killed <= c.invoke.time < end]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        lines = timelines(history, self.fault)
        if not lines:
            return Exercise(False, f"no {self.fault} with a recorded kill")
        if any(t.window.end is None for t in lines):
            return Exercise(False, f"a {self.fault} never ended: the standby was not promoted")
        ops = self._ops(history)
        before = [sum(1 for c in ops if c.type == "ok" and c.completion is not None
                      and c.completion.time < t.killed) for t in lines]
        down = [len(self._down(history, t, ops)) for t in lines]
        if not all(before) or not all(down):
            return Exercise(False, f"{sum(before)} {self.f}s acknowledged before the primary "
                                   f"died and {sum(down)} tried while there was none (every "
                                   "failover needs both)")
        return Exercise(True, f"{sum(before)} {self.f}s acknowledged before the primary died, "
                              f"{sum(down)} tried while there was none")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        lines = timelines(history, self.fault)
        if not lines:
            return Ruling(INCONCLUSIVE, f"no {self.fault} with a recorded kill")
        ops = self._ops(history)
        figures, anomalies = [], []
        for t in lines:
            done = self._promoted(history, t)
            if done is None:
                return Ruling(INCONCLUSIVE, f"the {self.fault} never ended")
            span = (done - t.killed) / NS
            bound = span + self.client_bound_s
            back = sorted((c for c in ops if c.type == "ok" and c.completion is not None
                           and c.completion.time >= t.killed),
                          key=lambda c: c.completion.time)  # type: ignore[union-attr]
            failed = [c for c in ops if c.type != "ok" and c.invoke.time >= t.killed]
            if not back:
                anomalies += [Anomaly("no-write-after-failover",
                                      [*c.indices, t.window.start_index], "no write was "
                                      "acknowledged after the primary died") for c in failed[:20]]
                figures.append(f"no write back (failover took {span:.2f}s)")
                continue
            first = back[0]
            assert first.completion is not None
            downtime = (first.completion.time - t.killed) / NS
            figures.append(f"{downtime:.2f}s (failover {span:.2f}s: detection + promotion; "
                           f"bound {bound:.2f}s)")
            if downtime > bound:
                gap = [c for c in failed if c.invoke.time < first.completion.time]
                anomalies += [Anomaly("downtime-beyond-bound", c.indices + first.indices
                                      + [t.window.start_index],
                                      f"{self.f} failed {(c.invoke.time - t.killed) / NS:.2f}s "
                                      f"after the death; writes back only after "
                                      f"{downtime:.2f}s, bound {bound:.2f}s")
                              for c in gap[:20]]
        if anomalies:
            return Ruling(REFUTED, "downtime beyond the failover's own span plus the clients' "
                                   f"{self.client_bound_s:g}s to reconnect: "
                                   + "; ".join(figures), anomalies)
        return Ruling(UPHELD, "downtime clients saw, from the primary's death to the first "
                              "acknowledged write: " + "; ".join(figures)
                              + f" (clients' reconnect bound {self.client_bound_s:g}s)")
