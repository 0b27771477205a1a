"""DynamoDB claims about secondary indexes and streams (claims.md §9): strong reads refused on
a global secondary index and served on a local one, and Streams as change data capture;
against moto's server or real AWS with ``--sdconform-runtime external``. Judges in
backends/aws/judges/ (``settings``, ``streams``)."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, client, judges, messaging
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation

pytestmark = pytest.mark.backend("dynamodb")


@dataclass
class Puts:
    """Puts of unique values to a few items, and any ``others`` picked at random beside them
    (a share ``1 - put_ratio``); the final ops are ``finals``."""

    keys: int = 3
    put_ratio: float = 1.0
    others: Sequence[Invocation] = ()
    finals: Sequence[Invocation] = ()
    name = "puts"
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        if self.others and rng.random() >= self.put_ratio:
            return rng.choice(list(self.others))
        with self._lock:
            return Invocation("write", f"k{rng.randrange(self.keys)}", next(self._values))

    def final_ops(self) -> list[Invocation]:
        return list(self.finals)

    def checkers(self) -> list[Checker]:
        return []


INDEX_READS = [
    judges.Expect("a strongly consistent query of the global secondary index", "query", "gsi",
                  True, accepted=False),
    judges.Expect("an eventually consistent query of the global secondary index", "query",
                  "gsi", False, accepted=True),
    judges.Expect("a strongly consistent query of the local secondary index", "query", "lsi",
                  True, accepted=True),
    judges.Expect("an eventually consistent query of the local secondary index", "query",
                  "lsi", False, accepted=True),
]


@pytest.mark.claim("ddb-gsi-eventual")
def test_a_global_index_serves_only_eventually_consistent_reads(
    sdconform: Case, env: Env
) -> None:
    """Items written while queries of both indexes ask for strong and eventual consistency:
    DynamoDB must refuse ConsistentRead on the global secondary index (ValidationException)
    and serve it on the local one. (A GSI's lag itself cannot show on moto, which updates
    indexes with the write; the refusal is what decides here, on moto as on AWS.)"""
    cluster, resources = env
    table = resources.table("indexed", **client.DynamoIndexes.schema())
    ep = aws.endpoint(cluster)
    sdconform.run(
        Puts(put_ratio=0.3, others=[Invocation(e.f, e.key, e.value) for e in INDEX_READS]),
        lambda i: client.DynamoIndexes(ep, table),
        [],
        judge=judges.Answers(INDEX_READS, name="index-reads"),
        config={"indexes": "gsi (g), lsi (k, g)"},
        run=RunConfig(settle=0.0),
    )


@pytest.mark.claim("ddb-streams-cdc")
def test_the_stream_publishes_every_acknowledged_put(sdconform: Case, env: Env) -> None:
    """Concurrent puts of unique values to three items of a table with a stream
    (NEW_AND_OLD_IMAGES); at the end the whole stream is read from TRIM_HORIZON: one record
    per acknowledged put, none for a value never written, in order per item."""
    cluster, resources = env
    table = resources.table("streamed", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    ep = aws.endpoint(cluster)
    sdconform.run(
        Puts(finals=[Invocation("poll", "drain")]),
        lambda i: messaging.DynamoStream(ep, table),
        [],
        judge=judges.StreamPublishes(),
        config={"stream": "NEW_AND_OLD_IMAGES", "items": 3},
        run=RunConfig(settle=1.0, op_timeout=10.0),
    )
