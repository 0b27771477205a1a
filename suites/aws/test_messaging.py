"""SQS, SNS and Kinesis claims (claims.md §11, §13) against moto's server, or real AWS with
SDCONFORM_AWS_RUNTIME=external. Histories follow checkers/delivery.py: ``send`` and ``poll``."""

from __future__ import annotations

import itertools
import random
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import messaging
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.delivery import DeliveryChecker
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import Completed, History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD, decide
from pytest_sdconform.workloads import Invocation

# Proving a latency fault takes seconds while moto is busy: 7 s of traffic, so that the
# faults overlap it even when CI asks for 5.
FAULTY = {"duration": 7.0, "quiet": 0.5, "fault_duration": 2.0, "op_timeout": 3.0}


@dataclass
class Messages:
    """Unique messages sent with a key from ``groups`` (a FIFO group, a partition key, or
    None), polls with a key from ``polls`` (which queue), and a drain after the faults."""

    name = "messages"
    groups: Sequence[Any] = (None,)
    polls: Sequence[Any] = (None,)
    send_ratio: float = 0.5
    drain: Sequence[Any] = ()  # the final polls' keys (default: 10 of each poll key)
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
        return [Invocation("poll", k) for k in keys]

    def checkers(self) -> list[Checker]:
        return [DeliveryChecker(self.guarantees)]


def receipts(history: History) -> Iterator[tuple[Completed, Any, Any]]:
    """(poll, key, message) for every message an ok poll received."""
    for c in history.complete():
        if c.f == "poll" and c.type == "ok":
            for _, _, message in c.value or ():
                yield c, c.key, message


def acked(history: History) -> set[Any]:
    return {c.invoke.value for c in history.complete() if c.f == "send" and c.type == "ok"}


# --- SQS standard ----------------------------------------------------------------------------


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-standard-at-least-once")
def test_standard_queue_delivers_every_acknowledged_message(
    sdconform: Any, env: Any, path: aws.ClientPath
) -> None:
    _, resources = env
    queue = resources.queue("standard", visibility_s=2)
    ep = path.endpoint
    sdconform.run(
        Messages(),
        lambda i: messaging.SqsClient(ep, {None: queue}, timeout=1.0),
        path.latency_then_timeouts(),
        decide_by=["delivery"],
        config={"visibility_timeout_s": 2},
        settle=2.5,
        **FAULTY,
    )


VISIBILITY_S = 1
HOLD_S = 2.0


@dataclass
class Holding:
    """A receipt and how long its consumer held the message (receive to delete)."""

    process: Any
    message: Any
    received_by: int  # ns: the receive had surely happened by then
    sent_at: int  # ns: the receive request left no earlier
    held_until: int


def holdings(history: History) -> dict[Any, list[Holding]]:
    out: dict[Any, list[Holding]] = defaultdict(list)
    for c, _, m in receipts(history):
        assert c.completion is not None
        got = c.invoke.time + int(float(c.completion.get("received_ms", 0)) * 1e6)
        out[m].append(Holding(c.process, m, got, c.invoke.time, c.completion.time))
    for hs in out.values():
        hs.sort(key=lambda h: h.sent_at)
    return out


def two_holders(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Refuted when a message was received by a consumer while another still held it."""
    hs = holdings(history)
    for m, held in hs.items():
        for a, b in itertools.combinations(held, 2):
            if a.process != b.process and b.received_by < a.held_until:
                overlap = (a.held_until - b.received_by) / 1e9
                return REFUTED, (
                    f"message {m} was held by consumers {a.process} and "
                    f"{b.process} at once for {overlap:.2f}s (processing took "
                    f"{HOLD_S:g}s, visibility timeout {VISIBILITY_S}s)"
                )
    if not any(len(h) > 1 for h in hs.values()):
        return INCONCLUSIVE, "no message was received twice"
    return UPHELD, "no message was received while another consumer held it"


def redelivered_after_timeout(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Upheld when held messages came back, and none sooner than the visibility timeout."""
    gaps = []
    for m, held in holdings(history).items():
        for a, b in itertools.pairwise(held):
            longest = (b.received_by - a.sent_at) / 1e9  # the most the gap can have been
            if longest < VISIBILITY_S - 0.05:
                return REFUTED, (
                    f"message {m} was received again within {longest:.2f}s, "
                    f"before the {VISIBILITY_S}s visibility timeout"
                )
            gaps.append((b.sent_at - a.received_by) / 1e9)
    if not gaps:
        return INCONCLUSIVE, "no message was received twice"
    return UPHELD, (
        f"{len(gaps)} redeliveries of messages held past the {VISIBILITY_S}s "
        f"visibility timeout, none earlier"
    )


def slow_consumers(sdconform: Any, env: Any, judge: Any) -> None:
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
        settle=0.5,
        op_timeout=HOLD_S + 3,
    )


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-visibility-timeout")
def test_a_message_held_past_the_visibility_timeout_is_redelivered(
    sdconform: Any, env: Any
) -> None:
    slow_consumers(sdconform, env, redelivered_after_timeout)


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-single-consumer")
def test_two_consumers_can_hold_one_message(sdconform: Any, env: Any) -> None:
    slow_consumers(sdconform, env, two_holders)


# --- SQS FIFO and dead letters ---------------------------------------------------------------

GROUPS = ("g0", "g1", "g2")


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-fifo-order")
def test_fifo_queue_keeps_order_per_group(sdconform: Any, env: Any, path: aws.ClientPath) -> None:
    """Latency only, and clients that wait it out: a receive whose answer is lost (timeouts)
    leaves its messages in flight unrecorded, and then moto once (1 run in 9) delivered a
    later message of a group before an earlier one came back: moto's group blocking on
    redelivery, not checked against AWS, so not part of this case."""
    _, resources = env
    queue = resources.queue("ordered", fifo=True, visibility_s=2)
    ep = path.endpoint
    sdconform.run(
        Messages(groups=GROUPS, guarantees=("fifo", "at-least-once")),
        lambda i: messaging.SqsClient(ep, {None: queue}, fifo=True, timeout=3.0),
        path.latency(),
        decide_by=["delivery"],
        config={"groups": len(GROUPS), "visibility_timeout_s": 2},
        settle=2.5,
        **{**FAULTY, "op_timeout": 4.0},
    )


def deduplicated(cluster: Any) -> Any:
    """At most once per deduplication id within 5 minutes. moto keeps a deduplication id
    only while its message is still in the queue (``Queue.add_message`` compares with
    ``_messages``), not for 5 minutes: a resend after the first copy was deleted is delivered
    again. So on the emulator the claimed window cannot be shown: inconclusive, with what
    was seen; elsewhere the delivery checker decides."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        v = verdicts["delivery"]
        if aws.is_emulator(cluster):
            dups = sum(1 for a in v.anomalies if a.kind == "duplicate")
            sent = sum(1 for c in history.complete() if c.f == "send" and c.type == "ok")
            return INCONCLUSIVE, (
                f"inconclusive (emulator): {sent} messages sent twice each, {dups} delivered "
                "twice: moto deduplicates only against messages still queued, not for the "
                "5-minute window the claim is about"
            )
        d = decide(verdicts, ["delivery"], history, need_faults=False)
        return d.outcome, d.reason

    return judge


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-fifo-exactly-once", expected=aws.expected())
def test_fifo_deduplication_drops_a_resent_message(sdconform: Any, env: Any) -> None:
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
        judge=deduplicated(cluster),
        config={"sends_per_message": 2},
        settle=0.5,
    )


MAX_RECEIVES = 2


def dead_letters(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """A poison message is received at most maxReceiveCount times, then lands in the DLQ
    (never before: the DLQ's ApproximateReceiveCount, carried over, says how often it was
    received in the source queue, also by receives whose answer was lost)."""
    main: dict[Any, int] = defaultdict(int)
    arrived: dict[Any, int] = {}
    for c in history.complete():
        if c.f != "poll" or c.type != "ok" or c.completion is None:
            continue
        counts = c.completion.get("receive_counts") or [None] * len(c.value or ())
        for (_, _, m), n in zip(c.value or (), counts, strict=True):
            if c.key == "dlq":
                arrived.setdefault(m, (n or 1) - 1)  # minus this receive from the DLQ
            else:
                main[m] += 1
    over = {m: n for m, n in main.items() if n > MAX_RECEIVES}
    if over:
        m, n = next(iter(over.items()))
        return REFUTED, f"message {m} was received {n} times (maxReceiveCount {MAX_RECEIVES})"
    early = {m: n for m, n in arrived.items() if n < MAX_RECEIVES}
    if early:
        m, n = next(iter(early.items()))
        return REFUTED, (
            f"{len(early)} messages reached the DLQ before {MAX_RECEIVES} "
            f"receives (e.g. {m} after {n})"
        )
    strays = (
        set(arrived)
        - acked(history)
        - {c.invoke.value for c in history.complete() if c.f == "send" and c.type == "info"}
    )
    if strays:
        return REFUTED, f"{len(strays)} messages in the DLQ were never sent"
    if not arrived:
        return INCONCLUSIVE, "no message reached the DLQ"
    return UPHELD, (
        f"{len(arrived)} messages moved to the DLQ after exactly {MAX_RECEIVES} "
        f"receives; none received more often"
    )


@pytest.mark.backend("sqs")
@pytest.mark.claim("sqs-dlq")
def test_poison_messages_move_to_the_dead_letter_queue(sdconform: Any, env: Any) -> None:
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
        judge=dead_letters,
        checkers=[],
        settle=1.5,
        config={"maxReceiveCount": MAX_RECEIVES, "visibility_timeout_s": 1},
    )


# --- SNS -------------------------------------------------------------------------------------

SUBSCRIBERS = ("q0", "q1", "q2")


def every_subscriber(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    sent = acked(history)
    got: dict[Any, set[Any]] = {q: set() for q in SUBSCRIBERS}
    for _, key, m in receipts(history):
        got[key].add(m)
    missing = {q: sorted(sent - got[q]) for q in SUBSCRIBERS if sent - got[q]}
    if not sent:
        return INCONCLUSIVE, "no publish was acknowledged"
    if missing:
        q, ms = next(iter(missing.items()))
        return REFUTED, (
            f"{sum(map(len, missing.values()))} acknowledged publishes missing "
            f"from subscribers {sorted(missing)} (e.g. {q}: {ms[:5]})"
        )
    return UPHELD, (
        f"each of {len(SUBSCRIBERS)} subscriber queues received all {len(sent)} "
        "acknowledged publishes"
    )


@pytest.mark.backend("sns")
@pytest.mark.claim("sns-fanout")
def test_sns_delivers_every_publish_to_every_subscribed_queue(
    sdconform: Any, env: Any, path: aws.ClientPath
) -> None:
    _, resources = env
    queues = {q: resources.queue(f"sub-{q}", visibility_s=2) for q in SUBSCRIBERS}
    topic = resources.topic("fanout", list(queues.values()))
    ep = path.endpoint
    sdconform.run(
        Messages(polls=SUBSCRIBERS),
        lambda i: messaging.SnsClient(ep, topic, dict(queues), timeout=1.0),
        path.latency_then_timeouts(),
        judge=every_subscriber,
        checkers=[],
        settle=2.5,
        config={"subscribers": len(SUBSCRIBERS), "raw_delivery": True},
        **FAULTY,
    )


# --- Kinesis ---------------------------------------------------------------------------------

KEYS = ("p0", "p1", "p2", "p3")


@pytest.mark.backend("kinesis")
@pytest.mark.claim("kds-shard-order")
def test_kinesis_keeps_order_within_a_shard(sdconform: Any, env: Any, path: aws.ClientPath) -> None:
    _, resources = env
    stream = resources.stream("events", shards=2)
    ep = path.endpoint
    sdconform.run(
        Messages(groups=KEYS, drain=("drain",), guarantees=("log-order", "fifo", "at-least-once")),
        lambda i: messaging.KinesisClient(ep, stream, timeout=1.0),
        path.latency_then_timeouts(),
        decide_by=["delivery"],
        config={"shards": 2, "producer": "PutRecord, one at a time"},
        settle=1.0,
        **FAULTY,
    )


def shared_shard(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Refuted when two consumers each read the same records of one shard."""
    seen: dict[tuple[Any, Any], set[Any]] = defaultdict(set)  # (shard, process) -> messages
    for c in history.complete():
        if c.f == "poll" and c.type == "ok" and not c.is_final:
            for shard, _, m in c.value or ():
                seen[(shard, c.process)].add(m)
    best = (0, None, None, None)
    for (s1, p1), (s2, p2) in itertools.combinations(seen, 2):
        if s1 == s2 and p1 != p2:
            common = len(seen[(s1, p1)] & seen[(s2, p2)])
            best = max(best, (common, s1, p1, p2), key=lambda b: b[0])
    common, shard, p1, p2 = best
    if common >= 5:
        return REFUTED, (
            f"consumers {p1} and {p2} both read the same {common} records of "
            f"{shard}: a shard has as many readers as read it"
        )
    return INCONCLUSIVE, "no two consumers read the same records of a shard"


@pytest.mark.backend("kinesis")
@pytest.mark.claim("kds-one-consumer-per-shard")
def test_two_consumers_read_the_same_shard(sdconform: Any, env: Any) -> None:
    cluster, resources = env
    stream = resources.stream("shared", shards=2)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Messages(groups=KEYS, drain=("drain",)),
        lambda i: messaging.KinesisClient(ep, stream),
        [],
        judge=shared_shard,
        checkers=[],
        settle=0.5,
        config={"consumers": "independent iterators"},
    )
