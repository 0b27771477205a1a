"""ddb-gsi-strong-crawler (claims.md §5): a web crawler's seed-URL store chose DynamoDB for
"strong consistency over the database indexes". Global secondary indexes are eventually
consistent only: the claim is refuted by the service refusing a strongly consistent query of
the GSI, or by an index read missing an acknowledged put. An emulator that updates its
indexes with the write can show no lag: without a refusal, inconclusive (emulator), never
upheld. Judge: backends/aws/judges/gsi.py."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, client
from pytest_sdconform.backends.aws.gsi import DynamoGsiReads
from pytest_sdconform.backends.aws.judges.gsi import IndexStrongConsistency
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation

pytestmark = pytest.mark.backend("dynamodb")

LAG_LIMIT = ("moto updates a global secondary index in the put's own request, so an index "
             "read can never lag the table there")


@dataclass
class SeedUrls:
    """Puts of new seed URLs (a key each, never rewritten) and queries of the GSI, strongly
    consistent (``true``) or not, half and half."""

    name = "seed-urls"
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < 0.5:
            with self._lock:
                n = next(self._numbers)
            return Invocation("write", f"url{n}", n)
        return Invocation("query", "gsi", rng.random() < 0.5)

    def final_ops(self) -> list[Invocation]:
        return [Invocation("query", "gsi", False), Invocation("query", "gsi", True)]

    def checkers(self) -> list[Checker]:
        return []


@pytest.mark.claim("ddb-gsi-strong-crawler")
def test_strong_consistency_over_a_global_index_is_not_offered(
    sdconform: Case, env: Env
) -> None:
    """Seed URLs put while crawlers query the GSI, strongly and eventually consistent."""
    cluster, resources = env
    table = resources.table("seeds", **client.DynamoIndexes.schema())
    ep = aws.endpoint(cluster)
    emulator = aws.is_emulator(cluster)
    sdconform.config["emulator"] = emulator
    sdconform.run(
        SeedUrls(),
        lambda i: DynamoGsiReads(ep, table),
        [],
        judge=IndexStrongConsistency(emulator=emulator, limit=LAG_LIMIT),
        config={"index": "gsi on g (one partition)", "queries": "ConsistentRead true/false"},
        run=RunConfig(settle=0.0),
    )
