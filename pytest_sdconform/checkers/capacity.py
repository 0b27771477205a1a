"""Capacity: N+1. With a server to spare, losing one costs no request; without one, requests are
missed in every failure until the server is replaced.

``NPlusOne(spare=True)`` is upheld when no request invoked while a server was down failed, and
refuted by the ones that did. ``NPlusOne(spare=False)`` (the pool needs every server) is upheld
when requests were missed in every failure, and refuted by a failure that cost nothing (its
successful requests are the evidence: the pool had capacity to spare after all).

Exercised: in every window of the fault, at least ``min_requests`` requests were invoked and
answered (ok or fail) before it closed: the pool was under load while it was short a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..history import Completed, History
from .judge import (
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


@dataclass
class NPlusOne:
    spare: bool  # the pool has one server more than the load needs
    fault: str = "kill"
    min_requests: int = 1
    name: str = "n-plus-one"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"at least {self.min_requests} requests made and answered during "
                          f"every {self.fault}")

    def _per_window(self, history: History) -> list[list[Completed]]:
        ops = client_ops(history)
        return [[c for c in ops if in_window(c, w) and c.completion is not None
                 and (w.end is None or c.completion.time <= w.end)]
                for w in windows_of(history, self.fault)]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        per = self._per_window(history)
        if not per:
            return Exercise(False, f"no {self.fault} window in the history")
        counts = [len(w) for w in per]
        short = [n for n in counts if n < self.min_requests]
        if short:
            return Exercise(False, f"{len(short)} of {len(per)} {self.fault} windows had fewer "
                                   f"than {self.min_requests} answered requests ({counts})")
        return Exercise(True, f"{sum(counts)} requests answered during {len(per)} "
                              f"{self.fault}s (at least {min(counts)} each)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        per = self._per_window(history)
        if not per or not any(per):
            return Ruling(INCONCLUSIVE, f"no request was answered during a {self.fault}")
        failed = [[c for c in w if c.type != "ok"] for w in per]
        text = ", ".join(f"{len(f)}/{len(w)} failed" for f, w in zip(failed, per, strict=True))
        if self.spare:
            bad = [c for f in failed for c in f]
            if bad:
                why = f"requests failed although a spare server was left: {text}"
                return Ruling(REFUTED, why, evidence("missed-with-spare", bad, why))
            return Ruling(UPHELD, f"no request failed while one of N+1 servers was down: {text}")
        free = [w for f, w in zip(failed, per, strict=True) if w and not f]
        if free:
            why = f"a {self.fault} without a spare server cost nothing: {text}"
            return Ruling(REFUTED, why, evidence("served-without-spare", free[0], why))
        return Ruling(UPHELD, f"without a spare server requests were missed in every "
                              f"{self.fault}: {text}")
