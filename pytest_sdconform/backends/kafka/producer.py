"""A confluent-kafka producer shared by one client or several, and the broker errors that mean
a send was not appended.

Every ``produce`` gets a ``seq``, the order of the call in its producer; ``retries`` counts the
producer's request retries (librdkafka's statistics, ``txretries`` over all brokers), so that a
send's completion can say how many came between its produce and its delivery report.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

# Broker errors that reject a produce request before anything is appended.
REJECTED = {
    "NOT_ENOUGH_REPLICAS",
    "NOT_LEADER_OR_FOLLOWER",
    "NOT_LEADER_FOR_PARTITION",
    "UNKNOWN_TOPIC_OR_PART",
    "MSG_SIZE_TOO_LARGE",
    "INVALID_REQUIRED_ACKS",
    "TOPIC_AUTHORIZATION_FAILED",
    "_UNKNOWN_PARTITION",
    "_UNKNOWN_TOPIC",
}


class SharedProducer:
    """A confluent-kafka producer that numbers its ``produce`` calls (``seq``) and counts its
    request retries from librdkafka's statistics; thread-safe, for one client or several."""

    def __init__(self, config: dict[str, Any], name: str):
        from confluent_kafka import Producer

        self.name = name
        self.retries = 0
        self.seq = 0
        self.lock = threading.Lock()
        self.producer = Producer({**config, "statistics.interval.ms": 200,
                                  "stats_cb": self._stats})

    def _stats(self, text: str) -> None:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            brokers = json.loads(text).get("brokers", {}).values()
            self.retries = max(self.retries, sum(int(b.get("txretries", 0)) for b in brokers))

    def warm(self, topic: str, timeout: float) -> None:
        """Learn ``topic``'s partitions before the first ``produce``. Without them librdkafka
        parks a message unassigned until the metadata arrives and moves it to its partition
        afterwards; sends made in between can be written first (a CI run: seq 1 at offset 5,
        with no retry). Best effort: a producer that cannot learn them now sends anyway."""
        with contextlib.suppress(Exception):
            self.producer.list_topics(topic, timeout=timeout)

    def produce(self, topic: str, value: bytes, key: bytes | None, box: dict[str, Any]) -> int:
        """Produce one message; its delivery report lands in ``box``. Returns its seq."""
        with self.lock:  # the seq is the order of the produce calls
            self.seq += 1
            seq = self.seq
            self.producer.produce(
                topic, value, key=key,
                on_delivery=lambda err, msg: box.update(err=err, msg=msg))
        return seq

    def wait(self, box: dict[str, Any], timeout: float) -> None:
        """Serve delivery reports (anyone's) until ``box`` has its own or time is up."""
        deadline = time.monotonic() + timeout
        while "err" not in box and time.monotonic() < deadline:
            self.producer.poll(0.02)
