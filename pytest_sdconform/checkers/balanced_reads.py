"""The caution about balancing reads over database servers, decided from what sessions saw.

"Load balancing between database servers requires careful consideration because of data
consistency": a claim that warns. It is upheld when reads a balancer spread over several
servers broke a session guarantee the one primary would have kept (read-your-writes, monotonic
reads: the ``sessions`` checker's anomalies, which are the evidence), and refuted when the
reads were spread (served by at least two servers, after acknowledged writes) and every
session's guarantees held anyway: then there was nothing to be careful about. Reads that all
landed on one server exercise nothing, and the case is inconclusive whatever the checker said.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..history import History
from .judge import INCONCLUSIVE, REFUTED, UPHELD, Exercise, Ruling, Verdicts, client_ops

GUARANTEES = ("read-your-writes", "monotonic-reads")


@dataclass
class BalancedReads:
    checker: str = "sessions"
    name: str = "balanced-reads"
    exercises: str = ("reads served by at least two servers after acknowledged writes (the "
                      "balancer spread them)")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        ops = client_ops(history)
        first_write = min((c.completion.time for c in ops  # type: ignore[union-attr]
                           if c.f == "write" and c.type == "ok"), default=None)
        if first_write is None:
            return Exercise(False, "no write was acknowledged")
        served = Counter(c.completion.node for c in ops  # type: ignore[union-attr]
                         if c.f == "read" and c.type == "ok" and c.start > first_write
                         and c.completion.node)  # type: ignore[union-attr]
        if len(served) < 2:
            return Exercise(False, f"reads after the first acknowledged write were served by "
                                   f"{len(served)} server(s): {dict(served)}")
        return Exercise(True, "reads served by " + ", ".join(f"{n}: {k}" for n, k in
                                                            sorted(served.items())))

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        verdict = verdicts.get(self.checker)
        if verdict is None:
            raise ValueError(f"no verdict from the {self.checker} checker")
        if verdict.result == "unknown":
            return Ruling(INCONCLUSIVE, f"{self.checker}: {verdict.reason or 'unknown'}")
        broken = [a for a in verdict.anomalies if a.kind in GUARANTEES]
        if broken:
            kinds = Counter(a.kind for a in broken)
            return Ruling(UPHELD, "balanced reads broke session guarantees: " + ", ".join(
                f"{n} {k}" for k, n in sorted(kinds.items())), broken)
        exercise = self.exercised(history, verdicts)
        if not exercise.done:
            return Ruling(INCONCLUSIVE, f"not exercised: {exercise.why}")
        return Ruling(REFUTED, f"every session kept read-your-writes and monotonic reads "
                               f"though its reads were balanced ({exercise.why})")
