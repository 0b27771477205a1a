"""The clients of a pipeline case: business transactions and reads on PostgreSQL, events and
reads on Kafka, and the final reads of both systems (``read`` of ``"table"``, ``poll`` of
``"topic"``) that the outbox checker and the freshness judge compare.

Outcomes as everywhere: ``fail`` when the operation surely did not happen (no connection, an
error the server answered, a produce the broker rejected), ``info`` when it may have (a
connection lost during a commit, a produce with no delivery report).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ...nodes.routes import via
from ...workloads import Invocation, Result
from ..kafka.producer import REJECTED
from ..postgres.topology import PORT, USER

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, aggregate text NOT NULL,
                                   value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id bigserial PRIMARY KEY, aggregate text NOT NULL,
                                   value bigint NOT NULL, sent boolean NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS cdc (k text PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE IF NOT EXISTS projection (k text PRIMARY KEY, v bigint NOT NULL);
"""


def slot(db: str) -> str:
    """The logical replication slot of a case's database (slots are per cluster)."""
    return f"cdc_{db}"


def _short(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


def pg_connect(address: str, db: str = "postgres", timeout: float = 2.0) -> Any:
    import psycopg

    host, port = via(address, PORT)
    return psycopg.connect(host=host, port=port, user=USER, dbname=db, autocommit=True,
                           connect_timeout=max(2, int(timeout)),
                           options=f"-c statement_timeout={int(timeout * 1000)}")


def prepare(address: str, db: str, cdc: bool = False) -> None:
    """A database of the case's own (a cluster shared by cases), the pipeline's tables, and
    for change data capture the case's logical slot (test_decoding, named after the
    database), made before any write so that the slot sees every one."""
    with pg_connect(address, "postgres", 10) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    with pg_connect(address, db, 10) as conn:
        conn.execute(SCHEMA)
        if cdc:
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')",
                         (slot(db),))


def message(m: Any, whole: bool = False) -> tuple[str, Any, int, int]:
    """A record's key, value (the body's ``value``, or the whole body), offset, partition."""
    body = json.loads(bytes(m.value() or b"null"))
    return (bytes(m.key() or b"").decode(), body if whole else body["value"], int(m.offset()),
            int(m.partition()))


EVENT_FIELDS = ("value", "prev", "seq", "ts", "by")


def event_row(m: Any) -> list[Any]:
    """A published event as the history keeps it: ``[value, prev, seq, ts, by, offset]``."""
    _, body, offset, _ = message(m, whole=True)
    return [*(body.get(f) for f in EVENT_FIELDS), offset]


def read_topic(bootstrap: str, topic: str, timeout: float = 20.0,
               events: bool = False) -> list[list[Any]]:
    """Every message of ``topic`` up to the high watermarks read at the start, as
    ``[key, value, offset]`` (offsets of a one-partition topic are its order), or with
    ``events`` as ``event_row`` gives them."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"drain-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        seen: dict[int, int] = dict.fromkeys(parts, 0)
        out: list[list[Any]] = []
        deadline = time.monotonic() + timeout
        while any(seen[p] < ends[p] for p in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: read {sum(seen.values())} of "
                                   f"{sum(ends.values())} messages in {timeout:.0f}s")
            for m in consumer.consume(500, 0.5):
                if m.error() is None:
                    key, value, offset, partition = message(m)
                    out.append(event_row(m) if events else [key, value, offset])
                    seen[partition] = offset + 1
        return out
    finally:
        consumer.close()


class Copy:
    """A downstream copy of the topic as one reader sees it now: a consumer from the topic's
    beginning, whatever it has fetched applied in order (the latest value per key)."""

    def __init__(self, bootstrap: str, topic: str):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.consumer = Consumer({"bootstrap.servers": bootstrap, "enable.auto.commit": False,
                                  "group.id": f"copy-{uuid.uuid4()}", "fetch.wait.max.ms": 10})
        self.consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        self.rows: dict[str, Any] = {}

    def take(self) -> list[Any]:
        """The messages fetched since the last call, in order."""
        got: list[Any] = []
        while batch := self.consumer.consume(500, 0.01 if not got else 0):
            got += [m for m in batch if m.error() is None]
        return got

    def read(self, key: str) -> Any:
        wait = 0.01  # serve the client's queue once, then take what is already fetched
        while True:
            batch = self.consumer.consume(500, wait)
            wait = 0
            for m in batch:
                if m.error() is None:
                    key, value, _, _ = message(m)
                    self.rows[key] = value
            if not batch:
                return self.rows.get(key)

    def close(self) -> None:
        self.consumer.close()


class PipelineClient:
    """``mode`` outbox: ``write`` is a business transaction (an order and its outbox row);
    cdc: ``write`` upserts row ``key`` of the captured table, ``read`` reads the downstream
    copy; project: ``write`` appends an event to the topic, ``read`` reads the projection;
    log (Kafka alone): ``write`` appends, ``read`` asks the partition leader for the high
    watermark (what consumers may read: offsets below it); events: ``poll`` of ``"events"``
    returns the publishers' events read since the last poll (``event_row``). In every mode,
    ``read`` of ``"table"`` and ``poll`` of ``"topic"`` are the final reads. ``producer``:
    settings of the appending producer (acks=all, no retries by default)."""

    def __init__(self, mode: str, pg: str, db: str, bootstrap: str, topic: str,
                 timeout: float = 2.0, producer: dict[str, Any] | None = None):
        self.mode, self.pg, self.db, self.bootstrap, self.topic = mode, pg, db, bootstrap, topic
        self.timeout = timeout
        self.producer_settings = {"acks": "all", "enable.idempotence": False, "retries": 0,
                                  **(producer or {})}
        self._conn: Any = None
        self._copy: Copy | None = None
        self._producer: Any = None
        self._watermarks: Any = None

    def invoke(self, op: Invocation) -> Result:
        if op.f == "poll" and op.key == "topic":
            try:
                return Result("ok", read_topic(self.bootstrap, self.topic,
                                               events=self.mode == "events"))
            except Exception as e:
                return Result("fail", error=_short(e))
        if op.f == "read" and op.key == "table":
            return self._pg(lambda c: [list(r) for r in c.execute(
                "SELECT aggregate, value, sent FROM outbox ORDER BY id").fetchall()], reads=True)
        if self.mode == "outbox" and op.f == "write":
            return self._pg(lambda c: self._order(c, op), reads=False)
        if self.mode == "cdc" and op.f == "write":
            return self._pg(lambda c: c.execute(
                "INSERT INTO cdc (k, v) VALUES (%s, %s) ON CONFLICT (k) DO UPDATE "
                "SET v = excluded.v", (op.key, op.value)) and None, reads=False)
        if self.mode == "cdc" and op.f == "read":
            return self._read_copy(str(op.key))
        if self.mode in ("project", "log") and op.f == "write":
            return self._append(op)
        if self.mode == "log" and op.f == "read":
            return self._high_watermark()
        if self.mode == "events" and op.f == "poll" and op.key == "events":
            try:
                if self._copy is None:
                    self._copy = Copy(self.bootstrap, self.topic)
                return Result("ok", [event_row(m) for m in self._copy.take()], node="kafka")
            except Exception as e:
                return Result("fail", error=_short(e), node="kafka")
        if self.mode == "project" and op.f == "read":
            return self._pg(lambda c: (lambda r: None if r is None else r[0])(c.execute(
                "SELECT v FROM projection WHERE k = %s", (op.key,)).fetchone()), reads=True)
        raise ValueError(f"pipeline client ({self.mode}): unknown operation {op.f} {op.key}")

    @staticmethod
    def _order(conn: Any, op: Invocation) -> None:
        with conn.transaction():
            conn.execute("INSERT INTO orders (aggregate, value) VALUES (%s, %s)",
                         (op.key, op.value))
            conn.execute("INSERT INTO outbox (aggregate, value) VALUES (%s, %s)",
                         (op.key, op.value))

    def _pg(self, run: Any, reads: bool) -> Result:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = pg_connect(self.pg, self.db, self.timeout)
        except psycopg.OperationalError as e:  # never connected: nothing was sent
            return Result("fail", error=_short(e), node="postgres")
        try:
            return Result("ok", run(self._conn), node="postgres")
        except psycopg.Error as e:
            broken = self._conn.broken or (getattr(e, "sqlstate", "") or "").startswith("57P")
            if broken:
                self._conn = None
            # A server's answer rolled the transaction back; a broken link during a write's
            # commit leaves it unknown.
            return Result("info" if broken and not reads else "fail", error=_short(e),
                          node="postgres")

    def _read_copy(self, key: str) -> Result:
        try:
            if self._copy is None:
                self._copy = Copy(self.bootstrap, self.topic)
            value = self._copy.read(key)
            return Result("ok", value, node="copy", extra={"copy_keys": len(self._copy.rows)})
        except Exception as e:
            return Result("fail", error=_short(e), node="copy")

    def _append(self, op: Invocation) -> Result:
        from confluent_kafka import Producer

        if self._producer is None:
            self._producer = Producer({"bootstrap.servers": self.bootstrap,
                                       "message.timeout.ms": int(self.timeout * 1000),
                                       **self.producer_settings})
        box: dict[str, Any] = {}
        self._producer.produce(self.topic, json.dumps({"value": op.value}).encode(),
                               key=str(op.key).encode(),
                               on_delivery=lambda err, msg: box.update(err=err, msg=msg))
        self._producer.flush(self.timeout + 1)
        if "err" not in box:
            return Result("info", error="no delivery report", node="kafka")
        err = box["err"]
        if err is None:
            return Result("ok", node="kafka", extra={"offset": box["msg"].offset()})
        return Result("fail" if err.name() in REJECTED else "info", error=err.name(),
                      node="kafka")

    def _high_watermark(self) -> Result:
        from confluent_kafka import Consumer, TopicPartition

        try:
            if self._watermarks is None:
                self._watermarks = Consumer({"bootstrap.servers": self.bootstrap,
                                             "group.id": f"hw-{uuid.uuid4()}"})
            _, high = self._watermarks.get_watermark_offsets(
                TopicPartition(self.topic, 0), timeout=self.timeout, cached=False)
            return Result("ok", int(high), node="kafka")
        except Exception as e:
            return Result("fail", error=_short(e), node="kafka")

    def close(self) -> None:
        if self._watermarks is not None:
            self._watermarks.close()
        if self._conn is not None:
            self._conn.close()
        if self._copy is not None:
            self._copy.close()
