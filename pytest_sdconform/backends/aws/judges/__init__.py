"""Judges of the AWS suites (suites/aws): how a DynamoDB, S3, SQS, SNS or Kinesis history
decides its claim. Each says what the history must show before "no violation" may count as
upheld (``exercises``), and each refutation carries the operations that prove it. One module
per service (``dynamodb``, ``queues`` and ``consumers`` for SQS, ``topics`` and ``filters`` for
SNS, ``streams`` for Kinesis, ``s3`` and ``objects``, ``settings`` for what a service accepts and
refuses), with the exercise rules and history helpers they share in ``common``; every public
name is re-exported here, so callers import them from ``backends.aws.judges``.

The path faults of the local runtime are client latency (requests still succeed, slowly) and
timeouts (nothing comes back: outcomes unknown). ``path_faults`` is what such a case must show
for them: operations succeeded during every latency window and calls were in flight during
every timeout window. The external runtime injects no fault, so there it asks nothing.
"""

from .common import acked, all_of, final_ok, ok_count, path_faults, receipts, retried
from .consumers import BestEffortOrder, DelayedUntil, ProducerUnaffected, Requeued
from .counters import Converges
from .dynamodb import (
    CANCELLED,
    TOO_MANY,
    AllOrNothing,
    ItemLimit,
    Ledger,
    OncePerToken,
    StrongReadsLinearizable,
    conflicts,
    read_after_own_write,
    strong_reads_only,
    txn_size,
)
from .dynamodb_ttl import TtlDeletes
from .filters import FifoTopic, FilteredDelivery
from .objects import NotTorn, ObjectLocked, Resumed
from .queues import (
    DeadLetters,
    Deduplicated,
    FifoGroups,
    Holders,
    Holding,
    RedeliveredAfterTimeout,
    TwoHolders,
    holdings,
    received_by,
)
from .s3 import StrongRefutesEventual, VersionsKept, read_after_write
from .settings import Answers, Expect
from .streams import SharedShard, StreamPublishes, ordered_per_key
from .topics import EverySubscriber

__all__ = [
    "CANCELLED",
    "TOO_MANY",
    "AllOrNothing",
    "Answers",
    "BestEffortOrder",
    "Converges",
    "DeadLetters",
    "Deduplicated",
    "DelayedUntil",
    "EverySubscriber",
    "Expect",
    "FifoGroups",
    "FifoTopic",
    "FilteredDelivery",
    "Holders",
    "Holding",
    "ItemLimit",
    "Ledger",
    "NotTorn",
    "ObjectLocked",
    "OncePerToken",
    "ProducerUnaffected",
    "RedeliveredAfterTimeout",
    "Requeued",
    "Resumed",
    "SharedShard",
    "StreamPublishes",
    "StrongReadsLinearizable",
    "StrongRefutesEventual",
    "TtlDeletes",
    "TwoHolders",
    "VersionsKept",
    "acked",
    "all_of",
    "conflicts",
    "final_ok",
    "holdings",
    "ok_count",
    "ordered_per_key",
    "path_faults",
    "read_after_own_write",
    "read_after_write",
    "receipts",
    "received_by",
    "retried",
    "strong_reads_only",
    "txn_size",
]
