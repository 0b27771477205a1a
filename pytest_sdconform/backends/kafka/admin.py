"""Kafka's admin API, as the harness uses it: topics (``Topic``, creation with a full ISR) and
questions about the cluster's metadata (brokers up, a partition's leader, replicas and ISR).
Every function takes the bootstrap servers as the harness reaches them."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Topic:
    """A topic; ``replicas`` pins every partition to those broker ids (its replication factor
    is then their number), otherwise the controller places ``replication`` replicas."""

    name: str
    partitions: int = 1
    replication: int = 3
    config: dict[str, str] = field(default_factory=dict)
    replicas: list[int] | None = None

    def __post_init__(self) -> None:
        if self.replicas is not None:
            self.replication = len(self.replicas)

    def new_topic(self) -> Any:
        from confluent_kafka.admin import NewTopic

        if self.replicas is not None:
            assignment = [list(self.replicas) for _ in range(self.partitions)]
            # librdkafka wants the partition count with an assignment, and no replication factor
            return NewTopic(
                self.name, self.partitions, -1, replica_assignment=assignment, config=self.config
            )
        return NewTopic(self.name, self.partitions, self.replication, config=self.config)



def wait_for_brokers(bootstrap: str, count: int, timeout: float = 60) -> None:
    """Wait until ``count`` brokers are registered (a restarted broker re-registers)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    while True:
        try:
            brokers = len(admin.list_topics(timeout=5).brokers)
        except Exception:  # no broker answered yet
            brokers = 0
        if brokers >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {brokers} of {count} brokers registered after {timeout:.0f}s")
        time.sleep(0.2)


def create_offsets_topic(bootstrap: str, nodes: int, timeout: float = 60) -> None:
    """Have the brokers create ``__consumer_offsets`` now (a group coordinator lookup does it)
    and wait for its full ISR, rather than on a case's first consumer group, which may come
    while a fault is on or a broker is catching up."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    offsets = Topic("__consumer_offsets", 3, min(3, nodes))
    deadline = time.monotonic() + timeout
    while not converged(bootstrap, [offsets]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"__consumer_offsets has no full ISR after {timeout:.0f}s")
        with contextlib.suppress(Exception):  # the coordinator is not there yet: ask again
            for future in admin.describe_consumer_groups(["sdconform-warmup"]).values():
                future.result(timeout=5)
        time.sleep(0.2)


def create_topics(bootstrap: str, topics: list[Topic], timeout: float = 60) -> None:
    """Create the topics once enough brokers are registered, and wait until each partition
    has a leader and a full ISR."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout
    wait_for_brokers(bootstrap, max(t.replication for t in topics), timeout)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [t.new_topic() for t in topics]
    for name, future in admin.create_topics(new, request_timeout=30).items():
        try:
            future.result(timeout=30)
        except Exception as e:
            if "already exists" not in str(e):
                raise RuntimeError(f"creating topic {name}: {e}") from e
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=5).topics
        if all(
            t.name in md
            and len(md[t.name].partitions) == t.partitions
            and all(
                p.leader >= 0 and len(p.isrs) == t.replication
                for p in md[t.name].partitions.values()
            )
            for t in topics
        ):
            return
        time.sleep(0.2)
    raise TimeoutError(f"topics {[t.name for t in topics]} have no full ISR after {timeout:.0f}s")


def leader(bootstrap: str, topic: str, partition: int = 0) -> str:
    """The node name (``n<id>``) leading a partition now, from the cluster's metadata."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            p = admin.list_topics(topic, timeout=5).topics[topic].partitions[partition]
            if p.leader >= 0:
                return f"n{p.leader}"
        except Exception:  # a broker restarting: ask again
            pass
        time.sleep(0.2)
    raise TimeoutError(f"no leader for {topic}/{partition}")


def leader_says(broker: str, topic: str, partition: int = 0, timeout: float = 1.0
                ) -> str | None:
    """Who leads a partition according to one broker alone (``address:port``), as node name;
    None when it names no leader or does not answer. A fresh client that knows no other broker
    asks that one: a broker cut off from the controllers still names the leader it knew."""
    from confluent_kafka.admin import AdminClient

    try:
        md = AdminClient({"bootstrap.servers": broker}).list_topics(topic, timeout=timeout)
        p = md.topics[topic].partitions[partition]
    except Exception:  # no answer in time, or no such partition there yet
        return None
    return f"n{p.leader}" if p.leader >= 0 else None


def replicas(bootstrap: str, topic: str, partition: int = 0) -> dict[str, Any]:
    """A partition's leader, replicas and ISR as node names (``n<id>``), from the metadata."""
    from confluent_kafka.admin import AdminClient

    p = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=5)
    md = p.topics[topic].partitions[partition]
    return {
        "leader": f"n{md.leader}" if md.leader >= 0 else None,
        "replicas": [f"n{r}" for r in md.replicas],
        "isr": [f"n{r}" for r in md.isrs],
    }


def converged(bootstrap: str, topics: list[Topic]) -> bool:
    """Every partition has a leader and a full ISR again: the moment a drain means something."""
    from confluent_kafka.admin import AdminClient

    try:
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2).topics
    except Exception:
        return False
    return all(
        t.name in md
        and all(
            p.leader >= 0 and len(p.isrs) == t.replication for p in md[t.name].partitions.values()
        )
        for t in topics
    )
