"""Judge of the SNS claim: every acknowledged publish reaches every subscribed queue
(``EverySubscriber``), duplicates allowed, once every subscriber queue has been drained to
empty (a message missing from a queue not drained could still be waiting in it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    evidence,
)
from ....history import History
from .common import acked, path_faults, receipts
from .consumers import drained


@dataclass
class EverySubscriber:
    """Every acknowledged publish reaches every subscribed queue (duplicates allowed).
    Exercised: publishes acknowledged, every queue drained to empty at the end (or a missing
    message could still be waiting in it), and the path faults exercised."""

    subscribers: Sequence[Any]
    name: str = "every-subscriber"
    exercises: str = ("acknowledged publishes, every subscriber queue drained to empty, and "
                      "the path faults exercised")

    def _drained(self, history: History) -> list[Any]:
        """The subscriber queues drained to empty (``consumers.drained``)."""
        return [q for q in self.subscribers if drained(history, [q]).done]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        sent = acked(history)
        drained = self._drained(history)
        why = (f"{len(sent)} publishes acknowledged; {len(drained)} of "
               f"{len(self.subscribers)} subscriber queues drained to empty")
        if not sent or len(drained) < len(self.subscribers):
            return Exercise(False, why)
        faults = path_faults("send")(history, verdicts)
        return Exercise(faults.done, f"{why}; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        sent = acked(history)
        if not sent:
            return Ruling(INCONCLUSIVE, "no publish was acknowledged")
        got: dict[Any, set[Any]] = {q: set() for q in self.subscribers}
        for _, key, m in receipts(history):
            got.setdefault(key, set()).add(m)
        missing = {q: sorted(sent - got[q]) for q in self.subscribers if sent - got[q]}
        if missing:
            drained = self._drained(history)
            if any(q not in drained for q in missing):
                return Ruling(INCONCLUSIVE, f"publishes missing from {sorted(missing)}, whose "
                                            "queues were not drained to empty")
            q, ms = next(iter(missing.items()))
            lost = set().union(*map(set, missing.values()))
            sends = [c for c in history.complete() if c.f == "send" and c.type == "ok"
                     and c.invoke.value in lost]
            text = (f"{len(lost)} acknowledged publishes missing from subscribers "
                    f"{sorted(missing)} (e.g. {q}: {ms[:5]})")
            return Ruling(REFUTED, text, evidence("lost-message", sends, text))
        return Ruling(UPHELD, f"each of {len(self.subscribers)} subscriber queues received all "
                              f"{len(sent)} acknowledged publishes")
