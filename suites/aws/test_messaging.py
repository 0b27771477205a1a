"""SQS, SNS and Kinesis claims (claims.md §11, §13) against moto's server, or real AWS with
``--sdconform-runtime external``. Histories follow checkers/delivery.py: ``send`` and ``poll``;
the judges are in pytest_sdconform/backends/aws/judges/. On moto, FIFO deduplication's
5-minute window and Kinesis shard order come out ``inconclusive (emulator)``."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, judges, messaging
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.delivery import DeliveryChecker
from pytest_sdconform.checkers.judge import Judge
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.log import DRAIN

# Proving a latency fault takes seconds while moto is busy: 7 s of traffic, so that the
# faults overlap it even when CI asks for 5.
FAULTY = RunConfig(duration=7.0, quiet=0.5, fault_duration=2.0, op_timeout=3.0)


@dataclass
class Messages:
    """Unique messages sent with a key from ``groups`` (a FIFO group, a partition key, or
    None), polls with a key from ``polls`` (which queue), and a drain after the faults."""

    name = "messages"
    groups: Sequence[str | None] = (None,)
    polls: Sequence[str | None] = (None,)
    send_ratio: float = 0.5
    drain: Sequence[str | None] = ()  # the final polls' keys (default: 10 of each poll key)
    guarantees: Sequence[str] = ("at-least-once",)
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < self.send_ratio:
            with self._lock:
                value = next(self._values)
            return Invocation("send", rng.choice(list(self.groups)), value)
        return Invocation("poll", rng.choice(list(self.polls)))

    def final_ops(self) -> list[Invocation]:
        keys = list(self.drain) or [k for k in self.polls for _ in range(10)]
        return [Invocation("poll", k, DRAIN) for k in keys]

    def checkers(self) -> list[Checker]:
        return [DeliveryChecker(self.guarantees)]


# --- SQS standard ----------------------------------------------------------------------------


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-standard-at-least-once")
def test_standard_queue_delivers_every_acknowledged_message(
    sdconform: Case, env: Env, path: aws.ClientPath
) -> None:
    _, resources = env
    queue = resources.queue("standard", visibility_s=2)
    ep = path.endpoint
    sdconform.run(
        Messages(),
        lambda i: messaging.SqsClient(ep, {None: queue}, timeout=1.0),
        path.latency_then_timeouts(),
        decide_by=["delivery"],
        exercise=judges.all_of(judges.path_faults(), judges.final_ok),
        config={"visibility_timeout_s": 2},
        run=replace(FAULTY, settle=2.5),
    )


VISIBILITY_S = 1
HOLD_S = 2.0
HOLDERS = judges.Holders(VISIBILITY_S, HOLD_S)


def slow_consumers(sdconform: Case, env: Env, judge: Judge) -> None:
    cluster, resources = env
    queue = resources.queue("slow", visibility_s=VISIBILITY_S)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Messages(send_ratio=0.3),
        lambda i: messaging.SqsClient(ep, {None: queue}, hold=HOLD_S, batch=1),
        [],
        judge=judge,
        checkers=[],
        config={"visibility_timeout_s": VISIBILITY_S, "processing_s": HOLD_S},
        run=RunConfig(settle=0.5, op_timeout=HOLD_S + 3),
    )


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-visibility-timeout")
def test_a_message_held_past_the_visibility_timeout_is_redelivered(
    sdconform: Case, env: Env
) -> None:
    slow_consumers(sdconform, env, judges.RedeliveredAfterTimeout(HOLDERS))


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-single-consumer")
def test_two_consumers_can_hold_one_message(sdconform: Case, env: Env) -> None:
    slow_consumers(sdconform, env, judges.TwoHolders(HOLDERS))


# --- SQS FIFO and dead letters ---------------------------------------------------------------

GROUPS = ("g0", "g1", "g2")


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-fifo-order")
def test_fifo_queue_keeps_order_per_group(sdconform: Case, env: Env, path: aws.ClientPath) -> None:
    """Latency only, and clients that wait it out: a receive whose answer is lost (timeouts)
    leaves its messages in flight unrecorded, and then moto once (1 run in 9) delivered a
    later message of a group before an earlier one came back: moto's group blocking on
    redelivery, not checked against AWS, so not part of this case. Order is judged by when
    each poll received (judges.FifoGroups), not when it completed: a poll also deletes what
    it got, and the delete can wait long in moto's queue (the delivery checker's order of
    completions once showed a reorder that the receive times rule out)."""
    _, resources = env
    queue = resources.queue("ordered", fifo=True, visibility_s=2)
    ep = path.endpoint
    sdconform.run(
        Messages(groups=GROUPS, guarantees=("at-least-once",)),
        lambda i: messaging.SqsClient(ep, {None: queue}, fifo=True, timeout=3.0),
        path.latency(),
        judge=judges.FifoGroups(),
        config={"groups": len(GROUPS), "visibility_timeout_s": 2},
        run=replace(FAULTY, settle=2.5, op_timeout=4.0),
    )


DEDUPLICATION = (
    "moto deduplicates a FIFO message only against copies still in the queue "
    "(Queue.add_message compares with _messages), not for the 5-minute window the claim is "
    "about: a resend after the first copy was deleted is delivered again"
)


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-fifo-exactly-once")
def test_fifo_deduplication_drops_a_resent_message(sdconform: Case, env: Env) -> None:
    """Every send goes out twice with one MessageDeduplicationId (a producer's retry): within
    the 5-minute window the second must be dropped, so nothing is received twice. (The claim's
    other half, exactly-once *delivery*, is not promised: a consumer that outlives the
    visibility timeout gets the message again, see the visibility tests.)"""
    cluster, resources = env
    queue = resources.queue("dedup", fifo=True)
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Messages(groups=GROUPS, guarantees=("exactly-once", "fifo")),
        lambda i: messaging.SqsClient(ep, {None: queue}, fifo=True, resend=True),
        [],
        judge=judges.Deduplicated(),
        emulator_limit=DEDUPLICATION if aws.is_emulator(cluster) else None,
        config={"sends_per_message": 2},
        run=RunConfig(settle=0.5),
    )


MAX_RECEIVES = 2


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-dlq")
def test_poison_messages_move_to_the_dead_letter_queue(sdconform: Case, env: Env) -> None:
    cluster, resources = env
    dlq = resources.queue("dead")
    main = resources.queue("poison", visibility_s=1, dead_letter=(dlq, MAX_RECEIVES))
    ep = aws.endpoint(cluster)
    sdconform.run(
        Messages(
            polls=("main",), send_ratio=0.3, drain=("main", "main", "dlq", "dlq", "dlq", "dlq")
        ),
        lambda i: messaging.SqsClient(
            ep, {None: main, "main": main, "dlq": dlq}, delete=False, timeout=3.0
        ),
        [],
        judge=judges.DeadLetters(MAX_RECEIVES),
        checkers=[],
        run=RunConfig(settle=1.5),
        config={"maxReceiveCount": MAX_RECEIVES, "visibility_timeout_s": 1},
    )


# --- SNS -------------------------------------------------------------------------------------

SUBSCRIBERS = ("q0", "q1", "q2")


@pytest.mark.backend("sns")
@pytest.mark.claim("sns-fanout")
def test_sns_delivers_every_publish_to_every_subscribed_queue(
    sdconform: Case, env: Env, path: aws.ClientPath
) -> None:
    _, resources = env
    queues = {q: resources.queue(f"sub-{q}", visibility_s=2) for q in SUBSCRIBERS}
    topic = resources.topic("fanout", list(queues.values()))
    ep = path.endpoint
    sdconform.run(
        Messages(polls=SUBSCRIBERS),
        lambda i: messaging.SnsClient(ep, topic, dict(queues), timeout=1.0),
        path.latency_then_timeouts(),
        judge=judges.EverySubscriber(SUBSCRIBERS),
        checkers=[],
        config={"subscribers": len(SUBSCRIBERS), "raw_delivery": True},
        run=replace(FAULTY, settle=2.5),
    )


# --- Kinesis ---------------------------------------------------------------------------------

KEYS = ("p0", "p1", "p2", "p3")
SHARD_ORDER = (
    "moto serves one request at a time and numbers each record as it applies it, and the "
    "clients make one attempt per call (no retry to land behind a later record): nothing "
    "here can reorder a shard, so an ordered read says nothing about Kinesis"
)


def kinesis_traffic(sdconform: Case, env: Env, guarantees: Sequence[str], limit: str,
                    config: dict[str, object]) -> None:
    """Producers put records of four partition keys on a two-shard stream, consumers read
    every shard from TRIM_HORIZON, a drain reads the rest; decided by the delivery checker's
    ``guarantees``. On moto: inconclusive (emulator), for the reason ``limit``; decided on the
    external runtime (no path fault there either: concurrent producers and consumers alone)."""
    cluster, resources = env
    stream = resources.stream("events", shards=2)
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Messages(groups=KEYS, drain=("drain",), guarantees=guarantees),
        lambda i: messaging.KinesisClient(ep, stream, timeout=2.0),
        [],
        decide_by=["delivery"],
        exercise=judges.ordered_per_key,
        emulator_limit=limit if aws.is_emulator(cluster) else None,
        config={"shards": 2, "producer": "PutRecord, one at a time", **config},
        run=RunConfig(settle=1.0),
    )


@pytest.mark.backend("kinesis")
@pytest.mark.claim("kds-shard-order")
def test_kinesis_keeps_order_within_a_shard(sdconform: Case, env: Env) -> None:
    """Records of one partition key read in the order they were acknowledged. On moto this
    cannot fail: inconclusive (emulator)."""
    kinesis_traffic(sdconform, env, ("log-order", "fifo", "at-least-once"), SHARD_ORDER, {})


SEQUENCE_NUMBERS = (
    "moto numbers each shard's records from one counter in one process serving one request "
    "at a time: it cannot give a number twice, so unique numbers there say nothing of Kinesis"
)


@pytest.mark.backend("kinesis")
@pytest.mark.claim("kds-seqno-unique")
def test_kinesis_sequence_numbers_are_unique_within_a_shard(sdconform: Case, env: Env) -> None:
    """The shard-order case's traffic, judged by sequence numbers alone (the delivery
    checker's log-order: each shard+sequence number holds one record, by every acknowledgement
    and every read, and each consumer reads them increasing). On moto: inconclusive
    (emulator)."""
    kinesis_traffic(sdconform, env, ("log-order",), SEQUENCE_NUMBERS,
                    {"judged_by": "sequence numbers (log-order)"})


@pytest.mark.backend("kinesis")
@pytest.mark.claim("kds-one-consumer-per-shard")
def test_two_consumers_read_the_same_shard(sdconform: Case, env: Env) -> None:
    cluster, resources = env
    stream = resources.stream("shared", shards=2)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Messages(groups=KEYS, drain=("drain",)),
        lambda i: messaging.KinesisClient(ep, stream),
        [],
        judge=judges.SharedShard(),
        checkers=[],
        run=RunConfig(settle=0.5),
        config={"consumers": "independent iterators"},
    )
