"""Judges of the SNS claims about what reaches which queue: filter policies
(``FilteredDelivery``: a subscription gets exactly the messages its policy matches) and FIFO
topics (``FifoTopic``: "SNS cannot send to SQS FIFO", with the order and deduplication FIFO
topics promise measured on the way).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
)
from ....history import Completed, History
from .common import final_ok, receipts
from .consumers import drained, first_receipts, sends
from .queues import received_by


def kinds(history: History) -> dict[Any, str]:
    """Each published message's ``type`` attribute, as its client recorded it (``kind``),
    acknowledged or not: a message whose publish went unanswered may still arrive."""
    out = {}
    for c in history.complete():
        if c.f == "send" and c.completion is not None and c.completion.get("kind") is not None:
            out[c.invoke.value] = c.completion.get("kind")
    return out


@dataclass
class FilteredDelivery:
    """"Only the intended messages are delivered": each subscriber queue (a poll key of
    ``policies``) receives every acknowledged message whose ``type`` its filter policy accepts
    and no other. Refuted by a message delivered against the policy, or one the policy accepts
    never received. Exercised: for every queue, acknowledged messages it must get and ones it
    must not, and every queue drained to empty."""

    policies: Mapping[Any, frozenset[str]]
    name: str = "filtered-delivery"
    exercises: str = ("for every subscriber, acknowledged messages its policy accepts and "
                      "ones it rejects, and every queue drained to empty")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        types = kinds(history)
        acked = [types.get(m) for m in sends(history)]
        parts, done = [], True
        for q, accepted in self.policies.items():
            yes = sum(1 for t in acked if t in accepted)
            no = sum(1 for t in acked if t is not None and t not in accepted)
            done = done and yes > 0 and no > 0
            parts.append(f"{q}: {yes} to deliver, {no} to filter out")
        empty = drained(history, list(self.policies))
        return Exercise(done and empty.done, f"{'; '.join(parts)}; {empty.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        types = kinds(history)
        wrong = [(q, c, m) for c, q, m in receipts(history)
                 if q in self.policies and types.get(m) not in self.policies[q]]
        if wrong:
            q, _, m = wrong[0]
            text = (f"{len(wrong)} messages delivered against the filter policy, e.g. {m} "
                    f"(type {types.get(m)}) to {q}, which accepts "
                    f"{sorted(self.policies[q])}")
            return Ruling(REFUTED, text, evidence("unintended-delivery",
                                                  [c for _, c, _ in wrong], text))
        missing = []
        for q, accepted in self.policies.items():
            if not drained(history, [q]).done:
                continue  # what it has not received yet may be waiting in it
            got = first_receipts(history, q)
            missing += [(q, s) for m, s in sends(history).items()
                        if types.get(m) in accepted and m not in got]
        if missing:
            q, s = missing[0]
            text = (f"{len(missing)} messages the filter policy accepts never reached their "
                    f"queue, e.g. {s.invoke.value} (type {types.get(s.invoke.value)}) to {q}")
            return Ruling(REFUTED, text, evidence("lost-message", [s for _, s in missing], text))
        n = sum(1 for _ in receipts(history))
        return Ruling(UPHELD, f"{n} deliveries, every one as the policies say; none missing")


@dataclass
class FifoTopic:
    """"SNS supports FIFO topics (strict ordering, no duplication) ... SNS cannot send messages
    to SQS FIFO queues": refuted when SQS FIFO queues subscribed to a FIFO topic received its
    messages (the reason also says whether each group kept its order and whether a message
    published twice with one deduplication id arrived twice, measured per queue), or when, in
    those deliveries, order or deduplication broke. Upheld when acknowledged publishes reached
    no SQS FIFO queue although every queue was drained. Exercised: acknowledged publishes and
    a drain of every queue that succeeded."""

    queues: tuple[Any, ...]
    name: str = "fifo-topic"
    exercises: str = "acknowledged publishes, and a drain of every subscriber queue"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        n = len(sends(history))
        drained = {c.key for c in history.complete() if c.is_final and c.type == "ok"}
        ok = final_ok(history, verdicts)
        done = n > 0 and ok.done and set(self.queues) <= drained
        return Exercise(done, f"{n} acknowledged publishes; {ok.why}; drained "
                              f"{sorted(map(str, drained))}")

    def _order(self, history: History, q: Any) -> list[tuple[Completed, Completed]]:
        first, by_group = first_receipts(history, q), defaultdict(list)
        for m, s in sends(history).items():
            if m in first:
                by_group[s.key].append(s)
        out = []
        for group in by_group.values():
            group.sort(key=lambda s: s.invoke.time)
            for a, b in itertools.combinations(group, 2):
                if a.end is not None and a.end < b.invoke.time and \
                        received_by(first[b.invoke.value]) < first[a.invoke.value].invoke.time:
                    out.append((a, b))
        return out

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        per_queue = {q: Counter(m for _, k, m in receipts(history) if k == q)
                     for q in self.queues}
        delivered = {q: n for q, n in per_queue.items() if n}
        if not delivered:
            if not sends(history):
                return Ruling(INCONCLUSIVE, "nothing was published")
            return Ruling(UPHELD, f"{len(sends(history))} acknowledged publishes reached none "
                                  "of the SQS FIFO queues")
        reorders = {q: self._order(history, q) for q in self.queues}
        dups = {q: [m for m, n in c.items() if n > 1] for q, c in per_queue.items()}
        facts = "; ".join(f"{q}: {sum(1 for _ in per_queue[q])} messages, "
                          f"{len(reorders[q])} out of group order, {len(dups[q])} duplicated"
                          for q in self.queues)
        text = (f"SNS delivered the FIFO topic's messages to {len(delivered)} SQS FIFO queues "
                f"({facts})")
        polls = [c for c in client_ops(history) + [c for c in history.complete()
                                                    if c.is_final] if c.f == "poll" and c.value]
        return Ruling(REFUTED, text, evidence("delivered-to-sqs-fifo", polls, text))
