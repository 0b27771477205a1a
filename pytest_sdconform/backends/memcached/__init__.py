"""Memcached: independent servers on their own addresses, nothing between them, and
``MemcachedInfo`` (``topology.py``); pymemcache's ``HashClient``, the client-side hash that
places each key on one server (``client.py``); the judges of what that means when a server
dies, restarts or is cut off (``judges.py``)."""

from .client import UNREACHABLE, MemcachedClient
from .judges import NoReplica, OthersServeWhileCut, RestartEmpties, ServersDisagree
from .topology import (
    PORT,
    MemcachedInfo,
    Topology,
    Version,
    provision,
    server_spec,
    server_version,
)

__all__ = [
    "PORT",
    "UNREACHABLE",
    "MemcachedClient",
    "MemcachedInfo",
    "NoReplica",
    "OthersServeWhileCut",
    "RestartEmpties",
    "ServersDisagree",
    "Topology",
    "Version",
    "provision",
    "server_spec",
    "server_version",
]
