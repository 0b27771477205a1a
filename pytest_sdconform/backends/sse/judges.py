"""Did each subscriber recover the events it missed while its connection was down?

``EventsRecovered`` reads the publishers' ``send`` operations (an ok carries the server's
``event_id``) and the subscribers' ``poll`` results (``[subscriber, id, message]`` in receive
order, with the reconnections each made: ``[subscriber, Last-Event-ID sent, server's head]``).
A subscriber owes every event published with an id above the first one it received, up to
the head at the final drain: an acknowledged one it never received is a ``lost-message`` (a
gap), and refutes the claim (for a subscriber still behind at the drain, only the gaps below
the last event it received count: events arrive in id order, so those will never come); a
received event whose message is not what was published under that id is an
``unexpected-message``.

Exercised: some subscriber reconnected after events were published while it was away (the
head it found is above the id it sent) after time away that overlaps a fault window
(``tied_reconnects``), and every subscriber reached
the head at the drain (a subscriber still behind may yet receive what it lacks).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ...checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    windows_of,
)
from ...checkers.verdict import Anomaly
from ...history import Completed, History


def _polls(history: History) -> list[Completed]:
    return [c for c in history.complete() if c.f == "poll" and c.type == "ok"]


def _drain(history: History) -> Completed | None:
    return next((c for c in _polls(history) if c.is_final), None)


def _reconnects(history: History) -> list[list[Any]]:
    return [r for c in _polls(history) if c.completion is not None
            for r in c.completion.get("reconnects") or []]


def tied_reconnects(history: History, fault: str | None = None) -> list[list[Any]]:
    """The reconnections that a ``fault`` window (any fault: None) may have caused: those
    whose time away overlaps the window. A subscriber was away from at least the publication
    of the last event it had received (the ``send`` of the id it sent back, from its
    invocation; unknown: since its poller's previous poll began) until its reconnection, at
    the latest the end of the poll that reported it."""
    windows = windows_of(history, fault)
    last = max((op.time for op in history.ops), default=0)
    sent_at: dict[int, int] = {}
    for c in client_ops(history):
        if c.f == "send" and c.type == "ok" and c.completion is not None \
                and c.completion.get("event_id") is not None:
            sent_at[int(c.completion.get("event_id"))] = c.start
    tied: list[list[Any]] = []
    since: dict[Any, int] = {}
    for c in sorted(_polls(history), key=lambda c: c.start):
        lower = since.get(c.process, 0)
        since[c.process] = c.start
        upper = c.end if c.end is not None else last
        for r in (c.completion.get("reconnects") or []) if c.completion is not None else []:
            away = sent_at.get(int(r[1]), lower) if r[1] is not None else lower
            if any(upper >= w.start and away <= (w.end if w.end is not None else last)
                   for w in windows):
                tied.append(r)
    return tied


@dataclass
class EventsRecovered:
    fault: str | None = None  # the windows a reconnection must be tied to (None: any fault)
    name: str = "events-recovered"
    exercises: str = ("a subscriber reconnecting, during a fault or the recovery after it, "
                      "after events were published while it was away, and every subscriber "
                      "at the server's last event at the drain")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        if not windows_of(history, self.fault):
            return Exercise(False, f"no {self.fault or 'fault'} window in the history")
        tied = tied_reconnects(history, self.fault)
        missed = [r for r in tied if r[2] > r[1]]
        if not missed:
            n = len(_reconnects(history))
            return Exercise(False, f"no subscriber missed an event while away through a "
                                   f"fault ({n} reconnections, {len(tied)} tied to a fault "
                                   "window, none of those found newer events at the server)")
        drain = _drain(history)
        if drain is None or drain.completion is None:
            return Exercise(False, "no final drain of the subscribers")
        behind = drain.completion.get("behind") or []
        if behind:
            return Exercise(False, f"{', '.join(behind)} had not reached the server's last "
                                   "event at the drain")
        return Exercise(True, f"{len(missed)} reconnections after "
                              f"{sum(r[2] - r[1] for r in missed)} events published meanwhile")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        drain = _drain(history)
        if drain is None or drain.completion is None:
            return Ruling(INCONCLUSIVE, "no final drain of the subscribers")
        head = int(drain.completion.get("head") or 0)
        published: dict[int, Completed] = {}
        for c in client_ops(history):
            if c.f == "send" and c.type == "ok" and c.completion is not None:
                published[int(c.completion.get("event_id"))] = c
        got: dict[str, dict[int, tuple[Any, Completed]]] = defaultdict(dict)
        for c in _polls(history):
            for sub, event_id, message in c.value or []:
                if event_id is not None:
                    got[sub].setdefault(int(event_id), (message, c))
        anomalies = []
        for sub, events in sorted(got.items()):
            first = min(events)
            for event_id, (message, c) in events.items():
                send = published.get(event_id)
                if send is not None and send.value != message:
                    anomalies.append(Anomaly("unexpected-message", send.indices + c.indices,
                                             f"{sub}: event {event_id} carried {message!r}, "
                                             f"published as {send.value!r}", sub))
            # Events arrive in id order (replayed ones first), so one missing below the last
            # received will never come; above it, a subscriber still behind may yet get it.
            behind = drain.completion.get("behind") or []
            last = head if sub not in behind else max(events)
            for event_id in range(first + 1, last + 1):
                send = published.get(event_id)
                if event_id not in events and send is not None:
                    anomalies.append(Anomaly("lost-message", send.indices + drain.indices,
                                             f"{sub}: event {event_id} ({send.value!r}) "
                                             f"published, never received", sub))
        if anomalies:
            lost = sum(1 for a in anomalies if a.kind == "lost-message")
            return Ruling(REFUTED, f"{lost} published events never reached a subscriber that "
                                   f"was streaming before them ({len(anomalies) - lost} "
                                   "others wrong)", anomalies)
        if not got:
            return Ruling(INCONCLUSIVE, "no subscriber received any event")
        behind = drain.completion.get("behind") or []
        if behind:
            return Ruling(INCONCLUSIVE, f"no gap so far, but {', '.join(behind)} had not "
                                        "reached the server's last event at the drain")
        return Ruling(UPHELD, f"every subscriber received every event after its first, up to "
                              f"event {head} ({len(got)} subscribers)")
