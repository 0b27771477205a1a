"""Kinesis Data Streams' retention and replay (claims.md §13): the bounds AWS accepts for a
stream's retention, its default, and a second read from TRIM_HORIZON; against moto's server
(whose bounds are AWS's: 24 to 8760 hours) or real AWS with ``--sdconform-runtime external``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, judges, messaging
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation

pytestmark = pytest.mark.backend("kinesis")


@dataclass
class Probes:
    """The same few requests, picked at random."""

    ops: Sequence[Invocation]
    name = "probes"

    def next_op(self, rng: random.Random) -> Invocation:
        return rng.choice(list(self.ops))

    def final_ops(self) -> list[Invocation]:
        return []

    def checkers(self) -> list[Checker]:
        return []


RECORDS = 3
RETENTION = [
    judges.Expect("the default retention of 24 h", "read", None, None, True, 24),
    judges.Expect("a retention of 23 h", "set", None, 23, accepted=False),
    judges.Expect("a retention of 168 h (7 days)", "set", None, 168, accepted=True),
    judges.Expect("a retention of 169 h (over the claim's 7 days)", "set", None, 169,
                  accepted=False),
    judges.Expect(f"a replay from TRIM_HORIZON of the {RECORDS} records", "replay", None, None,
                  True, RECORDS),
]


@pytest.mark.claim("kds-retention-replay")
def test_retention_runs_from_a_day_to_seven_days_and_replays(sdconform: Case, env: Env) -> None:
    """The claim's bounds asked of the service (one client: a retention change leaves the
    stream UPDATING): 24 h by default, 23 h refused, 7 days accepted, 7 days + 1 h refused as
    the claim says, and a stream read again from TRIM_HORIZON. Kinesis accepts up to 365
    days since 2020: the claim is outdated."""
    cluster, resources = env
    stream, pristine = resources.stream("retention", shards=1), resources.stream("replay", 1)
    kin = resources.client("kinesis")
    for i in range(RECORDS):
        kin.put_record(StreamName=pristine, Data=str(i).encode(), PartitionKey="p")
    ep = aws.endpoint(cluster)
    sdconform.run(
        Probes([Invocation(e.f, e.key, e.value) for e in RETENTION]),
        lambda i: messaging.KinesisSettings(ep, stream, pristine),
        [],
        judge=judges.Answers(RETENTION, name="retention-and-replay"),
        config={"claimed_hours": [24, 168]},
        run=RunConfig(duration=3.0, concurrency=1, settle=0.0),
    )
