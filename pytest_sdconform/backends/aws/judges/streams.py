"""Judges of the Kinesis claims: records of one partition key read in the order they were
acknowledged (``ordered_per_key`` says whether the history could show it), and one consumer per
shard (``SharedShard``: refuted when two independent iterators read the same records of a
shard).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ....checkers.judge import (
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
