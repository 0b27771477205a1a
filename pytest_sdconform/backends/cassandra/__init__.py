"""Cassandra 5.0: three nodes (or several data centres) from Maven Central's jars, CQL clients,
repair.

``topology.py`` starts the nodes (``Topology``, with ``dcs`` data centres; its ``CassandraInfo``;
fixed tokens, so ``first_replica`` says which node owns a key); ``cql.py`` holds the harness's CQL
connection, the keyspace's schema and the wait until every node sees its peers (``wait_healthy``);
``client.py`` is ``CqlClient``, which talks to one coordinator at a consistency level per
statement; ``nodetool.py`` runs ``nodetool`` from the same jars over each node's local JMX port
(``repair``, ``pending_hints``) and ``healthy``; ``faults.py`` holds the backend's own faults,
clock skew of client-supplied timestamps (``ClientClock``, ``ClientClockSkew``) and tombstones
purged after gc_grace_seconds (``PurgeTombstones``); ``judges/`` the judges of the Cassandra
claims.
"""

from .client import CqlClient
from .cql import KEYSPACE, PORT, wait_healthy
from .faults import ClientClock, ClientClockSkew, PurgeTombstones
from .nodetool import (
    DISPATCH_TRIGGER_S,
    HINTS_FLUSH_S,
    HintsDelivered,
    healthy,
    hints_dispatching,
    nodetool,
    pending_hints,
    repair,
)
from .topology import VERSION, CassandraInfo, Topology, first_replica, provision

__all__ = [
    "DISPATCH_TRIGGER_S",
    "HINTS_FLUSH_S",
    "KEYSPACE",
    "PORT",
    "VERSION",
    "CassandraInfo",
    "ClientClock",
    "ClientClockSkew",
    "CqlClient",
    "HintsDelivered",
    "PurgeTombstones",
    "Topology",
    "first_replica",
    "healthy",
    "hints_dispatching",
    "nodetool",
    "pending_hints",
    "provision",
    "repair",
    "wait_healthy",
]
