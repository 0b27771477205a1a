"""Pipelines across two systems: PostgreSQL and Kafka, joined by a relay of ours that runs as
a node (``topology.py``; the process itself in ``relay.py``: a transactional-outbox relay, a
log-based change-data-capture relay from a logical replication slot, an event-sourcing
projector); the clients of both systems and their final reads (``client.py``); the judges of
a copy's freshness and of a crash between publish and mark (``judges.py``). The outbox's own
check across both systems' reads is ``checkers/outbox.py``."""

from .client import PipelineClient, pg_connect, prepare, read_topic, slot
from .judges import (
    CausalOrder,
    Freshness,
    Visibility,
    causal_inversions,
    invisible_reads,
    published_twice,
    stale_reads,
)
from .topology import RelayInfo, Topology, provision

__all__ = [
    "CausalOrder",
    "Freshness",
    "PipelineClient",
    "RelayInfo",
    "Topology",
    "Visibility",
    "causal_inversions",
    "invisible_reads",
    "pg_connect",
    "prepare",
    "provision",
    "published_twice",
    "read_topic",
    "slot",
    "stale_reads",
]
