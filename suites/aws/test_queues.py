"""The SQS claims about consumers and queue settings (claims.md §11): delay queues, re-queue of
failed messages, decoupling through a consumer outage, standard-queue order and the retention
bounds, against moto's server or real AWS with ``--sdconform-runtime external``. Bounds are
the queue's own settings (DelaySeconds, VisibilityTimeout); the judges are in
pytest_sdconform/backends/aws/judges/ (``consumers``, ``settings``)."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, counters, judges, messaging
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.log import DRAIN
from pytest_sdconform.workloads.probes import Probes

pytestmark = pytest.mark.backend("sqs")


@dataclass
class Traffic:
    """Unique messages sent (a share ``send_ratio`` of the ops) and polls of the queues
    ``polls``; the final ops drain each queue: ``drains`` polls more than the messages sent
    could fill (ten a poll)."""

    name = "messages"
    polls: Sequence[str | None] = (None,)
    send_ratio: float = 0.4
    drains: int = 10
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < self.send_ratio:
            with self._lock:
                return Invocation("send", None, next(self._values))
        return Invocation("poll", rng.choice(list(self.polls)))

    def final_ops(self) -> list[Invocation]:
        with self._lock:
            sent = next(self._values) - 1
        n = sent // 10 + self.drains
        return [Invocation("poll", k, DRAIN) for k in self.polls for _ in range(n)]

    def checkers(self) -> list[Checker]:
        return []


DELAY_S = 2


@pytest.mark.claim("sqs-delay-queue")
def test_a_delay_queue_hides_each_message_for_its_delay(sdconform: Case, env: Env) -> None:
    """A queue with DelaySeconds=2: consumers poll all along; no message may be received
    sooner than 2 s after its send was invoked, and every one must come out in the end (the
    drain runs once the last delay ran out: the settle is the delay)."""
    cluster, resources = env
    queue = resources.queue("delayed", DelaySeconds=DELAY_S)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Traffic(send_ratio=0.3),
        lambda i: messaging.SqsClient(ep, {None: queue}),
        [],
        judge=judges.DelayedUntil(DELAY_S),
        config={"DelaySeconds": DELAY_S},
        run=RunConfig(settle=DELAY_S + 0.5),
    )


VISIBILITY_S = 1


@pytest.mark.claim("sqs-requeue")
def test_a_message_whose_processing_failed_comes_back(sdconform: Case, env: Env) -> None:
    """Consumers fail the first processing of every message (no delete); SQS must deliver it
    again once its 1 s visibility timeout ran out (the drain comes after that: the settle is
    the timeout)."""
    cluster, resources = env
    queue = resources.queue("requeue", visibility_s=VISIBILITY_S)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Traffic(send_ratio=0.3),
        lambda i: messaging.SqsClient(ep, {None: queue}, fail_first=True),
        [],
        judge=judges.Requeued(VISIBILITY_S),
        config={"visibility_timeout_s": VISIBILITY_S, "processing": "fails the first time"},
        run=RunConfig(settle=VISIBILITY_S + 0.5),
    )


@pytest.mark.claim("sqs-decoupling")
def test_producers_go_on_while_the_consumers_are_down(sdconform: Case, env: Env) -> None:
    """The consuming service goes down (its consumers stop polling) and comes back, in turn:
    sends must go on being acknowledged meanwhile, and what was sent must be received once
    the consumers are back."""
    cluster, resources = env
    queue = resources.queue("decoupled", visibility_s=5)
    ep = aws.endpoint(cluster)
    outage = aws.ConsumerOutage()
    sdconform.run(
        Traffic(),
        lambda i: messaging.SqsClient(ep, {None: queue}, down=outage.down),
        [outage],
        judge=judges.ProducerUnaffected(),
        config={"consumers": "stop polling during consumer-down"},
        run=RunConfig(quiet=1.0, fault_duration=2.0, settle=0.5),
    )


STANDARD_ORDER = (
    "moto's standard queue is one in-memory list handed out oldest first by one process: it "
    "cannot reorder, so the order it shows says nothing of SQS's distributed standard queues"
)


@pytest.mark.claim("sqs-standard-order")
def test_a_standard_queue_keeps_order_only_as_best_effort(sdconform: Case, env: Env) -> None:
    """Messages sent one after the other, received by concurrent consumers: most ordered pairs
    must come in order (best effort), inversions allowed. On moto: inconclusive (emulator)."""
    cluster, resources = env
    queue = resources.queue("standard-order", visibility_s=5)
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Traffic(),
        lambda i: messaging.SqsClient(ep, {None: queue}),
        [],
        judge=judges.BestEffortOrder(),
        emulator_limit=STANDARD_ORDER if aws.is_emulator(cluster) else None,
        run=RunConfig(settle=0.5),
    )


RETENTION = "MessageRetentionPeriod"
MIN_S, MAX_S, DEFAULT_S = 60, 14 * 24 * 3600, 4 * 24 * 3600
RETENTION_LIMIT = (
    "moto accepts any MessageRetentionPeriod (59 s and 14 days + 1 s were both accepted here) "
    "and never deletes a message for its age, so it shows nothing of SQS's bounds"
)


@pytest.mark.claim("sqs-retention")
def test_retention_is_bounded_from_a_minute_to_fourteen_days(sdconform: Case, env: Env) -> None:
    """SetQueueAttributes with a retention one second either side of each bound: 60 s and 14
    days accepted, 59 s and 14 days + 1 s refused, and a new queue's default is 4 days. (That
    messages older than the retention are deleted takes a minute at least: not in this case's
    budget.) On moto: inconclusive (emulator)."""
    cluster, resources = env
    queue, pristine = resources.queue("retention"), resources.queue("retention-default")
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    expects = [
        judges.Expect(f"a retention of {v} s", "set", RETENTION, v, MIN_S <= v <= MAX_S)
        for v in (MIN_S - 1, MIN_S, MAX_S, MAX_S + 1)
    ] + [judges.Expect("the default retention", "read", RETENTION, None, True, str(DEFAULT_S))]
    ep = aws.endpoint(cluster)
    sdconform.run(
        Probes([Invocation(e.f, e.key, e.value) for e in expects]),
        lambda i: messaging.SqsSettings(ep, queue, pristine),
        [],
        judge=judges.Answers(expects, name="retention-bounds"),
        emulator_limit=RETENTION_LIMIT if aws.is_emulator(cluster) else None,
        config={"bounds_s": [MIN_S, MAX_S], "default_s": DEFAULT_S},
        run=RunConfig(duration=2.0, settle=0.0, op_delay=0.05),
    )


@dataclass
class Events:
    """Events sent to the queue and polls that count them; at the end drains that never crash
    (``drains`` more than the events sent could fill, ten a poll) and two reads of the
    counter."""

    send_ratio: float = 0.5
    drains: int = 10
    name = "counted-events"
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < self.send_ratio:
            with self._lock:
                return Invocation("send", None, next(self._values))
        return Invocation("poll")

    def final_ops(self) -> list[Invocation]:
        with self._lock:
            sent = next(self._values) - 1
        drains = sent // 10 + self.drains
        return [Invocation("poll", None, DRAIN)] * drains + [Invocation("read")] * 2

    def checkers(self) -> list[Checker]:
        return []


CRASH_EVERY = 5


@pytest.mark.claim("sqs-counter-queue")
def test_a_counter_behind_a_queue_settles_on_every_event(sdconform: Case, env: Env) -> None:
    """Events go through a standard queue to consumers that add one to a DynamoDB counter
    per event, then delete it; a consumer "crashes" between its updates and its delete when
    its batch holds a first receipt of an event numbered a multiple of 5, so those events come
    back after the 1 s visibility timeout and are counted again. After the drain the counter
    must settle and count every event at least once (the over-count is reported)."""
    cluster, resources = env
    queue = resources.queue("counted", visibility_s=VISIBILITY_S)
    table = resources.table("counter")
    ep = aws.endpoint(cluster)
    sdconform.run(
        Events(),
        lambda i: counters.CounterQueue(ep, queue, table, crash_every=CRASH_EVERY),
        [],
        judge=judges.Converges(),
        config={"visibility_timeout_s": VISIBILITY_S, "crash": "after update, before delete",
                "increments": "ADD 1 per event, not idempotent"},
        run=RunConfig(settle=VISIBILITY_S + 0.5),
    )
