"""What the harness asks of a running Cassandra cluster: ``nodetool`` from the same jars over a
node's local JMX port (``repair``, ``pending_hints``), and ``healthy`` (every node sees its peers
up again, after a kill or a healed partition).
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ...cluster import Cluster
from .cql import KEYSPACE, wait_healthy
from .topology import CassandraInfo, tool_java


def healthy(cluster: Cluster[CassandraInfo], timeout: float = 90) -> float:
    """Wait until every node sees all its peers up (after a kill or a partition healed)."""
    return wait_healthy(list(cluster.info.addresses.values()), timeout)


def nodetool(cluster: Cluster[CassandraInfo], node: str, *args: str, timeout: float = 120) -> str:
    lib = cluster.info.lib
    argv = [
        *tool_java(),
        "-Xmx128m",
        "-XX:TieredStopAtLevel=1",
        "-cp",
        f"{lib}/*",
        "-Dlogback.configurationFile=/dev/null",
        "org.apache.cassandra.tools.NodeTool",
        "-h",
        "127.0.0.1",
        "-p",
        str(cluster.info.jmx[node]),
        *args,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        # Without a logback configuration the client logs at DEBUG: keep what nodetool says.
        said = [line for line in (proc.stdout + proc.stderr).splitlines()
                if " DEBUG " not in line]
        raise RuntimeError(
            f"nodetool {' '.join(args)} on {node} failed: {chr(10).join(said).strip()[-500:]}"
        )
    return proc.stdout


def repair(cluster: Cluster[CassandraInfo], node: str = "n1", table: str = "") -> str:
    """A full repair of the keyspace (Merkle trees compared, differences streamed)."""
    return nodetool(cluster, node, "repair", "-full", KEYSPACE, *([table] if table else []))


# Cassandra's hints reach ``listpendinghints`` late and leave it early: a hint is buffered, then
# written to a file that stays open (unlisted) until the dispatch trigger, which runs every 10 s
# (fixed in HintsService), closes it and hands it to a dispatcher, which takes it off the list
# while it sends it. So "no pending hints" means delivered only once a whole flush period and a
# trigger period have passed since the last hint could be written, with no dispatch running.
HINTS_FLUSH_S = 10.0  # hints_flush_period (Cassandra's default; the topology keeps it)
DISPATCH_TRIGGER_S = 10.0  # HintsService's dispatch trigger period (not configurable)


def hints_dispatching(cluster: Cluster[CassandraInfo], node: str) -> bool:
    """Whether ``node`` is sending hints now (``tpstats``: its HintsDispatcher pool active or
    pending)."""
    for line in nodetool(cluster, node, "tpstats", timeout=60).splitlines():
        fields = line.split()
        if fields[:1] == ["HintsDispatcher"] and len(fields) >= 3:
            return fields[1] != "0" or fields[2] != "0"
    return False  # the pool has not run yet


def pending_hints(cluster: Cluster[CassandraInfo], node: str = "n1") -> list[str]:
    """The lines of ``nodetool listpendinghints`` on ``node`` that name a host holding hints
    (none: every hint file was delivered or expired)."""
    out = nodetool(cluster, node, "listpendinghints", timeout=60)
    if "does not have any pending hints" in out:
        return []
    addresses = set(cluster.info.addresses.values())
    return [line.strip() for line in out.splitlines() if any(a in line for a in addresses)]


@dataclass
class HintsDelivered:
    """A runner's ``converged`` for cases that wait for hinted handoff: false until a write
    timeout (``request_timeout_ms``, when the last hints are made), a flush period and a
    dispatch trigger have passed since its first call (the heal), then true once none of
    ``nodes`` lists pending hints or sends any. ``states`` says, per node, what it last said:
    ``pending``, ``sending``, ``none`` or why it did not answer."""

    cluster: Cluster[CassandraInfo]
    nodes: list[str]
    request_timeout_ms: int
    states: dict[str, str] = field(default_factory=dict)
    healed: float | None = None

    @property
    def due_s(self) -> float:
        return self.request_timeout_ms / 1000 + HINTS_FLUSH_S + DISPATCH_TRIGGER_S

    def waiting(self) -> bool:
        """Whether the hints are not due yet (the first call marks the heal)."""
        if self.healed is None:
            self.healed = time.monotonic()
        return time.monotonic() - self.healed < self.due_s

    def __call__(self) -> bool:
        if self.waiting():
            return False
        with ThreadPoolExecutor(len(self.nodes)) as pool:  # one nodetool JVM per node at once
            return all(list(pool.map(self._ask, self.nodes)))

    def _ask(self, node: str) -> bool:
        try:
            pending = pending_hints(self.cluster, node)
            sending = hints_dispatching(self.cluster, node)
        except Exception as e:  # JMX not up yet: ask again
            self.states[node] = f"{type(e).__name__}: {e}"[:120]
            return False
        self.states[node] = ("pending: " + pending[0][:120] if pending
                             else "sending" if sending else "none")
        return not pending and not sending
