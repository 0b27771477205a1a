"""Balancer reconfiguration as faults: a graceful reload, and scaling the app tier in and out.

A reload (SIGHUP to the master) starts new workers on the new config and lets the old ones
finish their requests; each fault proves it from the master's log (new workers started, old
ones exited) before it returns.
"""

from __future__ import annotations

from typing import Any

from ...cluster import Cluster
from . import reload


class Reload:
    """``nginx -s reload`` (SIGHUP to the master pid), with the config rewritten each time."""

    name = "reload"

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.count = 0

    def start(self) -> dict[str, Any]:
        self.count += 1
        return {"reload": self.count, **reload(self.cluster)}

    def stop(self) -> dict[str, Any]:
        return {}


class ScaleIn:
    """Take ``victim`` out of the upstream (reload, old workers drained), then stop it; the heal
    starts it again and puts it back (reload)."""

    name = "scale-in"

    def __init__(self, cluster: Cluster, victim: str):
        self.cluster, self.victim = cluster, victim
        self.address = f"{cluster.info['addresses'][victim]}:"
        self.full = list(cluster.info["upstreams"])
        self.out = False

    def start(self) -> dict[str, Any]:
        kept = [u for u in self.full if not u.startswith(self.address)]
        reload(self.cluster, kept)
        self.out = True
        self.cluster.node(self.victim).stop()
        return {"removed": self.victim, "upstreams": kept}

    def stop(self) -> dict[str, Any]:
        if not self.out:
            return {}
        self.cluster.node(self.victim).start()
        reload(self.cluster, self.full)
        self.out = False
        return {"added": self.victim, "upstreams": self.full}
