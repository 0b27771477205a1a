"""A counter behind a queue (SQS in front of a DynamoDB item), as "high-volume counters: a
queue in front of the table" designs it: producers send events, consumers add one to the
counter per event, then delete it. A consumer that crashes after its update and before its
delete leaves the event to come back once its visibility timeout ran out.
"""

from __future__ import annotations

from typing import Any

from ...workloads import Invocation, Result
from ...workloads.log import DRAIN
from .client import BotoClient, boto
from .messaging import drain_check
from .topology import Endpoint

COUNTER = "counter"


class CounterQueue(BotoClient):
    """``send`` an event (its value, unique) to ``queue``; ``poll`` receives up to ``batch``
    events, adds 1 to the counter item of ``table`` per event (UpdateItem ADD), then deletes
    them, except when the consumer "crashes" after the updates: a poll that got an event
    whose first receipt it is and whose value is a multiple of ``crash_every`` deletes
    nothing (recorded: ``applied``, the events counted, and ``crashed``, those left in the
    queue). A poll whose value is ``DRAIN`` never crashes, and when it receives nothing it
    records the events still in flight (``messaging.drain_check``). ``read``: the counter
    (ConsistentRead; None before the first event)."""

    service = "sqs"
    reads: frozenset[str] = frozenset(("read",))

    def __init__(self, ep: Endpoint, queue: str, table: str, crash_every: int = 5,
                 batch: int = 10, timeout: float = 2.0):
        super().__init__(ep, timeout)
        self.queue, self.table = queue, table
        self.crash_every, self.batch = crash_every, batch
        self.ddb = boto("dynamodb", ep, timeout)

    def call(self, op: Invocation) -> Result:
        key = {"k": {"S": COUNTER}}
        if op.f == "send":
            self.client.send_message(QueueUrl=self.queue, MessageBody=str(op.value))
            return Result("ok", node="sqs")
        if op.f == "read":
            item = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get(
                "Item")
            return Result("ok", int(item["c"]["N"]) if item else None, node="dynamodb")
        if op.f != "poll":
            raise ValueError(f"counter queue: unknown op {op.f}")
        got = self.client.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=self.batch,
            MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
        applied: list[int] = []
        for m in got:
            self.ddb.update_item(TableName=self.table, Key=key, UpdateExpression="ADD c :one",
                                 ExpressionAttributeValues={":one": {"N": "1"}})
            applied.append(int(m["Body"]))
        crash = op.value != DRAIN and any(
            int(m["Body"]) % self.crash_every == 0
            and int(m["Attributes"].get("ApproximateReceiveCount", 0)) <= 1 for m in got)
        if got and not crash:
            self.client.delete_message_batch(QueueUrl=self.queue, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        triples: list[list[Any]] = [[None, None, int(m["Body"])] for m in got]
        extra: dict[str, Any] = {"applied": applied, "crashed": applied if crash else []}
        if op.value == DRAIN and not got:
            extra.update(drain_check(self.client, self.queue))
        return Result("ok", triples, node="sqs", extra=extra)

    def close(self) -> None:
        super().close()
        self.ddb.close()
