"""SQS, SNS and Kinesis clients, recording as ``checkers/delivery.py`` expects: ``send`` (key:
the FIFO group or the partition key) and ``poll`` (a list of ``[partition, offset, message]``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ...workloads import Invocation, Result
from ...workloads.log import DRAIN
from .client import Answering, BotoClient, boto, error_code
from .topology import Endpoint

# A drain poll that received nothing while messages were in flight waits this long before it
# returns: a workload's ten spare drain polls then outlast a visibility timeout of up to 10 s.
DRAIN_PAUSE_S = 1.0
HIDDEN = ("ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")


def in_flight(sqs: Any, url: str) -> int:
    """Messages the queue holds that no receive can return yet: received and not deleted
    (until their visibility timeout runs out; also those of a receive whose answer was lost)
    or delayed. Exact on moto; approximate on SQS."""
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(HIDDEN))["Attributes"]
    return sum(int(got.get(a, 0)) for a in HIDDEN)


def drain_check(sqs: Any, url: str) -> dict[str, Any]:
    """What a drain poll (value ``DRAIN``) that received nothing records: ``in_flight``, the
    messages an empty answer did not rule out (``judges.consumers.drained`` counts the queue
    drained only when there were none). While there are some it waits ``DRAIN_PAUSE_S``."""
    n = in_flight(sqs, url)
    if n:
        time.sleep(DRAIN_PAUSE_S)
    return {"in_flight": n}


class SqsClient(BotoClient):
    """``send`` to the queue ``queues[None]`` (FIFO: ``key`` is the MessageGroupId and the
    value the MessageDeduplicationId); ``poll`` receives from ``queues[key]``, holds the
    messages ``hold`` seconds (a slow consumer), then deletes them unless ``delete`` is off.

    ``resend``: each send is sent again with the same deduplication id, as a producer's retry
    after a lost answer would (what FIFO deduplication must absorb).
    ``fail_first``: the consumer's processing fails the first time it gets a message (its
    ApproximateReceiveCount is 1): that message is not deleted (recorded as ``failed``).
    ``down``: while set, the consumer is down: a poll asks nothing and fails (``consumer
    down``); sends go on (``faults.ConsumerOutage`` sets it).
    A poll whose value is ``DRAIN`` (a final drain) that received nothing also records the
    messages still in flight (``drain_check``).
    """

    service = "sqs"
    # A receive is no read: it hides the message and counts the receipt, so a receive whose
    # answer was lost may have happened (info).
    reads: frozenset[str] = frozenset()

    def __init__(
        self,
        ep: Endpoint,
        queues: dict[Any, str],
        fifo: bool = False,
        hold: float = 0.0,
        delete: bool = True,
        wait: int = 0,
        batch: int = 10,
        resend: bool = False,
        timeout: float = 2.0,
        fail_first: bool = False,
        down: threading.Event | None = None,
    ):
        super().__init__(ep, timeout)
        self.queues, self.fifo = queues, fifo
        self.hold, self.delete, self.wait, self.batch = hold, delete, wait, batch
        self.resend, self.fail_first, self.down = resend, fail_first, down

    def call(self, op: Invocation) -> Result:
        if op.f == "send":
            return self.send(op)
        if op.f == "poll":
            return self.poll(op)
        raise ValueError(f"sqs: unknown op {op.f}")

    def send(self, op: Invocation) -> Result:
        kw: dict[str, Any] = {"QueueUrl": self.queues[None], "MessageBody": str(op.value)}
        if self.fifo:
            kw.update(MessageGroupId=str(op.key), MessageDeduplicationId=str(op.value))
        ids = [self.client.send_message(**kw)["MessageId"] for _ in range(2 if self.resend else 1)]
        return Result("ok", node=self.service, extra={"message_ids": ids})

    def poll(self, op: Invocation) -> Result:
        if self.down is not None and self.down.is_set():
            return Result("fail", error="consumer down", node=self.service)
        began = time.monotonic()
        got = self.client.receive_message(
            QueueUrl=self.queues[op.key],
            MaxNumberOfMessages=self.batch,
            WaitTimeSeconds=self.wait,
            MessageSystemAttributeNames=["MessageGroupId", "ApproximateReceiveCount"],
        ).get("Messages", [])
        answered = time.monotonic()
        received_ms = round((answered - began) * 1000, 1)
        if got and self.hold:
            time.sleep(self.hold)
        counts = [int(m["Attributes"].get("ApproximateReceiveCount", 0)) for m in got]
        failed = [int(m["Body"]) for m, n in zip(got, counts, strict=True)
                  if self.fail_first and n <= 1]
        if failed:  # processing failed: those stay in the queue, the rest are deleted
            got_all, got = got, [m for m, n in zip(got, counts, strict=True) if n > 1]
        deleted: int | str | None = None
        if got and self.delete:
            # The messages were delivered whatever happens to the delete: a failed delete
            # means they come back after the visibility timeout, which the checkers count.
            try:
                answer = self.client.delete_message_batch(
                    QueueUrl=self.queues[op.key],
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(got)
                    ],
                )
                deleted = len(answer.get("Successful", []))
            except Exception as e:
                deleted = f"error: {error_code(e)}"
        if failed:
            got = got_all
        triples = [
            [m["Attributes"].get("MessageGroupId") if self.fifo else op.key, None, int(m["Body"])]
            for m in got
        ]
        extra: dict[str, Any] = {"asked": self.batch, "received_ms": received_ms,
                                 "deleted": deleted, "receive_counts": counts}
        if self.fail_first:
            extra["failed"] = failed
        if op.value == DRAIN and not got:
            extra.update(drain_check(self.client, self.queues[op.key]))
        # From the answer to the return (hold, delete): the judges take the completion, stamped
        # after the return, minus this as the moment the receive had surely been answered.
        extra["after_receive_ms"] = round((time.monotonic() - answered) * 1000, 1)
        return Result("ok", triples, node=self.service, extra=extra)


class SnsClient(SqsClient):
    """``send`` publishes to a topic; ``poll`` reads the subscriber queue named by ``key``.
    ``kind``: each message's ``type`` message attribute, from its value (what filter policies
    match; recorded as ``kind``). ``fifo``: a FIFO topic (``key`` the MessageGroupId, the value
    the MessageDeduplicationId; ``resend`` publishes each twice)."""

    def __init__(
        self,
        ep: Endpoint,
        topic_arn: str,
        queues: dict[Any, str],
        timeout: float = 2.0,
        kind: Callable[[Any], str] | None = None,
        **kw: Any,
    ):
        super().__init__(ep, queues, timeout=timeout, **kw)
        self.sns = boto("sns", ep, timeout)
        self.topic_arn, self.kind = topic_arn, kind

    def send(self, op: Invocation) -> Result:
        kw: dict[str, Any] = {"TopicArn": self.topic_arn, "Message": str(op.value)}
        extra: dict[str, Any] = {}
        if self.kind is not None:
            extra["kind"] = self.kind(op.value)  # not "type": the history's own field
            kw["MessageAttributes"] = {
                "type": {"DataType": "String", "StringValue": extra["kind"]}}
        if self.fifo:
            kw.update(MessageGroupId=str(op.key), MessageDeduplicationId=str(op.value))
        ids = [self.sns.publish(**kw)["MessageId"] for _ in range(2 if self.resend else 1)]
        return Result("ok", node="sns", extra={"message_ids": ids, **extra})

    def close(self) -> None:
        super().close()
        self.sns.close()


class KinesisClient(BotoClient):
    """``send``: PutRecord with ``key`` as the partition key (the answer's shard and sequence
    number become ``partition`` and ``offset``). ``poll``: one GetRecords per shard from this
    consumer's own iterators, which start at TRIM_HORIZON (every consumer reads everything);
    ``poll`` of ``"drain"`` reads every shard until it is empty. ``attempts`` > 1: the SDK's
    own retries on (a put whose answer was lost is sent again)."""

    service = "kinesis"

    def __init__(self, ep: Endpoint, stream: str, timeout: float = 2.0, attempts: int = 1):
        super().__init__(ep, timeout, attempts)
        self.stream = stream
        self.iterators: dict[str, str] = {}

    def call(self, op: Invocation) -> Result:
        c = self.client
        if op.f == "send":
            answer = c.put_record(
                StreamName=self.stream, Data=str(op.value).encode(), PartitionKey=str(op.key)
            )
            return Result(
                "ok",
                node=self.service,
                extra={"partition": answer["ShardId"], "offset": int(answer["SequenceNumber"]),
                       "retries": answer["ResponseMetadata"].get("RetryAttempts", 0)},
            )
        if op.f != "poll":
            raise ValueError(f"kinesis: unknown op {op.f}")
        if not self.iterators:
            for shard in c.list_shards(StreamName=self.stream)["Shards"]:
                self.iterators[shard["ShardId"]] = c.get_shard_iterator(
                    StreamName=self.stream,
                    ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]
        triples: list[list[Any]] = []
        for shard in sorted(self.iterators):
            while True:
                try:
                    got = c.get_records(ShardIterator=self.iterators[shard], Limit=1000)
                except Exception:
                    if triples:  # what was read is read; this shard's iterator stays put
                        return Result("ok", triples, node=self.service, extra={"partial": True})
                    raise
                self.iterators[shard] = got["NextShardIterator"]
                triples += [
                    [shard, int(r["SequenceNumber"]), int(r["Data"])] for r in got["Records"]
                ]
                if op.key != "drain" or not got["Records"]:
                    break
        return Result("ok", triples, node=self.service)


class SqsSettings(Answering):
    """``set`` a queue attribute (``key``) to ``value`` on the queue ``queue``; ``read`` an
    attribute (``key``) of ``pristine``, a queue created without setting it (its default).
    A refusal is ``fail`` with the error code and ``answered``."""

    service = "sqs"
    reads: frozenset[str] = frozenset(("read",))

    def __init__(self, ep: Endpoint, queue: str, pristine: str, timeout: float = 2.0):
        super().__init__(ep, timeout)
        self.queue, self.pristine = queue, pristine

    def call(self, op: Invocation) -> Result:
        if op.f == "set":
            self.client.set_queue_attributes(QueueUrl=self.queue,
                                             Attributes={str(op.key): str(op.value)})
            return Result("ok", node=self.service)
        if op.f == "read":
            got = self.client.get_queue_attributes(QueueUrl=self.pristine,
                                                   AttributeNames=[str(op.key)])
            return Result("ok", got.get("Attributes", {}).get(str(op.key)), node=self.service)
        raise ValueError(f"sqs settings: unknown op {op.f}")


class DynamoStream(BotoClient):
    """A table with a stream (NEW_AND_OLD_IMAGES): ``write`` puts item ``{k: key, v: value}``;
    ``poll`` of ``"drain"`` (the final op) reads the whole stream from TRIM_HORIZON, every
    shard until ``empty`` pages in a row come back empty: a list of ``[shard, sequence
    number, key, new value, event]`` (new value None for a REMOVE)."""

    service = "dynamodb"
    reads: frozenset[str] = frozenset(("poll",))

    def __init__(self, ep: Endpoint, table: str, timeout: float = 2.0, empty: int = 3):
        super().__init__(ep, timeout)
        self.table, self.empty = table, empty
        self.streams = boto("dynamodbstreams", ep, timeout)

    def call(self, op: Invocation) -> Result:
        if op.f == "write":
            self.client.put_item(TableName=self.table, Item={
                "k": {"S": str(op.key)}, "v": {"N": str(op.value)}})
            return Result("ok", node=self.service)
        if op.f != "poll" or op.key != "drain":
            raise ValueError(f"dynamodb stream: unknown op {op.f} {op.key}")
        s = self.streams
        arn = self.client.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        shards, start = [], None
        while True:
            kw = {"StreamArn": arn, **({"ExclusiveStartShardId": start} if start else {})}
            desc = s.describe_stream(**kw)["StreamDescription"]
            shards += [sh["ShardId"] for sh in desc.get("Shards", [])]
            start = desc.get("LastEvaluatedShardId")
            if not start:
                break
        records: list[list[Any]] = []
        for shard in shards:
            it = s.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            empty = 0
            while it and empty < self.empty:
                got = s.get_records(ShardIterator=it, Limit=1000)
                it = got.get("NextShardIterator")
                empty = 0 if got["Records"] else empty + 1
                for r in got["Records"]:
                    d = r["dynamodb"]
                    new = d.get("NewImage", {}).get("v", {}).get("N")
                    records.append([shard, d["SequenceNumber"], d["Keys"]["k"]["S"],
                                    None if new is None else int(new), r["eventName"]])
        return Result("ok", records, node=self.service, extra={"shards": len(shards)})

    def close(self) -> None:
        super().close()
        self.streams.close()


class KinesisSettings(Answering):
    """``set`` the stream's retention to ``value`` hours (IncreaseStreamRetentionPeriod or
    Decrease..., from the current one, once the stream is ACTIVE again: use one client);
    ``read`` the retention of ``pristine``, a stream left as created (its default);
    ``replay`` reads ``pristine`` from TRIM_HORIZON again (how many records it found). A
    refusal is ``fail`` with the error code and ``answered``."""

    service = "kinesis"
    reads: frozenset[str] = frozenset(("read", "replay"))

    def __init__(self, ep: Endpoint, stream: str, pristine: str, timeout: float = 2.0):
        super().__init__(ep, timeout)
        self.stream, self.pristine = stream, pristine

    def _summary(self, stream: str) -> dict[str, Any]:
        for _ in range(100):  # a retention change leaves the stream UPDATING for a while
            got: dict[str, Any] = self.client.describe_stream_summary(StreamName=stream)[
                "StreamDescriptionSummary"]
            if got["StreamStatus"] == "ACTIVE":
                return got
            time.sleep(0.1)
        raise TimeoutError(f"stream {stream} not ACTIVE")

    def call(self, op: Invocation) -> Result:
        c = self.client
        if op.f == "read":
            return Result("ok", self._summary(self.pristine)["RetentionPeriodHours"],
                          node=self.service)
        if op.f == "set":
            now = self._summary(self.stream)["RetentionPeriodHours"]
            if int(op.value) == now:  # nothing to ask: no answer either way
                return Result("fail", error="already at that retention", node=self.service)
            change = (c.increase_stream_retention_period if int(op.value) > now
                      else c.decrease_stream_retention_period)
            change(StreamName=self.stream, RetentionPeriodHours=int(op.value))
            return Result("ok", node=self.service, extra={"from_hours": now})
        if op.f == "replay":
            shards = c.list_shards(StreamName=self.pristine)["Shards"]
            n = 0
            for shard in shards:
                it = c.get_shard_iterator(StreamName=self.pristine, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                for _ in range(5):  # a page can come back empty before the records
                    got = c.get_records(ShardIterator=it, Limit=1000)
                    n += len(got["Records"])
                    it = got.get("NextShardIterator")
                    if got["Records"] or not it:
                        break
            return Result("ok", n, node=self.service)
        raise ValueError(f"kinesis settings: unknown op {op.f}")
