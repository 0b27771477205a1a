"""The Cassandra backend's own faults: clock skew on the client side, and tombstones purged
after gc_grace_seconds (``PurgeTombstones``). With client-supplied write
timestamps (``USING TIMESTAMP``), a client whose clock runs behind gives its writes older
timestamps; ``ClientClock`` is the clock the clients read, ``ClientClockSkew`` the fault that
moves some of them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...cluster import Cluster
from .nodetool import nodetool
from .topology import CassandraInfo


class ClientClock:
    """Write timestamps (microseconds) that clients supply with ``USING TIMESTAMP``; a skew
    (per client index) moves some clients' clocks as NTP trouble would."""

    def __init__(self) -> None:
        self.skew_us: dict[int, int] = {}

    def now_us(self, client: int) -> int:
        return time.time_ns() // 1000 + self.skew_us.get(client, 0)


class ClientClockSkew:
    """A nemesis for client clocks: while on, odd-numbered clients run ``ms`` behind."""

    name = "clock-skew"

    def __init__(self, clock: ClientClock, clients: int, ms: int = 2000):
        self.clock, self.clients, self.ms = clock, clients, ms

    def start(self) -> dict[str, Any]:
        self.clock.skew_us = {i: -self.ms * 1000 for i in range(1, self.clients, 2)}
        return {
            "clients_behind": sorted(self.clock.skew_us),
            "skew_ms": -self.ms,
            "where": "client-supplied write timestamps (USING TIMESTAMP)",
        }

    def stop(self) -> dict[str, Any]:
        self.clock.skew_us = {}
        return {}


class PurgeTombstones:
    """A step of the nemesis, not a failure: wait out ``gc_grace_s`` (plus a second: Cassandra
    keeps deletion times in whole seconds), then flush ``table`` on ``nodes`` and compact it
    (``nodetool flush`` and ``nodetool compact``), so that every tombstone older than
    gc_grace_seconds is purged with the data it shadowed. Meant as the second fault of a
    ``BeforeHeal``: it strikes while a replica is still cut off from the deletes.
    ``purged``: appended once both completed on every node (the judge's proof)."""

    name = "purge-tombstones"

    def __init__(self, cluster: Cluster[CassandraInfo], nodes: Sequence[str], keyspace: str,
                 table: str, gc_grace_s: float):
        self.cluster, self.nodes = cluster, list(nodes)
        self.keyspace, self.table, self.gc_grace_s = keyspace, table, gc_grace_s
        self.purged: list[dict[str, Any]] = []

    def start(self) -> dict[str, Any]:
        wait = self.gc_grace_s + 1.0 if self.gc_grace_s < 3600 else 0.0
        time.sleep(wait)
        began = time.monotonic()

        def purge(node: str) -> None:
            nodetool(self.cluster, node, "flush", self.keyspace, self.table)
            nodetool(self.cluster, node, "compact", self.keyspace, self.table)

        with ThreadPoolExecutor(len(self.nodes)) as pool:  # one nodetool JVM per node at once
            list(pool.map(purge, self.nodes))
        done = {"waited_s": wait, "nodes": self.nodes, "table": f"{self.keyspace}.{self.table}",
                "gc_grace_s": self.gc_grace_s,
                "flush_and_compact_s": round(time.monotonic() - began, 1)}
        self.purged.append(done)
        return done

    def stop(self) -> dict[str, Any]:
        return {}
