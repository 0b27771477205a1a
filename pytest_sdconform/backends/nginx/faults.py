"""Balancer reconfiguration as faults: a graceful reload, and scaling the app tier in and out.

A reload (SIGHUP to the master) starts new workers on the new config and lets the old ones
finish their requests; each fault proves it from the master's log (new workers started, old
ones exited). ``Reload``'s window opens once the new workers run and closes after the old ones
are gone (its heal proves that), so requests made in it meet the handover.
"""

from __future__ import annotations

from typing import Any

from ...cluster import Cluster
from .topology import NginxInfo, begin_reload, reload, wait_drained


class Reload:
    """``nginx -s reload`` (SIGHUP to the master pid), with the config rewritten each time."""

    name = "reload"

    def __init__(self, cluster: Cluster[NginxInfo]):
        self.cluster = cluster
        self.count = 0
        self.exits: int | None = None

    def start(self) -> dict[str, Any]:
        self.count += 1
        self.exits = begin_reload(self.cluster)
        return {"reload": self.count, "upstreams": self.cluster.info.upstreams}

    def stop(self) -> dict[str, Any]:
        if self.exits is None:
            return {}
        exits, self.exits = self.exits, None
        wait_drained(self.cluster, exits)
        return {"drained": True}


class ScaleIn:
    """Take ``victim`` out of the upstream (reload, old workers drained), then stop it; the heal
    starts it again and puts it back (reload)."""

    name = "scale-in"

    def __init__(self, cluster: Cluster[NginxInfo], victim: str):
        self.cluster, self.victim = cluster, victim
        self.address = f"{cluster.info.addresses[victim]}:"
        self.full = list(cluster.info.upstreams)
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
