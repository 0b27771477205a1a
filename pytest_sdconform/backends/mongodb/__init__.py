"""MongoDB: a replica set of ``mongod`` members initiated and waited for (``topology.py``,
``admin.py``), and the pymongo client with its concerns as configuration and its errors mapped
to fail or info (``client.py``). No registry reachable here ships ``mongod``: the suite runs
wherever one is (the PATH, the official image, a deployment's URI) and skips elsewhere."""

from .admin import drop_database, primary, wait_for_primary
from .client import Concerns, MongoClient, outcome_of, uri
from .info import PORT, MongoInfo
from .topology import (
    IMAGE,
    NEEDS,
    Topology,
    failover_bound_s,
    member_spec,
    provision,
    replica_set_config,
)

__all__ = [
    "IMAGE",
    "NEEDS",
    "PORT",
    "Concerns",
    "MongoClient",
    "MongoInfo",
    "Topology",
    "drop_database",
    "failover_bound_s",
    "member_spec",
    "outcome_of",
    "primary",
    "provision",
    "replica_set_config",
    "uri",
    "wait_for_primary",
]
