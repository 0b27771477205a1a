"""Judges of the SQS claims: receipts and how long each consumer held a message (``holdings``),
the visibility timeout (``TwoHolders``: no message held by two consumers at once;
``RedeliveredAfterTimeout``: received again once the timeout ran out, never sooner), FIFO order
per message group (``FifoGroups``), deduplication (``Deduplicated``) and dead-letter queues
(``DeadLetters``). A poll receives, holds and deletes in one operation, so the times come from
its invocation, the ``received_ms`` its client measured (from the call to the answer) and the
``after_receive_ms`` it measured (from the answer to its return): the answer arrived no sooner
than the invocation plus ``received_ms`` (the call began after the invocation was stamped: a
thread handoff, long on a loaded machine) and no later than the completion minus
``after_receive_ms`` (the completion is stamped after the return).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
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
)
from ....history import Completed, History
from .common import final_ok, path_faults, receipts

# --- SQS: holders, visibility, FIFO, deduplication, dead letters ---------------------------


@dataclass
class Holding:
    """A receipt and how long its consumer held the message (receive to delete)."""

    poll: Completed
    message: Any
    received_by: int  # ns: the receive had surely happened by then
    sent_at: int  # ns: the receive request left no earlier
    held_until: int  # ns: the delete was answered by then
    answered_after: int = 0  # ns: the receive's answer had not arrived before then

    @property
    def process(self) -> Any:
        return self.poll.process


def received_by(c: Completed) -> int:
    """When a poll's receive had surely been answered: its completion minus the
    ``after_receive_ms`` the client measured from the answer to its return (a poll also holds
    and deletes what it got). A history without it (recorded before the client measured it):
    the invocation plus ``received_ms``, which a slow handoff to the client's thread makes
    early."""
    assert c.completion is not None
    after = c.completion.get("after_receive_ms")
    if after is not None:
        return c.completion.time - int(float(after) * 1e6)
    return received_after(c)


def received_after(c: Completed) -> int:
    """When a poll's answer had not yet arrived: its invocation plus the ``received_ms`` the
    client measured from its call, which began no sooner than the invocation."""
    assert c.completion is not None
    return c.invoke.time + int(float(c.completion.get("received_ms", 0)) * 1e6)


def holdings(history: History) -> dict[Any, list[Holding]]:
    out: dict[Any, list[Holding]] = defaultdict(list)
    for c, _, m in receipts(history):
        assert c.completion is not None
        out[m].append(Holding(c, m, received_by(c), c.invoke.time, c.completion.time,
                              received_after(c)))
    for hs in out.values():
        hs.sort(key=lambda h: h.sent_at)
    return out


def _room(poll: Completed) -> bool:
    """Whether a poll got fewer messages than it asked for (``asked``; 1 when not recorded)."""
    assert poll.completion is not None
    return len(poll.value or ()) < int(poll.completion.get("asked") or 1)


@dataclass
class Holders:
    """Consumers that hold each message ``hold_s`` seconds (longer than the visibility timeout
    ``visibility_s``) before deleting it. The behaviour both visibility claims are about is a
    message whose timeout ran out while its consumer still held it, with another consumer
    asking for messages then: an *opportunity* (a poll by another process sent after the
    held message was surely visible again, answered before its holder deleted it, and that
    took it or had room for it: it got fewer messages than it asked for, ``asked``, 1 when
    not recorded; a poll filled by other messages could not have taken this one)."""

    visibility_s: float
    hold_s: float

    def opportunities(self, history: History) -> list[tuple[Holding, Completed]]:
        polls = [(c, received_by(c), _room(c), {t[2] for t in c.value or ()})
                 for c in client_ops(history) if c.f == "poll" and c.type == "ok"
                 and c.completion is not None]
        out = []
        for held in holdings(history).values():
            for h in held:
                if h.poll.is_final:
                    continue
                visible = h.received_by + int(self.visibility_s * NS)
                deleted = h.answered_after + int(self.hold_s * NS)  # the delete begins no sooner
                for p, got, room, taken in polls:  # p's receive happened by ``got``
                    if (p.process != h.process and p.invoke.time >= visible and got <= deleted
                            and (room or h.message in taken)):
                        out.append((h, p))
        return out

    def exercise(self, history: History) -> Exercise:
        n = len(self.opportunities(history))
        return Exercise(n > 0, f"{n} polls by other consumers while a message held past its "
                               f"{self.visibility_s:g}s visibility timeout was still held")


@dataclass
class TwoHolders:
    """"Only one consumer can process a message at a time": refuted when a message was
    received by a consumer while another still held it (received, not yet deleted); upheld
    when, although other consumers polled while messages were held past their visibility
    timeout, none got a held message."""

    holders: Holders
    name: str = "two-holders"
    exercises: str = ("other consumers polled while a message was held past its visibility "
                      "timeout")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return self.holders.exercise(history)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        # A consumer's receive happened by received_by (when its answer arrived), and its
        # delete began hold_s after that answer: the one that received first still held the
        # message when the other received it if the later answer arrived before the earlier
        # one's delete began.
        hold = int(self.holders.hold_s * NS)
        overlaps = []
        for m, held in holdings(history).items():
            for a, b in itertools.combinations(held, 2):
                # both held it at the later receive, which came by max(received_by),
                # if neither delete had begun: each begins no sooner than answered_after + hold
                both = min(a.answered_after, b.answered_after) + hold - max(a.received_by,
                                                                             b.received_by)
                if a.process != b.process and both > 0:
                    overlaps.append((m, a, b, both))
        if overlaps:
            m, a, b, both = overlaps[0]
            text = (f"{len(overlaps)} times a message was held by two consumers at once, e.g. "
                    f"message {m} by consumers {a.process} and {b.process} for at least "
                    f"{both / NS:.2f}s (processing takes {self.holders.hold_s:g}s, "
                    f"visibility timeout {self.holders.visibility_s:g}s)")
            ops = [x for _, a, b, _ in overlaps for x in (a.poll, b.poll)]
            return Ruling(REFUTED, text, evidence("two-holders", ops, text))
        return Ruling(UPHELD, "no message was received while another consumer held it")


@dataclass
class RedeliveredAfterTimeout:
    """"After the visibility timeout the message is visible again and may be processed
    twice": refuted when a message came back sooner than its visibility timeout, or when it
    never came back although other consumers polled (and got nothing) while it was surely
    visible again, at least ``misses`` times; upheld when messages held past the timeout
    were received again, none sooner."""

    holders: Holders
    misses: int = 5
    name: str = "redelivered-after-timeout"
    exercises: str = ("other consumers polled while a message was held past its visibility "
                      "timeout")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return self.holders.exercise(history)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        vt = self.holders.visibility_s
        early, gaps = [], 0
        for m, held in holdings(history).items():
            for a, b in itertools.pairwise(held):
                longest = (b.received_by - a.sent_at) / NS  # the most the gap can have been
                if longest < vt - 0.05:
                    early.append((m, a, b, longest))
                gaps += 1
        if early:
            m, a, b, longest = early[0]
            text = (f"{len(early)} messages received again before the {vt:g}s visibility "
                    f"timeout, e.g. {m} within {longest:.2f}s")
            ops = [x for _, a, b, _ in early for x in (a.poll, b.poll)]
            return Ruling(REFUTED, text, evidence("early-redelivery", ops, text))
        if gaps:
            return Ruling(UPHELD, f"{gaps} redeliveries of messages held past the {vt:g}s "
                                  "visibility timeout, none earlier")
        empty = [p for _, p in self.holders.opportunities(history) if not p.value]
        if len(empty) >= self.misses:
            text = (f"no message was ever received again, although {len(empty)} polls by "
                    f"other consumers came back empty while a message held past its {vt:g}s "
                    "visibility timeout was visible again")
            return Ruling(REFUTED, text, evidence("never-redelivered", empty, text))
        return Ruling(INCONCLUSIVE, f"no message was received twice, and only {len(empty)} "
                                    "empty polls came while one should have been visible")


@dataclass
class FifoGroups:
    """SQS FIFO order per message group: if message a was acknowledged before b was sent (same
    group), b is not received before a. A poll receives, then deletes what it got, in one
    operation, so its completion says nothing about when it received: the receive happened
    between the poll's invocation and its ``received_ms``. b counts as received first only
    when its first receive surely ended before a's first receive began. Loss is the
    delivery checker's (``lost-message``). Exercised: two messages of one group sent one
    after the other and both received, and the path faults exercised."""

    name: str = "fifo-groups"
    exercises: str = ("two messages of one group sent one after the other, both received, and "
                      "the path faults exercised")

    def _pairs(self, history: History) -> Iterator[tuple[Completed, Completed, Completed,
                                                         Completed]]:
        """(send a, send b, first poll of a, first poll of b), a acked before b was sent."""
        first: dict[Any, Completed] = {}
        for c, _, m in receipts(history):
            if m not in first or c.invoke.time < first[m].invoke.time:
                first[m] = c
        sends: dict[Any, list[Completed]] = defaultdict(list)
        for c in history.complete():
            if c.f == "send" and c.type == "ok" and c.invoke.value in first:
                sends[c.key].append(c)
        for group in sends.values():
            group.sort(key=lambda c: c.invoke.time)
            for a, b in itertools.combinations(group, 2):
                if a.end is not None and a.end < b.invoke.time:
                    yield a, b, first[a.invoke.value], first[b.invoke.value]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        n = sum(1 for _ in self._pairs(history))
        if not n:
            return Exercise(False, "no two messages of one group sent one after the other "
                                   "were both received")
        faults = path_faults()(history, verdicts)
        return Exercise(faults.done, f"{n} ordered pairs of one group received; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        overtaken = [(a, b, pa, pb) for a, b, pa, pb in self._pairs(history)
                     if received_by(pb) < pa.invoke.time]
        if overtaken:
            a, b, _, _ = overtaken[0]
            text = (f"{len(overtaken)} messages received after a later one of their group, e.g. "
                    f"{a.invoke.value} (group {a.key}) after {b.invoke.value}")
            ops = [x for quad in overtaken for x in quad]
            return Ruling(REFUTED, text, evidence("reorder", ops, text))
        v = verdicts["delivery"]
        lost = [a for a in v.anomalies if a.kind in ("lost-message", "unexpected-message")]
        if lost:
            return Ruling(REFUTED, f"delivery: {len(lost)} messages lost or unexpected", lost)
        if v.result == "unknown":
            return Ruling(INCONCLUSIVE, f"delivery: {v.reason}")
        n = sum(1 for _ in self._pairs(history))
        return Ruling(UPHELD, f"{n} ordered pairs of messages of one group received in order; "
                              "none lost")


@dataclass
class Deduplicated:
    """FIFO deduplication: every message sent twice with one MessageDeduplicationId (within
    the 5-minute window) is received once; decided by the delivery checker's at-most-once
    part (``duplicate`` anomalies). Exercised: messages whose both sends were acknowledged,
    and a drain."""

    name: str = "deduplicated"
    exercises: str = "messages sent twice with one deduplication id, both acknowledged, and " \
                     "a drain that succeeded"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        twice = sum(1 for c in client_ops(history) if c.f == "send" and c.type == "ok"
                    and len((c.completion.get("message_ids") if c.completion else None) or ())
                    >= 2)
        drained = final_ok(history, verdicts)
        return Exercise(twice > 0 and drained.done,
                        f"{twice} messages sent twice and acknowledged twice; {drained.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        v = verdicts["delivery"]
        bad = [a for a in v.anomalies if a.kind in ("duplicate", "lost-message",
                                                   "unexpected-message")]
        if bad:
            kinds = sorted({a.kind for a in bad})
            dups = sum(1 for a in bad if a.kind == "duplicate")
            return Ruling(REFUTED, f"{dups} messages sent twice with one deduplication id were "
                                   f"received twice ({', '.join(kinds)})", bad)
        part = (v.details.get("guarantees") or {}).get("at-most-once") or {}
        if part.get("result", v.result) == "unknown":
            return Ruling(INCONCLUSIVE, f"delivery (at-most-once): "
                                        f"{part.get('reason') or v.reason}")
        return Ruling(UPHELD, "no message sent twice with one deduplication id was received "
                              "twice")


@dataclass
class DeadLetters:
    """A message never deleted is received at most ``max_receives`` times from its queue,
    then moves to the dead-letter queue, never sooner (the DLQ's ApproximateReceiveCount,
    carried over, says how often it was received in the source queue, also by receives whose
    answer was lost), and nothing reaches the DLQ that was not sent. Exercised: a message
    received ``max_receives`` times in the source queue and then found in the DLQ."""

    max_receives: int
    name: str = "dead-letters"
    exercises: str = ""

    def __post_init__(self) -> None:
        self.exercises = (f"a message received {self.max_receives} times in its queue, then "
                          "found in the dead-letter queue")

    def _counts(self, history: History) -> tuple[dict[Any, list[Completed]],
                                                 dict[Any, tuple[int, Completed]]]:
        main: dict[Any, list[Completed]] = defaultdict(list)
        arrived: dict[Any, tuple[int, Completed]] = {}
        for c in history.complete():
            if c.f != "poll" or c.type != "ok" or c.completion is None:
                continue
            counts = c.completion.get("receive_counts") or [None] * len(c.value or ())
            for (_, _, m), n in zip(c.value or (), counts, strict=True):
                if c.key == "dlq":
                    arrived.setdefault(m, ((n or 1) - 1, c))  # minus this receive from the DLQ
                else:
                    main[m].append(c)
        return main, arrived

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        main, arrived = self._counts(history)
        full = [m for m in arrived if len(main.get(m, ())) >= self.max_receives]
        return Exercise(bool(full), f"{len(arrived)} messages found in the dead-letter queue, "
                                    f"{len(full)} of them seen received {self.max_receives} "
                                    "times first")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        main, arrived = self._counts(history)
        over = {m: cs for m, cs in main.items() if len(cs) > self.max_receives}
        if over:
            m, cs = next(iter(over.items()))
            text = (f"{len(over)} messages received more than maxReceiveCount "
                    f"({self.max_receives}) times, e.g. {m} {len(cs)} times")
            return Ruling(REFUTED, text, evidence("received-too-often", cs, text))
        early = {m: (n, c) for m, (n, c) in arrived.items() if n < self.max_receives}
        if early:
            m, (n, _) = next(iter(early.items()))
            text = (f"{len(early)} messages reached the dead-letter queue before "
                    f"{self.max_receives} receives (e.g. {m} after {n})")
            return Ruling(REFUTED, text, evidence("dead-lettered-early",
                                                  [c for _, c in early.values()], text))
        sent = {c.invoke.value for c in history.complete()
                if c.f == "send" and c.type in ("ok", "info")}
        strays = {m: c for m, (_, c) in arrived.items() if m not in sent}
        if strays:
            text = f"{len(strays)} messages in the dead-letter queue were never sent"
            return Ruling(REFUTED, text, evidence("unexpected-message", list(strays.values()),
                                                  text))
        if not arrived:
            return Ruling(INCONCLUSIVE, "no message reached the dead-letter queue")
        return Ruling(UPHELD, f"{len(arrived)} messages moved to the dead-letter queue after "
                              f"exactly {self.max_receives} receives; none received more often")
