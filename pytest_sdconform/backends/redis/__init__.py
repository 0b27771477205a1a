"""Redis: a single node, a primary with replicas, or Sentinel-managed failover (``topology.py``);
the redis-py client (``client.py``); the judges only Redis needs (``judges.py``)."""

from .client import PERSISTENCE_FIELDS, RedisClient
from .topology import (
    MASTER,
    PORT,
    REPLICATION_CRON_S,
    SENTINEL_PORT,
    Persistence,
    RedisInfo,
    SentinelRouter,
    Topology,
    admin,
    converged,
    deposed_write_bound_s,
    provision,
    sentinel_primary,
    sentinel_rto_bound_s,
    server_spec,
    wait_replicated,
)

__all__ = [
    "MASTER",
    "PERSISTENCE_FIELDS",
    "PORT",
    "REPLICATION_CRON_S",
    "SENTINEL_PORT",
    "Persistence",
    "RedisClient",
    "RedisInfo",
    "SentinelRouter",
    "Topology",
    "admin",
    "converged",
    "deposed_write_bound_s",
    "provision",
    "sentinel_primary",
    "sentinel_rto_bound_s",
    "server_spec",
    "wait_replicated",
]
