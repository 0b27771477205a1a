"""DynamoDB claims about secondary indexes, streams and TTL (claims.md §9): strong reads refused
on a global secondary index and served on a local one, Streams as change data capture, TTL
deleting expired items;
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
from pytest_sdconform.workloads.probes import Probes

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


TTL_LIMIT = (
    "moto never deletes an item for its TTL (an item expired 100 s before was read back "
    "here), so it can show neither the deletion nor its delay"
)
EXPIRED_S, LIVING_S = -60, 3600


@pytest.mark.claim("ddb-ttl-delete")
def test_ttl_deletes_only_expired_items(sdconform: Case, env: Env) -> None:
    """A table with TTL on ``exp``: items k0, k2 written already expired (a minute ago),
    k1, k3 expiring in an hour, all read over and over. An item gone before its expiry refutes
    the claim; an expired item found deleted upholds it; expired items all still readable
    leave it inconclusive (AWS deletes them in the background, typically within days). On
    moto: inconclusive (emulator)."""
    cluster, resources = env
    table = resources.table("ttl")
    resources.client("dynamodb").update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = aws.endpoint(cluster)
    writes = [Invocation("write", f"k{i}", EXPIRED_S if i % 2 == 0 else LIVING_S)
              for i in range(4)]
    sdconform.run(
        Probes(writes + [Invocation("read", f"k{i}") for i in range(4) for _ in range(3)]),
        lambda i: client.DynamoTtl(ep, table),
        [],
        judge=judges.TtlDeletes(),
        emulator_limit=TTL_LIMIT if aws.is_emulator(cluster) else None,
        config={"ttl_attribute": "exp", "expiries_s": [EXPIRED_S, LIVING_S]},
        run=RunConfig(settle=0.0),
    )
