"""Judge of the counter-behind-a-queue claim ("high-volume counters: eventual consistency via
a queue in front of the table"): ``Converges``, over histories of ``backends/aws/counters.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    evidence,
)
from ....history import Completed, History
from .consumers import drained, sends


def _applied(c: Completed) -> list[int]:
    return list(c.completion.get("applied") or ()) if c.completion is not None else []


def _crashed(c: Completed) -> list[int]:
    return list(c.completion.get("crashed") or ()) if c.completion is not None else []


@dataclass
class Converges:
    """Once the queue is drained the counter settles (the final reads agree) on a value that
    counts every acknowledged event at least once and matches the updates the consumers
    made: no fewer than those acknowledged, no more than those plus what polls with an
    unknown outcome (``batch`` events each) may have made. Refuted by a counter below the
    events (lost increments), off the updates made, or still moving. Over-counting (events
    counted twice after a consumer crashed between its update and its delete) is what the
    claim's eventual consistency allows, and is measured. Exercised: events whose consumer
    crashed after counting them came back and were counted again, the queue drained to empty,
    and two final reads of the counter."""

    batch: int = 10
    name: str = "counter-converges"
    exercises: str = ("events counted, left in the queue by a consumer crash and counted again; "
                      "the queue drained to empty; two final reads of the counter")

    def _finals(self, history: History) -> list[Completed]:
        return [c for c in history.complete() if c.is_final and c.f == "read"]

    def _recounted(self, history: History) -> list[int]:
        polls = [c for c in history.complete() if c.f == "poll" and c.type == "ok"]
        crashed = {m: c for c in polls for m in _crashed(c)}
        return [m for m, c in crashed.items()
                if any(m in _applied(p) and p.invoke.time > c.invoke.time for p in polls)]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        again = self._recounted(history)
        empty = drained(history)
        reads = [c for c in self._finals(history) if c.type == "ok"]
        done = bool(again) and empty.done and len(reads) >= 2
        return Exercise(done, f"{len(again)} events counted again after a consumer crash; "
                              f"{empty.why}; {len(reads)} final reads of the counter")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        reads = [c for c in self._finals(history) if c.type == "ok"]
        if not reads:
            return Ruling(INCONCLUSIVE, "the counter was never read at the end")
        values = [c.value or 0 for c in reads]
        if len(set(values)) > 1:
            text = f"the counter still moved after the queue drained: {values}"
            return Ruling(REFUTED, text, evidence("not-converged", reads, text))
        counter = values[-1]
        polls = [c for c in history.complete() if c.f == "poll"]
        made = sum(len(_applied(c)) for c in polls if c.type == "ok")
        unknown = sum(1 for c in polls if c.type != "ok") * self.batch
        events = len(sends(history))
        if counter < made or counter > made + unknown:
            text = (f"the counter holds {counter} but the consumers made {made} updates "
                    f"(and at most {unknown} more unanswered)")
            return Ruling(REFUTED, text, evidence("counter-mismatch", reads, text))
        if drained(history).done and counter < events:
            text = f"the counter holds {counter} for {events} acknowledged events: increments lost"
            return Ruling(REFUTED, text, evidence("lost-increment", reads, text))
        return Ruling(UPHELD, f"the counter settled at {counter} for {events} acknowledged "
                              f"events: {counter - events} extra counts (events counted again "
                              "after a consumer crashed between update and delete), none lost")
