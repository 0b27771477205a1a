"""msk-broker-replacement's judge: writes continue while a leader broker is down or cut off,
within a bound that starts at the election the fault saw (``faults.Election``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    healed,
    windows_of,
)
from ...checkers.recovery import Resumes
from ...history import FaultWindow, History


@dataclass
class WritesContinue:
    """msk-broker-replacement: sends succeed again while the broker is still down or cut off,
    and no acknowledged message is lost. The bound starts from what the cluster did: the
    fault's heal record says when the other brokers first named a new leader
    (``elected_after_s``, the fault's ``Election``); sends must be back within
    ``client_bound_s`` after that (the producers' own timeouts: what was in flight to the old
    leader fails by its message timeout, then the client starts again). ``Resumes`` rules with
    the bound ``elected_after_s + client_bound_s`` from the window's start.

    A window in which no client even tried to send is inconclusive, and so is one that closed
    with nothing resumed before its bound was due (the heal came first: nothing shown either
    way). No election seen: no bound, sends must still be back within the window."""

    fault: str
    client_bound_s: float
    no_loss: str = "delivery"
    name: str = "writes-continue"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = f"clients call send during every {self.fault} window"

    def _resumes(self, bound_s: float | None) -> Resumes:
        return Resumes("send", self.fault, bound_s=bound_s, no_loss=self.no_loss,
                       name=self.name)

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return self._resumes(None).exercised(history, verdicts)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        tried = self.exercised(history, verdicts)
        if not tried.done and verdicts[self.no_loss].result != "invalid":
            return Ruling(INCONCLUSIVE, f"not exercised: {tried.why}")
        windows = windows_of(history, self.fault)
        elected = [_elected_after_s(history, w) for w in windows]
        if not windows or None in elected:  # no failover seen: back within the window, at least
            ruling = self._resumes(None).rule(history, verdicts)
            if ruling.outcome == UPHELD:
                ruling.reason += "; no new leader was seen, so no bound was applied"
            return ruling
        worst = max(e for e in elected if e is not None)
        bound = worst + self.client_bound_s
        if verdicts[self.no_loss].result != "invalid":
            for w in windows:
                lasted = (w.end - w.start) / NS if w.end is not None else None
                if lasted is not None and lasted < bound and not _sent_ok_within(history, w):
                    return Ruling(INCONCLUSIVE, f"the {self.fault} healed {lasted:.1f}s in, "
                                                f"before sends were due back ({bound:.1f}s: a "
                                                f"new leader after {worst:.2f}s, then "
                                                f"{self.client_bound_s:g}s)")
        ruling = self._resumes(bound).rule(history, verdicts)
        ruling.reason += (f" (a new leader named {worst:.2f}s in, then at most "
                          f"{self.client_bound_s:g}s for the producers)")
        return ruling


def _sent_ok_within(history: History, w: FaultWindow) -> bool:
    return any(c.f == "send" and c.type == "ok" and c.completion is not None
               and w.covers(c.invoke.time) and w.covers(c.completion.time)
               for c in client_ops(history))


def _elected_after_s(history: History, w: FaultWindow) -> float | None:
    op = healed(history, w)
    value = op.value if op is not None and isinstance(op.value, dict) else {}
    after = value.get("elected_after_s")
    return float(after) if value.get("new_leader") and after is not None else None


def writes_continue(fault: str, client_bound_s: float) -> WritesContinue:
    return WritesContinue(fault, client_bound_s)
