"""Kinesis Data Streams (claims.md §13): retention and replay (the bounds AWS accepts for a
stream's retention, its default, a second read from TRIM_HORIZON; moto's bounds are AWS's: 24
to 8760 hours) and at-least-once delivery with the SDK's retries on; against moto's server or
real AWS with ``--sdconform-runtime external``."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, judges, messaging
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.delivery import DeliveryChecker
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.probes import Probes

pytestmark = pytest.mark.backend("kinesis")


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


@dataclass
class Records:
    """Unique records put with four partition keys, reads of every shard by each consumer,
    and a drain of every shard at the end."""

    send_ratio: float = 0.6
    name = "records"
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < self.send_ratio:
            with self._lock:
                return Invocation("send", f"p{rng.randrange(4)}", next(self._values))
        return Invocation("poll")

    def final_ops(self) -> list[Invocation]:
        return [Invocation("poll", "drain")]

    def checkers(self) -> list[Checker]:
        return [DeliveryChecker(("at-least-once",))]


ATTEMPTS = 5
# The client's read timeout sits inside the latency fault's spread (400 ms +- 40 ms on the
# answers, moto's own time on top): during latency some attempts time out after the put was
# applied and the SDK sends it again; outside it no attempt comes near.
READ_TIMEOUT_S = 0.42


@pytest.mark.claim("kds-at-least-once")
def test_kinesis_delivers_every_acknowledged_record_with_sdk_retries_on(
    sdconform: Case, env: Env, path: aws.ClientPath
) -> None:
    """Producers with the SDK's retries on (5 attempts) through client latency and timeouts:
    a put whose answer was late or lost is sent again, so records may be duplicated, but
    every acknowledged record must be read (duplicates are counted by the delivery
    checker)."""
    _, resources = env
    stream = resources.stream("retried", shards=2)
    ep = path.endpoint
    sdconform.run(
        Records(),
        lambda i: messaging.KinesisClient(ep, stream, timeout=READ_TIMEOUT_S, attempts=ATTEMPTS),
        path.latency_then_timeouts(),
        decide_by=["delivery"],
        exercise=judges.all_of(judges.path_faults(), judges.retried(), judges.final_ok),
        config={"sdk_attempts": ATTEMPTS, "read_timeout_s": READ_TIMEOUT_S, "shards": 2},
        run=RunConfig(duration=7.0, quiet=0.5, fault_duration=2.0, op_timeout=8.0, settle=1.0),
    )
