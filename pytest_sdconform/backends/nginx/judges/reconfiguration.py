"""Judge of the nginx reconfiguration claims: a reload or a scale-in loses no request
(``NoFailedRequests``), exercised when requests were in flight during every window, which opens
once the new workers run and closes when the old ones are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from ....history import History

# --- reconfiguration -----------------------------------------------------------------------------


@dataclass
class NoFailedRequests:
    """Upheld when no request of the run failed or ended unknown; refuted by those that did.
    Exercised when requests were in flight during every ``fault`` window (a reload, a scale-in:
    the window opens once the new workers run and closes when the old ones are gone)."""

    fault: str
    name: str = "no-failed-requests"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = f"requests in flight during every {self.fault}"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} happened")
        ops = client_ops(history)
        counts = []
        for w in windows:
            end = w.end if w.end is not None else float("inf")
            counts.append(sum(1 for c in ops if c.invoke.time < end and (
                c.completion is None or c.completion.time >= w.start)))
        if not all(counts):
            return Exercise(False, f"no request was in flight during {counts.count(0)} of "
                                   f"{len(windows)} {self.fault}s")
        return Exercise(True, f"{sum(counts)} requests in flight during {len(windows)} "
                              f"{self.fault}s (at least {min(counts)} each)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} happened")
        calls = client_ops(history)
        bad = [c for c in calls if c.type != "ok"]
        if bad:
            errors = sorted({str(c.completion.error if c.completion else "no answer")
                             for c in bad})[:3]
            text = (f"{len(bad)} of {len(calls)} requests failed across {len(windows)} "
                    f"{self.fault}s: {', '.join(errors)}")
            return Ruling(REFUTED, text, evidence("failed-request", bad, text))
        return Ruling(UPHELD, f"all {len(calls)} requests succeeded across {len(windows)} "
                              f"{self.fault}s")
