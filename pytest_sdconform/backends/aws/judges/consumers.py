"""Judges of the SQS claims about what consumers see (and SNS fan-out to queues): delay queues
(``DelayedUntil``: no message received before the queue's DelaySeconds ran out), re-queue of
failed messages (``Requeued``: a message whose processing failed comes back), decoupling through
a consumer outage (``ProducerUnaffected``: producers go on, nothing sent meanwhile is lost) and
standard-queue order (``BestEffortOrder``). Bounds are the queue's own settings, measured against
the recorded times: a send took effect no sooner than its invocation, a receive had happened by
its poll's ``received_by``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    windows_of,
)
from ....history import Completed, History
from .common import receipts
from .queues import received_by


def sends(history: History) -> dict[Any, Completed]:
    """Every acknowledged send, by message."""
    return {c.invoke.value: c for c in client_ops(history) if c.f == "send" and c.type == "ok"}


def first_receipts(history: History, queue: Any = ...) -> dict[Any, Completed]:
    """Each message's first receipt (the poll that surely received it earliest); ``queue``:
    only polls of that key (default: any)."""
    first: dict[Any, Completed] = {}
    for c, key, m in receipts(history):
        if queue is not ... and key != queue:
            continue
        if m not in first or received_by(c) < received_by(first[m]):
            first[m] = c
    return first


def lost(history: History, queues: Sequence[Any] = (...,)) -> list[tuple[Any, Completed]]:
    """(queue, send) for every acknowledged message some queue never received."""
    out = []
    for q in queues:
        got = first_receipts(history, q)
        out += [(q, s) for m, s in sends(history).items() if m not in got]
    return out


def _in_flight(c: Completed) -> int:
    """The messages a drain poll found in flight (0 when its client did not ask)."""
    return int(c.completion.get("in_flight") or 0) if c.completion is not None else 0


def drained(history: History, queues: Sequence[Any] = (...,)) -> Exercise:
    """Every queue drained to empty: its last final poll succeeded, received nothing, and
    (where its client asked: ``messaging.drain_check``) no message was in flight then. A
    message missing from a queue not drained could still be waiting in it, hidden by a
    receive whose answer was lost until its visibility timeout runs out."""
    last: dict[Any, Completed] = {}
    for c in history.complete():
        if c.is_final and c.f == "poll":
            last[c.key] = c
    out, hidden = [], 0
    for q in queues:
        polls = list(last.values()) if q is ... else [last[q]] if q in last else []
        hidden += sum(map(_in_flight, polls))
        out.append(bool(polls) and all(
            c.type == "ok" and not c.value and not _in_flight(c) for c in polls))
    names = ["the queue" if q is ... else str(q) for q in queues]
    if all(out):
        return Exercise(True, f"{', '.join(names)} drained to empty")
    left = [n for n, ok in zip(names, out, strict=True) if not ok]
    why = f"{', '.join(left)} not drained to empty"
    if hidden:
        why += f" ({hidden} messages still in flight at the last poll)"
    return Exercise(False, why)


def _lost_ruling(history: History, queues: Sequence[Any], what: str) -> Ruling | None:
    if not drained(history, queues).done:
        return None  # a message not received yet may be waiting: no loss to claim
    gone = lost(history, queues)
    if not gone:
        return None
    q, s = gone[0]
    where = "" if q is ... else f" from queue {q}"
    text = (f"{len(gone)} acknowledged messages never received{where} ({what}), e.g. "
            f"{s.invoke.value}")
    return Ruling(REFUTED, text, evidence("lost-message", [s for _, s in gone], text))


@dataclass
class DelayedUntil:
    """"Messages sent to a delay queue stay invisible for the delay period": refuted when a
    message was received sooner than ``delay_s`` after it was sent (its first receive had
    happened by ``received_by``, its send was made no sooner than its invocation), or an
    acknowledged message was never received. Exercised: polls that surely ran inside a
    message's delay (after its send was acknowledged, answered before the delay ran out) and
    got nothing of it, and that message received later."""

    delay_s: float
    name: str = "delayed-until"
    exercises: str = ("polls made while a sent message was still delayed, that message received "
                      "later, and the queue drained to empty")

    def _hidden(self, history: History) -> list[tuple[Completed, Completed]]:
        first = first_receipts(history)
        polls = [c for c in client_ops(history) if c.f == "poll" and c.type == "ok"]
        out = []
        for m, s in sends(history).items():
            if m not in first or s.end is None:
                continue
            until = s.invoke.time + int(self.delay_s * NS)
            out += [(s, p) for p in polls if p.invoke.time >= s.end and received_by(p) <= until
                    and m not in {v for _, _, v in p.value or ()}]
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        hidden = self._hidden(history)
        messages = len({s.invoke.value for s, _ in hidden})
        empty = drained(history)
        return Exercise(messages > 0 and empty.done,
                        f"{len(hidden)} polls inside the {self.delay_s:g}s delay of {messages} "
                        f"messages received later; {empty.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        first, early = first_receipts(history), []
        for m, s in sends(history).items():
            if m in first:
                longest = (received_by(first[m]) - s.invoke.time) / NS
                if longest < self.delay_s:
                    early.append((s, first[m], longest))
        if early:
            s, _, longest = early[0]
            text = (f"{len(early)} messages received before the queue's {self.delay_s:g}s "
                    f"delay ran out, e.g. {s.invoke.value} within {longest:.2f}s of its send")
            return Ruling(REFUTED, text, evidence("early-delivery",
                                                  [x for s, p, _ in early for x in (s, p)], text))
        gone = _lost_ruling(history, (...,), "the delay hides messages, it must not drop them")
        if gone:
            return gone
        n = sum(1 for m in sends(history) if m in first)
        return Ruling(UPHELD, f"{n} messages received, none before the {self.delay_s:g}s delay "
                              "ran out; none lost")


@dataclass
class Requeued:
    """"SQS re-queues failed messages" (the mechanism: a message not deleted comes back once
    its visibility timeout ran out): refuted when a message whose processing failed (received,
    not deleted: the poll's ``failed``) was never received again, or an acknowledged message
    was never received at all. Exercised: failed messages received again, and a drain."""

    visibility_s: float
    name: str = "requeued"
    exercises: str = "messages whose processing failed received again, and the queue drained " \
                     "to empty"

    def _failed(self, history: History) -> dict[Any, Completed]:
        out: dict[Any, Completed] = {}
        for c in client_ops(history):
            if c.f == "poll" and c.type == "ok" and c.completion is not None:
                for m in c.completion.get("failed") or ():
                    out.setdefault(m, c)
        return out

    def _again(self, history: History) -> dict[Any, list[Completed]]:
        later: dict[Any, list[Completed]] = defaultdict(list)
        failed = self._failed(history)
        for c, _, m in receipts(history):
            if m in failed and c.invoke.time > failed[m].invoke.time:
                later[m].append(c)
        return later

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        failed, again = self._failed(history), self._again(history)
        empty = drained(history)
        return Exercise(bool(again) and empty.done,
                        f"{len(failed)} messages failed processing, {len(again)} of them "
                        f"received again; {empty.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        failed, again = self._failed(history), self._again(history)
        finals = [c for c in history.complete() if c.is_final and c.type == "ok"]
        vt = int(self.visibility_s * NS)
        # Never came back, although a drain ran after its visibility timeout surely ran out.
        missing = [p for m, p in failed.items() if m not in again and p.end is not None
                   and any(f.invoke.time >= p.end + vt for f in finals)]
        if missing:
            text = (f"{len(missing)} messages whose processing failed never came back, although "
                    f"the drain ran after their {self.visibility_s:g}s visibility timeout, e.g. "
                    f"{missing[0].completion.get('failed') if missing[0].completion else '?'}")
            return Ruling(REFUTED, text, evidence("not-requeued", missing + finals, text))
        gone = _lost_ruling(history, (...,), "at-least-once")
        if gone:
            return gone
        if not failed:
            return Ruling(INCONCLUSIVE, "no message's processing failed")
        return Ruling(UPHELD, f"all {len(failed)} messages whose processing failed were "
                              f"received again (visibility timeout {self.visibility_s:g}s)")


@dataclass
class ProducerUnaffected:
    """"One service being down does not affect the other" (and, for SNS fan-out, "without any
    data loss"): while the consumers are down (``consumer-down`` windows), every send is
    acknowledged, and once they are back every message is received from every queue in
    ``queues`` (the poll keys; ``...`` for a lone queue). Refuted by a send that failed or
    went unanswered during an outage, or a message lost. Exercised: sends acknowledged during
    every outage while the consumers' polls failed, and a drain that succeeded."""

    queues: Sequence[Any] = (...,)
    name: str = "producer-unaffected"
    exercises: str = ("sends acknowledged during every consumer outage while consumers' polls "
                      "failed, and every queue drained to empty")

    def _during(self, history: History) -> list[tuple[list[Completed], list[Completed]]]:
        out = []
        for w in windows_of(history, "consumer-down"):
            end = w.end if w.end is not None else max(o.time for o in history.ops)
            inside = [c for c in client_ops(history) if w.start <= c.invoke.time <= end]
            out.append(([c for c in inside if c.f == "send"],
                        [c for c in inside if c.f == "poll" and c.type == "fail"]))
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        during = self._during(history)
        if not during:
            return Exercise(False, "no consumer outage")
        sent = [sum(1 for c in s if c.type == "ok") for s, _ in during]
        down = [len(p) for _, p in during]
        empty = drained(history, self.queues)
        done = all(sent) and all(down) and empty.done
        return Exercise(done, f"{len(during)} consumer outages: {sent} sends acknowledged and "
                              f"{down} polls refused during them; {empty.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        bad = [c for s, _ in self._during(history) for c in s if c.type != "ok"]
        if bad:
            why = bad[0].completion.get("error") if bad[0].completion else "no answer"
            text = (f"{len(bad)} sends failed or went unanswered while the consumers were down, "
                    f"e.g. {bad[0].invoke.value}: {why}")
            return Ruling(REFUTED, text, evidence("producer-affected", bad, text))
        gone = _lost_ruling(history, self.queues, "sent while the consumers were down or not")
        if gone:
            return gone
        n = sum(len(s) for s, _ in self._during(history))
        return Ruling(UPHELD, f"all {n} sends during the consumer outages acknowledged; every "
                              "acknowledged message received once the consumers came back")


@dataclass
class BestEffortOrder:
    """Standard queue, "ordering works on the best-effort basis" (not guaranteed): of the pairs
    of messages where one was acknowledged before the other was sent, both received, most are
    received in that order. Refuted when inversions (the later message surely received before
    the earlier one's first receive began) are as many as the pairs kept in order: no better
    than chance. Inversions below that are what "not guaranteed" allows. Exercised: at least
    ``pairs`` such pairs."""

    pairs: int = 20
    name: str = "best-effort-order"
    exercises: str = ""

    def __post_init__(self) -> None:
        self.exercises = f"at least {self.pairs} pairs of messages sent one after the other, " \
                         "both received"

    def _count(self, history: History) -> tuple[list[tuple[Completed, Completed]], int]:
        first, acked = first_receipts(history), sends(history)
        ordered = sorted((s for m, s in acked.items() if m in first),
                         key=lambda s: s.invoke.time)
        inversions, total = [], 0
        for a, b in itertools.combinations(ordered, 2):
            if a.end is None or a.end >= b.invoke.time:
                continue
            total += 1
            pa, pb = first[a.invoke.value], first[b.invoke.value]
            if received_by(pb) < pa.invoke.time:
                inversions.append((a, b))
        return inversions, total

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        inversions, total = self._count(history)
        return Exercise(total >= self.pairs, f"{total} ordered pairs received, "
                                             f"{len(inversions)} of them out of order")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        inversions, total = self._count(history)
        if total and 2 * len(inversions) >= total:
            text = (f"{len(inversions)} of {total} ordered pairs received out of order: no "
                    "better than chance")
            return Ruling(REFUTED, text, evidence("reorder", [x for p in inversions for x in p],
                                                  text))
        if not total:
            return Ruling(INCONCLUSIVE, "no two messages sent one after the other were both "
                                        "received")
        return Ruling(UPHELD, f"{total - len(inversions)} of {total} ordered pairs received in "
                              f"order ({len(inversions)} not: best effort, not guaranteed)")
