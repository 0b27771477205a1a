"""The caution about balancing reads over database servers, decided from what sessions saw.

"Load balancing between database servers requires careful consideration because of data
consistency": a claim that warns. It is upheld when reads a balancer spread over several
servers broke a session guarantee the one primary would have kept (read-your-writes, monotonic
reads: the ``sessions`` checker's anomalies, which are the evidence), and refuted when the
reads were spread and every session's guarantees held anyway: then there was nothing to be
careful about. A refutation needs the spreading exercised: reads served by at least two
servers, and ``min_cross_reads`` reads that followed their session's own write of the key on
another server than the one that took it (each a chance to miss that write); with fewer the
case is inconclusive whatever the checker said.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..history import History
from .judge import INCONCLUSIVE, REFUTED, UPHELD, Exercise, Ruling, Verdicts, client_ops

GUARANTEES = ("read-your-writes", "monotonic-reads")


def cross_reads(history: History) -> int:
    """Reads (ok) invoked after the same process's latest acknowledged write of the key, and
    served by another server than the one that acknowledged it."""
    last: dict[tuple[object, object], tuple[int, str | None]] = {}
    count = 0
    for c in sorted(client_ops(history), key=lambda c: c.invoke.index):
        if c.completion is None or c.type != "ok":
            continue
        key = (c.process, c.key)
        if c.f == "write":
            last[key] = (c.completion.index, c.completion.node)
        elif c.f == "read" and key in last:
            done, node = last[key]
            if done < c.invoke.index and c.completion.node != node:
                count += 1
    return count


@dataclass
class BalancedReads:
    checker: str = "sessions"
    # The sample a refutation needs: reads that could each have missed their session's write.
    min_cross_reads: int = 20
    name: str = "balanced-reads"
    exercises: str = ("reads served by at least two servers, and enough reads that followed "
                      "the session's own write of their key on another server than the one "
                      "that took it (each one a chance to miss it)")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        cross = cross_reads(history)
        served = Counter(c.completion.node for c in client_ops(history)  # type: ignore[union-attr]
                         if c.f == "read" and c.type == "ok" and c.completion.node)  # type: ignore[union-attr]
        if len(served) < 2:
            return Exercise(False, f"reads were served by {len(served)} server(s): "
                                   f"{dict(served)}")
        if cross < self.min_cross_reads:
            return Exercise(False, f"{cross} reads followed the session's own write of their "
                                   f"key on another server than the one that took it, fewer "
                                   f"than {self.min_cross_reads}")
        return Exercise(True, f"{cross} reads after the session's own write, on another "
                              "server; reads served by " + ", ".join(
                                  f"{n}: {k}" for n, k in sorted(served.items())))

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
