"""Pipelines across PostgreSQL and Kafka (claims.md §8): the transactional outbox, log-based change
data capture, an event-sourcing projection; and what the pipelines' consumers rely on from Kafka
alone: per-symbol order of keyed ticks, an acknowledged message readable at once. A PostgreSQL
primary (``wal_level=logical``) and three Kafka brokers are shared by the suite's cases (each
case has a database and a topic of its own); each case starts our relay as a node of its own
(``backends/pipelines``), which the nemesis kills (SIGKILL, restarted at the heal) like any
server.

Run: ``pytest --sdconform suites/pipelines --sdconform-duration 5``.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import pytest

from pytest_sdconform.backends import kafka as kb
from pytest_sdconform.backends import pipelines as pl
from pytest_sdconform.backends import postgres as pg
from pytest_sdconform.backends.kafka.judges import PartitionOrder
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.judge import Checkers
from pytest_sdconform.checkers.outbox import OutboxChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults.process import Kill
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.log import Log

pytestmark = pytest.mark.backend("pipelines")

KAFKA = kb.Topology()  # shared by the suite's cases: JVM start-up dominates
LOGICAL = pg.Settings(extra=("wal_level=logical", "max_replication_slots=4"))
# One relay crash of 2 s after 2 s of traffic (the relay busy by then), restarted at the heal;
# final reads wait for the pipeline to drain (``converged``) for up to ``settle``.
CRASH = RunConfig(quiet=2.0, fault_duration=2.0, settle=20.0, op_timeout=5.0)
_numbers = itertools.count(1)


@dataclass
class Pipeline:
    pg: str  # the PostgreSQL primary's address
    db: str  # the case's database
    bootstrap: str
    topic: str
    relay: Cluster[pl.RelayInfo]

    def client(self, mode: str) -> pl.PipelineClient:
        return pl.PipelineClient(mode, self.pg, self.db, self.bootstrap, self.topic)


def start(sdconform: Case, mode: str, mark_delay: float = 0.0) -> Pipeline:
    """The shared PostgreSQL and Kafka, with a database and a one-partition topic of this case
    (the schema, and the slot for CDC), then the case's relay."""
    kafka = sdconform.start(KAFKA, shared=True)
    postgres = sdconform.start(pg.Topology(settings=LOGICAL), shared=True)
    name = f"{mode}{next(_numbers)}"
    kb.create_topics(kafka.info.bootstrap, [kb.Topic(name, 1)])
    address = postgres.info.addresses[postgres.info.primary]
    pl.prepare(address, name, cdc=mode == "cdc")
    relay = sdconform.start(pl.Topology(mode=mode, pg=address, db=name,
                                        kafka=kafka.info.bootstrap, topic=name,
                                        mark_delay=mark_delay))
    sdconform.config.update(topic=name, topic_partitions=1, database=name)
    return Pipeline(address, name, kafka.info.bootstrap, name, relay)


@dataclass
class Writes:
    """Writes of values unique in the history to ``keys`` keys, and reads of them (a share
    ``1 - write_ratio``); the final operations are ``finals``."""

    keys: int = 4
    write_ratio: float = 1.0
    finals: Sequence[Invocation] = ()
    name = "pipeline-writes"
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        key = f"g{rng.randrange(self.keys)}"
        if rng.random() >= self.write_ratio:
            return Invocation("read", key)
        with self._lock:
            return Invocation("write", key, next(self._values))

    def final_ops(self) -> list[Invocation]:
        return list(self.finals)

    def checkers(self) -> list[Checker]:
        return []


def unsent(address: str, db: str) -> int:
    with pl.pg_connect(address, db, 5) as conn:
        row = conn.execute("SELECT count(*) FROM outbox WHERE NOT sent").fetchone()
        return int(row[0]) if row else -1


def relay_kill(sdconform: Case, pipeline: Pipeline) -> Kill:
    return sdconform.fault(lambda: pipeline.relay.kill(["relay"]))


# The outbox relay's wait between publishing a batch (up to 500 rows) and marking it sent: most
# of its time once busy, so that the crash lands there.
MARK_DELAY_S = 0.5


@pytest.mark.claim("outbox-reliable")
def test_the_outbox_relay_crashed_between_publish_and_mark_duplicates_never_loses(
        sdconform: Case) -> None:
    """Orders and their outbox rows written in one transaction; our relay publishes each
    batch, waits 0.5 s, then marks it sent, and is SIGKILLed meanwhile. Every committed order
    must reach the topic, no message without its order, per-aggregate order kept; a message
    published twice is allowed, and is the proof that a crash landed between publish and
    mark (otherwise inconclusive)."""
    pipeline = start(sdconform, "outbox", mark_delay=MARK_DELAY_S)
    kill = relay_kill(sdconform, pipeline)
    sdconform.run(
        Writes(finals=[Invocation("read", "table"), Invocation("poll", "topic")]),
        lambda i: pipeline.client("outbox"),
        [kill],
        checkers=[OutboxChecker()],
        judge=Checkers(["outbox"], pl.published_twice("kill"),
                       "the relay crashed between publishing a batch and marking it sent"),
        converged=lambda: unsent(pipeline.pg, pipeline.db) == 0,
        config={"mark_delay_s": MARK_DELAY_S, "aggregates": 4},
        run=CRASH,
    )


def projected(pipeline: Pipeline) -> bool:
    """The projection holds each key's last event in the log."""
    last = {k: v for k, v, _ in pl.read_topic(pipeline.bootstrap, pipeline.topic)}
    with pl.pg_connect(pipeline.pg, pipeline.db, 5) as conn:
        rows = dict(conn.execute("SELECT k, v FROM projection").fetchall())
    return rows == last


def captured(pipeline: Pipeline) -> bool:
    """The topic's last message per key is the table's row (CDC has caught up)."""
    last = {k: v for k, v, _ in pl.read_topic(pipeline.bootstrap, pipeline.topic)}
    with pl.pg_connect(pipeline.pg, pipeline.db, 5) as conn:
        rows = dict(conn.execute("SELECT k, v FROM cdc").fetchall())
    return rows == last


@pytest.mark.claim("cdc-log-based")
def test_change_data_capture_into_kafka_is_not_immediately_consistent(sdconform: Case) -> None:
    """Rows of a PostgreSQL table upserted with unique values while readers read a downstream
    copy (a consumer of the CDC topic, from its beginning). Our relay reads the logical slot,
    publishes, then consumes what it published from the slot. "Immediate consistency across
    platforms" is refuted by a copy read that misses a write PostgreSQL acknowledged before
    the read began; the judge says by how much. No fault: the lag is the pipeline's own (a
    relay crash only lengthens it, and a refutation must not hang on a fault it does not
    need)."""
    pipeline = start(sdconform, "cdc")
    sdconform.run(
        Writes(write_ratio=0.4, finals=[Invocation("read", f"g{k}") for k in range(4)]),
        lambda i: pipeline.client("cdc"),
        [],
        judge=pl.Freshness("immediate"),
        converged=lambda: captured(pipeline),
        config={"decoding": "test_decoding", "copy": "a consumer per reader"},
        run=CRASH,
    )


@pytest.mark.claim("es-projection-lag")
def test_an_event_sourced_projection_lags_its_log_and_converges(sdconform: Case) -> None:
    """Commands append events to the topic (acks=all); our projector consumes them into a
    PostgreSQL table, committing its offsets after each batch, and is SIGKILLed once; queries
    read the projection. Upheld when a read misses an acknowledged event (the lag the claim
    warns of) and every final read, after the heal, shows the latest event."""
    pipeline = start(sdconform, "project")
    kill = relay_kill(sdconform, pipeline)
    sdconform.run(
        Writes(write_ratio=0.4, finals=[Invocation("read", f"g{k}") for k in range(4)]),
        lambda i: pipeline.client("project"),
        [kill],
        judge=pl.Freshness("may-lag"),
        converged=lambda: projected(pipeline),
        config={"projection": "postgres table, offsets committed after each batch"},
        run=CRASH,
    )


# --- Kafka alone: what the consumers of a pipeline see ---------------------------------------

# Eight workers share one producer with up to five requests in flight, one message a request;
# the partition's leader is killed with sends in flight (an election takes the 3 s broker
# session timeout), so the producer retries them at the new leader.
IN_FLIGHT = {"acks": "all", "max.in.flight.requests.per.connection": 5, "linger.ms": 0,
             "batch.num.messages": 1, "enable.idempotence": True}
TICKS_RUN = RunConfig(duration=8.0, quiet=1.5, fault_duration=5.5, concurrency=8, settle=30.0,
                      op_timeout=15.0)


def topic_of(sdconform: Case, prefix: str, partitions: int) -> tuple[Cluster[kb.KafkaInfo], str]:
    kafka = sdconform.start(KAFKA, shared=True)
    name = f"{prefix}{next(_numbers)}"
    kb.create_topics(kafka.info.bootstrap, [kb.Topic(name, partitions)])
    sdconform.config.update(topic=name, topic_partitions=partitions)
    return kafka, name


@pytest.mark.claim("kafka-ordering-stock-ticks")
def test_ticks_keyed_by_symbol_keep_their_order_per_symbol(sdconform: Case) -> None:
    """Ticks of eight symbols, keyed by symbol, over three partitions; an idempotent producer
    shared by eight workers with five requests in flight; the leader of partition 0 killed
    meanwhile. Each symbol's ticks must be read in the order they were sent (per-key FIFO and
    log order); nothing is claimed across symbols."""
    kafka, topic = topic_of(sdconform, "ticks", 3)
    settings = kb.Settings(kafka.info.bootstrap, topic=topic, group=f"{topic}-group",
                           producer=IN_FLIGHT, share_producer=8, timeout=10.0)
    sdconform.run(
        Log(poll_ratio=0, keys=8, guarantees=["fifo", "log-order"]),
        lambda i: kb.KafkaClient(settings, i),
        [kb.LeaderKill(kafka, topic)],
        judge=PartitionOrder(),
        converged=lambda: kb.converged(kafka.info.bootstrap, [kb.Topic(topic, 3)]),
        config={"producer": IN_FLIGHT, "symbols": 8, "workers_per_producer": 8},
        run=TICKS_RUN,
    )


def visibility(sdconform: Case, producer: dict[str, object], judge: pl.Visibility) -> None:
    kafka, topic = topic_of(sdconform, "visible", 1)
    sdconform.run(
        Writes(keys=1, write_ratio=0.5),
        lambda i: pl.PipelineClient("log", "", "", kafka.info.bootstrap, topic,
                                    producer=dict(producer)),
        [],
        judge=judge,
        config={"producer": producer, "read": "the leader's high watermark (ListOffsets)"},
        run=RunConfig(settle=0.0),
    )


@pytest.mark.claim("msk-immediate-visibility")
def test_an_append_acknowledged_with_acks_all_is_readable_at_once(sdconform: Case) -> None:
    """Appends (acks=all) to a one-partition topic (RF 3) while other clients ask the leader
    for the high watermark: every read begun after an acknowledged append must count it as
    readable (offset below the watermark)."""
    visibility(sdconform, {"acks": "all"}, pl.Visibility())


@pytest.mark.claim("msk-immediate-visibility", config="acks-1")
def test_an_append_acknowledged_with_acks_1_may_not_be_readable_yet(sdconform: Case) -> None:
    """The same with acks=1: the leader acknowledges before its followers have fetched the
    message, and consumers read only below the high watermark, which waits for them."""
    visibility(sdconform, {"acks": 1}, pl.Visibility(
        not_guaranteed="acks=1 does not promise it; a run that shows no unreadable "
        "acknowledged append proves nothing"))


# --- several publishers of one aggregate ------------------------------------------------------

# Publisher p2's wall clock is put 2 s behind for 4 s, after 1 s.
SKEW_MS = -2000
SKEWED = RunConfig(quiet=1.0, fault_duration=4.0, settle=0.0)


@dataclass
class Observe:
    """Clients poll the events as they come (each from the topic's start); the final read is
    the whole topic."""

    name = "observe-events"

    def next_op(self, rng: random.Random) -> Invocation:
        return Invocation("poll", "events")

    def final_ops(self) -> list[Invocation]:
        return [Invocation("poll", "topic")]

    def checkers(self) -> list[Checker]:
        return []


def latest_timestamp(bootstrap: str, topic: str, name: str) -> Callable[[], float]:
    """A probe of a publisher's clock: the timestamp of its newest event (it publishes every
    20 ms, so that clock reading is a few tens of ms old, within the fault's tolerance)."""

    def probe() -> float:
        mine = [e for e in pl.read_topic(bootstrap, topic, events=True) if e[4] == name]
        if not mine:
            raise LookupError(f"no event of {name} yet")
        return float(mine[-1][3])

    return probe


def publishers(sdconform: Case, judge: pl.CausalOrder) -> None:
    """Two publisher nodes of our own (``relay.py publish``) emit events of one aggregate to a
    one-partition topic, each naming the last event it had read (a causal link), a counter
    one past it and its wall-clock timestamp; p2's clock is skewed by the harness's clock
    fault (the process's own clock, through the runtime's shim)."""
    kafka, topic = topic_of(sdconform, "events", 1)
    cluster = sdconform.start(pl.Topology(mode="publish", kafka=kafka.info.bootstrap,
                                          topic=topic, publishers=2, poll=0.02))
    skew = sdconform.fault(lambda: cluster.clock_skew(
        {"p2": SKEW_MS}, probes={"p2": latest_timestamp(kafka.info.bootstrap, topic, "p2")}))
    sdconform.run(
        Observe(),
        lambda i: pl.PipelineClient("events", "", "", kafka.info.bootstrap, topic),
        [skew],
        judge=judge,
        config={"order_by": judge.by, "skew_ms": {"p2": SKEW_MS}},
        run=replace(SKEWED, concurrency=2),
    )


@pytest.mark.claim("es-ordering-timestamps")
def test_incremental_identifiers_order_events_of_several_publishers(sdconform: Case) -> None:
    """Ordered by their counters (one past the event read), the events follow causality even
    while one publisher's clock is skewed."""
    publishers(sdconform, pl.CausalOrder("seq"))


@pytest.mark.claim("es-ordering-timestamps", config="wall-clock-skew")
def test_wall_clock_timestamps_misorder_events_under_skew(sdconform: Case) -> None:
    """Ordered by their publishers' wall-clock timestamps, an event of the skewed publisher
    comes before the event it had read."""
    publishers(sdconform, pl.CausalOrder("ts"))
