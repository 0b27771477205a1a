"""A Kafka consumer in a child process, so that a consumer crash is a real SIGKILL.

An in-process librdkafka consumer cannot crash: closing it leaves the group cleanly and, with
auto commit, commits what it stored. The child runs one confluent-kafka consumer (or, with a
``transactional.id``, a read-process-write loop) and answers one JSON line per command read
on stdin. A command line may start with a number, its id, which the answer carries as
``"id"``: a parent that gave up waiting for one answer (a commit stuck under a partition)
must not take that late answer for the next command's.

- ``poll``: ``{"ok": [[partition, offset, value], ...]}`` (one batch, nothing committed);
- ``commit``: commit the positions of what was polled (synchronously);
- ``process``: consume a batch from the input topic, send it to the output topic and commit
  the input offsets in one transaction; ``crash_after_send`` stops before the commit;
- ``drain``: poll until every partition is assigned and has been read to its end; the answer's
  ``partitions`` say, per partition, where the group's committed offset stood when the drain
  ended (``committed``, -1001: none stored), the log's start offset at the end
  (``log_start``: what retention removed lies below it), and a time before which the drain
  did not read it (``read_after_s``, seconds after the command arrived: the last look at the
  assignment that did not hold it);
- ``close``: leave the group (committing, with auto commit) and exit.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any

BATCH = 100  # a poll op reads at most this many messages
DRAIN_BATCH = 10_000  # the drain reads a backlog of tens of thousands


def triples(msgs: list[Any]) -> tuple[list[list[Any]], list[str]]:
    out, errors = [], []
    for m in msgs:
        if m.error():
            if m.error().code() != -191:  # _PARTITION_EOF is not an error
                errors.append(str(m.error()))
            continue
        out.append([m.partition(), m.offset(), int(m.value())])
    return out, errors


def drain(consumer: Any, topic: str, limit: float) -> dict[str, Any]:
    """Read until the whole topic is assigned and read to its end (or, under read_committed,
    where the end is the last stable offset, until two seconds pass with nothing new)."""
    from confluent_kafka import KafkaException, TopicPartition

    got: list[list[Any]] = []
    idle = 0
    began = time.monotonic()
    deadline = began + limit
    # partition -> seconds into the drain before which it was not read: the last look at the
    # assignment that did not hold it (a lower bound of its first fetch)
    read_at: dict[int, float] = {}
    looked = 0.0
    while time.monotonic() < deadline:
        for tp in consumer.assignment():
            read_at.setdefault(tp.partition, looked)
        looked = time.monotonic() - began
        batch, _ = triples(consumer.consume(DRAIN_BATCH, 0.5))
        got += batch
        if batch:  # still reading: ask where the end is only once nothing comes
            idle = 0
            continue
        parts = list(consumer.list_topics(topic, timeout=2).topics[topic].partitions)
        if len(consumer.assignment()) < len(parts):
            continue
        idle += 1
        tps = [TopicPartition(topic, p) for p in parts]
        marks = {tp.partition: consumer.get_watermark_offsets(tp, timeout=2) for tp in tps}
        at = {tp.partition: tp.offset for tp in consumer.position(tps)}
        if idle >= 4 or all(at[p] >= marks[p][1] for p in parts):
            try:
                committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=5)}
            except KafkaException:
                committed = {}
            return {"ok": got, "partitions": {
                str(p): {"log_start": marks[p][0], "end": marks[p][1],
                         "committed": committed.get(p, -1),
                         "read_after_s": round(read_at.get(p, 0.0), 3)} for p in parts}}
    return {"error": f"drain not finished after {limit:.0f}s", "partial": got}


def main() -> None:
    from confluent_kafka import Consumer, KafkaException, Producer

    spec = json.loads(sys.argv[1])
    consumer = Consumer(spec["consumer"])
    if spec.get("subscribe", True):
        consumer.subscribe([spec["topic"]])
    producer = Producer(spec["producer"]) if spec.get("producer") else None
    if producer is not None:
        producer.init_transactions(10)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        ident: dict[str, Any] = {}
        if cmd and cmd[0].isdigit():
            ident = {"id": int(cmd.pop(0))}
        try:
            if cmd[0] == "poll":
                batch, errors = triples(consumer.consume(BATCH, float(cmd[1])))
                reply: dict[str, Any] = {"ok": batch, "errors": errors}
            elif cmd[0] == "commit":
                consumer.commit(asynchronous=False)
                reply = {"ok": []}
            elif cmd[0] == "process":
                assert producer is not None
                batch, errors = triples(consumer.consume(BATCH, float(cmd[1])))
                if batch:
                    producer.begin_transaction()
                    for _, _, value in batch:
                        producer.produce(spec["output"], str(value).encode())
                    producer.flush(10)
                    if len(cmd) > 2 and cmd[2] == "crash_after_send":
                        reply = {"ok": [], "sent": len(batch), "crashing": True, **ident}
                        print(json.dumps(reply), flush=True)
                        time.sleep(60)  # the parent SIGKILLs us mid-transaction
                    producer.send_offsets_to_transaction(
                        consumer.position(consumer.assignment()),
                        consumer.consumer_group_metadata(),
                        10,
                    )
                    producer.commit_transaction(10)
                reply = {"ok": [], "processed": len(batch), "errors": errors}
            elif cmd[0] == "drain":
                reply = drain(consumer, spec["topic"], float(cmd[1]))
            elif cmd[0] == "close":
                consumer.close()
                print(json.dumps({"ok": [], **ident}), flush=True)
                return
            else:
                reply = {"error": f"unknown command {cmd[0]}"}
        except KafkaException as e:
            err = e.args[0]
            reply = {
                "error": str(err),
                "abortable": bool(getattr(err, "txn_requires_abort", lambda: False)()),
            }
            if producer is not None and cmd[0] == "process":
                # abort what is open (a retriable error leaves it open too), then start again
                # from the committed offsets: the aborted batch is processed again
                with contextlib.suppress(KafkaException):
                    producer.abort_transaction(10)
                # the consumer's position moved past what was aborted: go back to the commit
                consumer.close()
                consumer = Consumer(spec["consumer"])
                consumer.subscribe([spec["topic"]])
        print(json.dumps({**reply, **ident}), flush=True)


if __name__ == "__main__":
    main()
