"""What the harness asks of a running Cassandra cluster: ``nodetool`` from the same jars over a
node's local JMX port (``repair``, ``pending_hints``), and ``healthy`` (every node sees its peers
up again, after a kill or a healed partition).
"""

from __future__ import annotations

import subprocess

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


def pending_hints(cluster: Cluster[CassandraInfo], node: str = "n1") -> list[str]:
    """The lines of ``nodetool listpendinghints`` on ``node`` that name a host holding hints
    (none: every hint file was delivered or expired)."""
    out = nodetool(cluster, node, "listpendinghints", timeout=60)
    if "does not have any pending hints" in out:
        return []
    addresses = set(cluster.info.addresses.values())
    return [line.strip() for line in out.splitlines() if any(a in line for a in addresses)]
