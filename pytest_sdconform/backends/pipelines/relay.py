"""The relay between PostgreSQL and Kafka, run as a node of its own (``python -m
pytest_sdconform.backends.pipelines.relay MODE ...``), so the harness kills, pauses and
partitions it like any server. Three modes:

- ``outbox``: reads unsent rows of the ``outbox`` table in id order, publishes each (key: the
  aggregate; value: ``{"value": ..}``), waits for every delivery report, then marks them sent.
  ``--mark-delay`` holds it between publish and mark: the window where a crash publishes
  twice (a real relay has the same window, only shorter).
- ``cdc``: log-based change data capture: peeks the logical replication slot (``test_decoding``)
  for changes to the ``cdc`` table, publishes each row image (key: the row's key) and only then
  consumes them from the slot: at-least-once, as Debezium is.
- ``publish``: one of several publishers of an aggregate's events, each naming the event it
  read last, with a counter and its wall-clock timestamp (the clock-skew fault moves it);
- ``project``: an event-sourcing projector: consumes the event topic from its committed offset
  and upserts each event into the ``projection`` table, committing the offset afterwards.

It writes "relay ready" to its log once connected to both systems (its readiness), and
survives either system's outage by reconnecting; nothing is ever skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

READY = "relay ready"
# test_decoding's line for a row change: table public.cdc: UPDATE: k[text]:'k1' v[bigint]:7
CHANGE = re.compile(
    r"^table public\.cdc: (?:INSERT|UPDATE): k\[text\]:'([^']*)' v\[bigint\]:(-?\d+)")


def connect(host: str, db: str) -> Any:
    import psycopg

    return psycopg.connect(host=host, port=5432, user="postgres", dbname=db,
                           connect_timeout=2, autocommit=True)


def producer(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    # One request in flight keeps the order through retries without idempotence, whose producer
    # id a freshly started cluster hands out only after its coordinator has loaded (seen: more
    # than a second, during which a relay published nothing).
    return Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
                     "max.in.flight.requests.per.connection": 1, "linger.ms": 0,
                     "message.timeout.ms": 5000, "socket.connection.setup.timeout.ms": 1000})


def publish(prod: Any, topic: str, messages: list[tuple[str, dict[str, Any]]]) -> bool:
    """Publish in order and wait for every delivery report: all delivered or not."""
    errors: list[Any] = []
    for key, body in messages:
        prod.produce(topic, json.dumps(body).encode(), key=key.encode(),
                     on_delivery=lambda err, _m: errors.append(err) if err else None)
    left = prod.flush(10)
    if errors or left:
        print(f"publish failed: {errors[:1]} ({left} undelivered)", flush=True)
        return False
    return True


def outbox_step(conn: Any, prod: Any, topic: str, mark_delay: float) -> int:
    rows = conn.execute("SELECT id, aggregate, value FROM outbox WHERE NOT sent "
                        "ORDER BY id LIMIT 500").fetchall()
    if not rows or not publish(prod, topic, [(r[1], {"value": r[2]}) for r in rows]):
        return 0
    time.sleep(mark_delay)  # published, not yet marked: a crash now publishes them again
    conn.execute("UPDATE outbox SET sent = true WHERE id = ANY(%s)", ([r[0] for r in rows],))
    return len(rows)


def cdc_step(conn: Any, prod: Any, topic: str, slot: str) -> int:
    changes = conn.execute("SELECT lsn, data FROM pg_logical_slot_peek_changes(%s, NULL, 2000)",
                           (slot,)).fetchall()
    if not changes:
        return 0
    messages = [(m[1], {"value": int(m[2])}) for _, data in changes
                if (m := CHANGE.match(data))]
    if messages and not publish(prod, topic, messages):
        return 0
    # Consume exactly the transactions published (those committed up to the last one peeked):
    # the slot's confirmed position moves past them only now.
    conn.execute("SELECT count(*) FROM pg_logical_slot_get_changes(%s, %s::pg_lsn, NULL)",
                 (slot, changes[-1][0]))
    return len(messages)


def project(args: argparse.Namespace) -> None:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": args.kafka, "group.id": args.group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 6000})
    consumer.subscribe([args.topic])
    conn = connect(args.pg, args.db)
    print(READY, flush=True)
    while True:
        try:
            if conn is None or conn.closed:
                conn = connect(args.pg, args.db)
            batch = consumer.consume(100, 0.1)
            events = [m for m in batch if m.error() is None]
            for m in events:
                body = json.loads(bytes(m.value() or b"null"))
                conn.execute("INSERT INTO projection (k, v) VALUES (%s, %s) ON CONFLICT (k) "
                             "DO UPDATE SET v = excluded.v",
                             (bytes(m.key() or b"").decode(), body["value"]))
            if events:
                consumer.commit(asynchronous=False)
        except Exception as e:  # a system down: reconnect, reread from the committed offset
            print(f"projector: {type(e).__name__}: {e}", flush=True)
            conn = None
            time.sleep(0.2)


def publish_events(args: argparse.Namespace) -> None:
    """A publisher of one aggregate's events: it follows the topic, and each event it
    publishes names the last one it had read (``prev``: a causal link), a counter one past it
    (``seq``) and its own wall clock (``ts``, which the clock-skew fault moves)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    prod = producer(args.kafka)
    consumer = Consumer({"bootstrap.servers": args.kafka, "enable.auto.commit": False,
                         "group.id": f"publisher-{args.name}-{time.time_ns()}",
                         "fetch.wait.max.ms": 10})
    consumer.assign([TopicPartition(args.topic, 0, OFFSET_BEGINNING)])
    latest: dict[str, Any] | None = None
    n = 0
    print(READY, flush=True)
    while True:
        try:
            for m in consumer.consume(200, 0.01):
                if m.error() is None:
                    latest = json.loads(bytes(m.value() or b"null"))
            n += 1
            body = {"value": f"{args.name}-{time.monotonic_ns()}-{n}",
                    "prev": latest["value"] if latest else None,
                    "seq": latest["seq"] + 1 if latest else 1,
                    "ts": time.time(), "by": args.name}
            publish(prod, args.topic, [("aggregate", body)])
            time.sleep(args.poll)
        except Exception as e:
            print(f"publisher: {type(e).__name__}: {e}", flush=True)
            time.sleep(0.2)


def relay(args: argparse.Namespace) -> None:
    conn, prod = connect(args.pg, args.db), producer(args.kafka)
    # Connected to the brokers, with the topic's metadata, before saying ready: a relay killed
    # while its first publish still waited for a connection would show nothing.
    prod.list_topics(args.topic, timeout=30)
    print(READY, flush=True)
    while True:
        try:
            if conn is None or conn.closed:
                conn = connect(args.pg, args.db)
            if args.mode == "outbox":
                n = outbox_step(conn, prod, args.topic, args.mark_delay)
            else:
                n = cdc_step(conn, prod, args.topic, args.slot)
            if not n:
                time.sleep(args.poll)
        except Exception as e:  # a system down: reconnect; unmarked rows are read again
            print(f"relay: {type(e).__name__}: {e}", flush=True)
            conn = None
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["outbox", "cdc", "project", "publish"])
    parser.add_argument("--name", default="p1", help="a publisher's name")
    parser.add_argument("--pg", required=True, help="the PostgreSQL primary's address")
    parser.add_argument("--kafka", required=True, help="the bootstrap servers")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--db", default="postgres", help="the case's database")
    parser.add_argument("--slot", default="", help="the logical slot (cdc)")
    parser.add_argument("--group", default="projector")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between empty polls")
    parser.add_argument("--mark-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    {"project": project, "publish": publish_events}.get(args.mode, relay)(args)


if __name__ == "__main__":
    main()
