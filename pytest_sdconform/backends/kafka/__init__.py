"""Kafka: three KRaft brokers from Maven Central jars (``topology.py``: the topology and its
``KafkaInfo``; ``admin.py``: topics and metadata questions); confluent-kafka clients (``client.py``:
settings, the log workload's client, the consumer child's parent side; ``producer.py``: the
shared producer; ``consumer.py``: the consumer child, a process of its own so a crash is a
real SIGKILL); faults aimed at a partition's leader (``faults.py``); the judges only Kafka
needs (``judges.py``; writes continuing through a failover, ``writes_continue.py``)."""

from .admin import (
    Topic,
    converged,
    create_offsets_topic,
    create_topics,
    leader,
    replicas,
    wait_for_brokers,
)
from .client import ConsumerProcess, KafkaClient, Settings
from .faults import LeaderIsolation, LeaderKill, StaleFailover
from .producer import REJECTED, SharedProducer
from .topology import CONTROLLER_PORT, PORT, VERSION, KafkaInfo, Topology, provision

__all__ = [
    "CONTROLLER_PORT",
    "PORT",
    "REJECTED",
    "VERSION",
    "ConsumerProcess",
    "KafkaClient",
    "KafkaInfo",
    "LeaderIsolation",
    "LeaderKill",
    "Settings",
    "SharedProducer",
    "StaleFailover",
    "Topic",
    "Topology",
    "converged",
    "create_offsets_topic",
    "create_topics",
    "leader",
    "provision",
    "replicas",
    "wait_for_brokers",
]
