"""The judge of "strong consistency over the database indexes" (ddb-gsi-strong-crawler):
DynamoDB's global secondary indexes are eventually consistent only. Two things refute the
claim: a strongly consistent query of the GSI refused by the service (the guarantee is not
offered), and a query of the index that misses an item whose put was acknowledged before the
query began (a stale index read). An emulator that refuses nothing and updates its indexes
with the write cannot show the lag: inconclusive (emulator), never upheld."""

from __future__ import annotations

from dataclasses import dataclass

from ....checkers.judge import INCONCLUSIVE, REFUTED, UPHELD, Exercise, Ruling, Verdicts, evidence
from ....history import Completed, History
from .settings import answered


def _gsi_queries(history: History, strong: bool) -> list[Completed]:
    return [c for c in history.complete()
            if c.f == "query" and c.key == "gsi" and bool(c.invoke.value) == strong
            and answered(c)]


def stale_index_reads(history: History) -> list[tuple[Completed, list[str]]]:
    """Accepted GSI queries that miss a put acknowledged before the query was invoked (each
    with the keys it missed). Items are only put, never deleted, so a later query must hold
    every key acknowledged before it."""
    done = [(c.end, str(c.key)) for c in history.complete()
            if c.f == "write" and c.type == "ok" and c.end is not None]
    stale: list[tuple[Completed, list[str]]] = []
    for q in history.complete():
        if q.f != "query" or q.key != "gsi" or q.type != "ok" or not isinstance(q.value, list):
            continue
        found = set(q.value)
        missed = sorted({k for t, k in done if t < q.start and k not in found})
        if missed:
            stale.append((q, missed))
    return stale


@dataclass
class IndexStrongConsistency:
    """Refuted by a refused strong GSI query or a stale GSI read; ``emulator``: no refutation
    is inconclusive (emulator), since the emulator's index cannot lag."""

    emulator: bool
    limit: str = ""
    name: str = "gsi-strong-consistency"
    exercises: str = ("strongly consistent queries of the global secondary index answered, "
                      "and index queries invoked after acknowledged puts")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        strong = _gsi_queries(history, True)
        acked = [c.end for c in history.complete()
                 if c.f == "write" and c.type == "ok" and c.end is not None]
        after = [q for q in _gsi_queries(history, False) + strong
                 if q.type == "ok" and acked and q.start > min(acked)]
        if not strong:
            return Exercise(False, "no strongly consistent query of the GSI was answered")
        if not after and all(q.type == "ok" for q in strong):
            return Exercise(False, "no index query ran after an acknowledged put")
        return Exercise(True, f"{len(strong)} strong GSI queries answered, "
                              f"{len(after)} index reads after acknowledged puts")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        refused = [c for c in _gsi_queries(history, True) if c.type != "ok"]
        stale = stale_index_reads(history)
        if refused:
            error = refused[0].completion.error if refused[0].completion else None
            text = (f"{len(refused)} strongly consistent queries of the GSI refused ({error}): "
                    "DynamoDB offers no strong consistency over a global secondary index")
            if stale:
                text += f"; {len(stale)} index reads missed acknowledged puts"
            return Ruling(REFUTED, text, evidence("strong-read-refused", refused, text)
                          + evidence("stale-index-read", [q for q, _ in stale], text))
        if stale:
            missed = stale[0][1]
            text = (f"{len(stale)} index reads missed puts acknowledged before them "
                    f"(first: {len(missed)} missed, {missed[:3]})")
            return Ruling(REFUTED, text, evidence("stale-index-read", [s for s, _ in stale],
                                                  text))
        if self.emulator:
            return Ruling(INCONCLUSIVE, f"inconclusive (emulator): {self.limit}")
        return Ruling(UPHELD, "strong GSI queries accepted and no index read missed an "
                              "acknowledged put")
