"""Judges of the nginx suite: what its claims need the history to show, and how they are ruled.
One module per family of claims (``balancing`` for failed servers left out or probed,
``reconfiguration`` for reloads and scale-in, ``retries`` for POSTs retried on the next
upstream, ``sessions`` for sticky sessions and ip_hash), with what they share in ``routes``:
which app servers nginx sent a request to (``upstream_routes``), when a fault began to bite
(``onset``) and the bounds nginx's settings give (``detection_s``, ``rerouted``). Every public
name is re-exported here, so callers import them from ``backends.nginx.judges``.
"""

from .balancing import HealthyServerLeftOut, PassiveOnly
from .reconfiguration import NoFailedRequests
from .retries import PostAtMostOnce, method
from .routes import (
    NO_LIVE_UPSTREAM,
    Routes,
    detection_s,
    no_live_upstream,
    onset,
    rerouted,
    upstream_routes,
)
from .sessions import LostOnFailover, StaysOnOneBackend, homes, reads_follow_own_writes

__all__ = [
    "NO_LIVE_UPSTREAM",
    "HealthyServerLeftOut",
    "LostOnFailover",
    "NoFailedRequests",
    "PassiveOnly",
    "PostAtMostOnce",
    "Routes",
    "StaysOnOneBackend",
    "detection_s",
    "homes",
    "method",
    "no_live_upstream",
    "onset",
    "reads_follow_own_writes",
    "rerouted",
    "upstream_routes",
]
