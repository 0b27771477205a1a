"""Judges of the Kinesis claims: records of one partition key read in the order they were
acknowledged (``ordered_per_key`` says whether the history could show it), and one consumer per
shard (``SharedShard``: refuted when two independent iterators read the same records of a
shard); and DynamoDB Streams as change data capture (``StreamPublishes``: every acknowledged
put streamed once, in order per item).
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
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
from .common import receipts


def ordered_per_key(history: History, verdicts: Verdicts) -> Exercise:
    """records of one partition key acknowledged one after another, and read"""
    got = {m for _, _, m in receipts(history)}
    per_key: dict[Any, int] = defaultdict(int)
    for c in history.complete():
        if c.f == "send" and c.type == "ok" and c.invoke.value in got:
            per_key[c.key] += 1
    best = max(per_key.values(), default=0)
    return Exercise(best >= 2, f"at most {best} acknowledged records of one partition key read")


@dataclass
class SharedShard:
    """"Only one consumer per shard": refuted when two consumers (independent iterators)
    read the same records of one shard; upheld when consumers that polled after records
    were in a shard did not read the same ones (or were refused). Exercised: two consumers
    polled (whatever the answer) after ``at_least`` records of one shard were acknowledged."""

    at_least: int = 5
    name: str = "shared-shard"
    exercises: str = "two consumers polled after records of one shard were acknowledged"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        acks = sorted((c.end, c.completion.get("partition")) for c in client_ops(history)
                      if c.f == "send" and c.type == "ok" and c.end is not None
                      and c.completion is not None)
        count: dict[Any, int] = defaultdict(int)
        ready = None  # when some shard first held at_least acknowledged records
        for t, shard in acks:
            count[shard] += 1
            if count[shard] >= self.at_least:
                ready = t
                break
        if ready is None:
            return Exercise(False, f"no shard got {self.at_least} acknowledged records")
        pollers = {c.process for c in client_ops(history) if c.f == "poll"
                   and c.type in ("ok", "fail") and c.invoke.time >= ready}
        return Exercise(len(pollers) >= 2, f"{len(pollers)} consumers polled after a shard "
                                           f"held {self.at_least} records")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        seen: dict[tuple[Any, Any], dict[Any, Completed]] = defaultdict(dict)
        for c in client_ops(history):
            if c.f == "poll" and c.type == "ok":
                for shard, _, m in c.value or ():
                    seen[(shard, c.process)].setdefault(m, c)
        best: tuple[int, Any, Any, Any] = (0, None, None, None)
        for (s1, p1), (s2, p2) in itertools.combinations(seen, 2):
            if s1 == s2 and p1 != p2:
                common = len(seen[(s1, p1)].keys() & seen[(s2, p2)].keys())
                if common > best[0]:
                    best = (common, s1, p1, p2)
        common, shard, p1, p2 = best
        if common:
            shared = seen[(shard, p1)].keys() & seen[(shard, p2)].keys()
            ops = {id(c): c for m in shared for c in (seen[(shard, p1)][m], seen[(shard, p2)][m])}
            text = (f"consumers {p1} and {p2} both read the same {common} records of {shard}: "
                    "a shard has as many consumers as read it")
            return Ruling(REFUTED, text, evidence("shared-shard", list(ops.values()), text))
        return Ruling(UPHELD, "no two consumers read the same records of a shard")


# --- DynamoDB Streams ----------------------------------------------------------------------------


def _stream(history: History) -> tuple[Completed | None, list[list[Any]]]:
    """The last final drain of the stream that succeeded, and its records ``[shard, sequence
    number, key, new value, event]``."""
    drains = [c for c in history.complete() if c.is_final and c.f == "poll" and c.type == "ok"]
    return (drains[-1], list(drains[-1].value or ())) if drains else (None, [])


@dataclass
class StreamPublishes:
    """DynamoDB Streams "publish the table's updates": every acknowledged put of a unique
    value has one stream record carrying that value, no record carries a value never written,
    and for two puts of one item, one acknowledged before the other began, the stream orders
    their records the same way (sequence numbers, within a shard). Exercised: acknowledged
    puts, pairs of them ordered on one item, and a final read of the whole stream."""

    name: str = "stream-publishes"
    exercises: str = "acknowledged puts, pairs of them one after the other on one item, and a " \
                     "final read of the whole stream"

    def _puts(self, history: History) -> dict[Any, list[Completed]]:
        by_key: dict[Any, list[Completed]] = defaultdict(list)
        for c in client_ops(history):
            if c.f == "write" and c.type == "ok" and c.end is not None:
                by_key[c.key].append(c)
        return by_key

    def _pairs(self, history: History) -> int:
        """How many pairs of puts on one item, one acknowledged before the other began."""
        n = 0
        for puts in self._puts(history).values():
            ends = sorted(c.end for c in puts if c.end is not None)
            n += sum(bisect.bisect_left(ends, c.invoke.time) for c in puts)
        return n

    def _swapped(self, history: History, at: dict[Any, list[tuple[str, int]]]
                 ) -> list[tuple[Completed, Completed]]:
        """Pairs (a, b) of puts on one item, a acknowledged before b began, whose records (in
        one shard) b's first: a sweep per item and shard, keeping the put with the highest
        sequence number among those acknowledged so far."""
        out = []
        for puts in self._puts(history).values():
            streamed = [c for c in puts if c.invoke.value in at]
            by_end = sorted(streamed, key=lambda c: c.end or 0)
            highest: dict[str, Completed] = {}
            i = 0
            for b in sorted(streamed, key=lambda c: c.invoke.time):
                while i < len(by_end) and (by_end[i].end or 0) < b.invoke.time:
                    a = by_end[i]
                    shard, seq = at[a.invoke.value][0]
                    if shard not in highest or seq > at[highest[shard].invoke.value][0][1]:
                        highest[shard] = a
                    i += 1
                shard, seq = at[b.invoke.value][0]
                top = highest.get(shard)
                if top is not None and at[top.invoke.value][0][1] > seq:
                    out.append((top, b))
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        drain, records = _stream(history)
        puts = sum(1 for c in client_ops(history) if c.f == "write" and c.type == "ok")
        pairs = self._pairs(history)
        return Exercise(drain is not None and pairs > 0,
                        f"{puts} acknowledged puts, {pairs} ordered pairs on one item; "
                        + (f"the stream read whole: {len(records)} records" if drain
                           else "no final read of the stream"))

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        drain, records = _stream(history)
        if drain is None:
            return Ruling(INCONCLUSIVE, "the stream was never read whole")
        at: dict[Any, list[tuple[str, int]]] = defaultdict(list)
        for shard, seq, _, value, _ in records:
            if value is not None:
                at[value].append((shard, int(seq)))
        written = {c.invoke.value for c in client_ops(history) if c.f == "write"}
        acked = [c for c in client_ops(history) if c.f == "write" and c.type == "ok"]
        problems: list[tuple[str, list[Completed]]] = []
        missing = [c for c in acked if c.invoke.value not in at]
        if missing:
            problems.append((f"{len(missing)} acknowledged puts have no stream record, e.g. "
                             f"{missing[0].key}={missing[0].invoke.value}", missing))
        twice = [v for v, where in at.items() if len(where) > 1]
        if twice:
            problems.append((f"{len(twice)} values have more than one stream record, e.g. "
                             f"{twice[0]}", [drain]))
        phantom = [v for v in at if v not in written]
        if phantom:
            problems.append((f"{len(phantom)} stream records carry a value never written, e.g. "
                             f"{phantom[0]}", [drain]))
        swapped = self._swapped(history, at)
        if swapped:
            a, b = swapped[0]
            problems.append((f"{len(swapped)} pairs of puts on one item streamed in the other "
                             f"order, e.g. {a.key}: {b.invoke.value} before {a.invoke.value}",
                             [x for p in swapped for x in p] + [drain]))
        if problems:
            text = "; ".join(t for t, _ in problems)
            return Ruling(REFUTED, text, evidence("stream-mismatch",
                                                  [c for _, ops in problems for c in ops], text))
        return Ruling(UPHELD, f"all {len(acked)} acknowledged puts streamed once, in order per "
                              f"item ({self._pairs(history)} ordered pairs)")
