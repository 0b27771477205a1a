"""Single points of failure: does anything succeed while one component is down?

``WhileDown`` judges claims of both directions. "A single instance is a single point of
failure" (``claim="unavailable"``) is upheld when every call made while the component was down
failed, and refuted by one that succeeded. "The balancer is inherently highly available"
(``claim="available"``) is upheld when calls succeeded while it was down, and refuted when
every one failed. A call counts when it was invoked inside the window and completed (ok or
fail) before the window closed; calls still running at the heal tell nothing.

Exercised: calls were made (and completed) during every window of the fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
class WhileDown:
    claim: Literal["unavailable", "available"]
    fault: str = "kill"
    what: str = "the node"
    name: str = "while-down"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = f"calls made and answered while {self.what} was down ({self.fault})"

    def _inside(self, history: History) -> list[list[Completed]]:
        ops = client_ops(history)
        out = []
        for w in windows_of(history, self.fault):
            out.append([c for c in ops if in_window(c, w) and c.end is not None
                        and (w.end is None or c.end < w.end)])
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        per_window = self._inside(history)
        if not per_window:
            return Exercise(False, f"{self.what} was never down ({self.fault})")
        counts = [len(w) for w in per_window]
        if not all(counts):
            return Exercise(False, f"no call was answered during {counts.count(0)} of "
                                   f"{len(counts)} {self.fault} windows")
        return Exercise(True, f"{sum(counts)} calls answered while {self.what} was down "
                              f"(at least {min(counts)} per window)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        inside = [c for w in self._inside(history) for c in w]
        if not inside:
            return Ruling(INCONCLUSIVE, f"no call was answered while {self.what} was down")
        ok = [c for c in inside if c.type == "ok"]
        failed = [c for c in inside if c.type != "ok"]
        if ok:
            text = f"{len(ok)} of {len(inside)} calls succeeded while {self.what} was down"
            if self.claim == "available":
                return Ruling(UPHELD, text)
            return Ruling(REFUTED, text, evidence("served-while-down", ok, text))
        text = (f"all {len(inside)} calls made while {self.what} was down failed: "
                "a single point of failure")
        if self.claim == "unavailable":
            return Ruling(UPHELD, text)
        return Ruling(REFUTED, text, evidence("unavailable", failed, text))
