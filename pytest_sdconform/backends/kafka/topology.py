"""Kafka brokers: three combined broker/controller nodes (KRaft, static quorum) from Maven jars.

Each node listens on its own loopback address and advertises it, so clients reach every broker
directly (faults between clients and brokers are partitions or kills, not proxies). The JVMs
are small (256-512 MB heap, serial GC, one "processor", C1 only) because the machine has two
cores; broker session and ISR lag timeouts are short so that a fault is noticed in seconds.
A node's ``server.properties`` and ``log4j2.properties`` are its spec's files, its storage
format (``kafka.tools.StorageTool``) its setup, run before its first start; once the brokers
answer, ``ready`` creates ``__consumer_offsets`` and the topology's topics.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...nodes import NodeSpec
from ...nodes.readiness import LogLine
from ...provision import ProvisionError, apt_install, maven_classpath
from ...runs import Run
from .. import base
from .admin import Topic, create_offsets_topic, create_topics, wait_for_brokers

VERSION = "4.1.0"  # the default; --sdconform-version kafka=3.9.1 runs another release


def artifacts(version: str = VERSION) -> list[str]:
    """What a release needs from Maven Central: Kafka (3.x and 4.x) logs through slf4j 1.7, and
    its Maven artifact brings no binding (the release tarball does): without one a broker prints
    nothing, so log4j2 is added."""
    return [f"org.apache.kafka:kafka_2.13:{version}",
            "org.apache.logging.log4j:log4j-slf4j-impl:2.24.3",
            "org.apache.logging.log4j:log4j-core:2.24.3"]



PORT = 9092
CONTROLLER_PORT = 9093
# For the harness alone, where a runtime reaches nodes through ports it publishes
# (``Start.route``): brokers advertise that published address on this listener.
EXTERNAL_PORT = 9094
JVM = [
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:ActiveProcessorCount=1",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
]
LOG4J = """status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server
logger.server.level = INFO
logger.raft.name = org.apache.kafka.raft
logger.raft.level = WARN
"""


def provision(version: str = VERSION) -> Path:
    """The classpath folder (fetched from Maven Central on first use), with Java 17 and Maven
    from Debian when missing."""
    apt_install(["openjdk-17-jre-headless", "maven"], ["java", "mvn"])
    lib = classpath(version)
    try:
        subprocess.run(["java", "-version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ProvisionError(f"Kafka {version} needs Java 17 or later ({e})") from e
    return lib


def classpath(version: str = VERSION) -> Path:
    """The folder of a Kafka release's jars (fetched from Maven Central on first use)."""
    return maven_classpath(artifacts(version), f"kafka-{version}")


@dataclass(frozen=True)
class KafkaInfo:
    """What the harness knows of a Kafka cluster once it is up."""

    addresses: dict[str, str]  # node name (``n<broker id>``) -> address
    bootstrap: str  # every broker's ``address:port``, comma-separated
    cluster_id: str  # the KRaft cluster id every node's storage was formatted with

    def brokers(self) -> dict[str, str]:
        """Each node's own ``address:port`` (the bootstrap list lists them in node order)."""
        return dict(zip(self.addresses, self.bootstrap.split(","), strict=True))


@dataclass
class Topology(base.Topology[KafkaInfo]):
    """``nodes`` combined broker+controller nodes and the topics created at start (none by
    default: a case creates its own, ``create_topics``)."""

    backend: ClassVar[str] = "kafka"
    runtimes: ClassVar[tuple[str, ...]] = ("local", "docker")

    nodes: int = 3
    version: str = VERSION  # the release (--sdconform-version kafka=...)
    min_isr: int = 2
    unclean_leader_election: bool = False
    topics: list[Topic] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)  # more broker settings

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kafka": self.version,
            "brokers": self.nodes,
            "min.insync.replicas": self.min_isr,
            "unclean.leader.election.enable": self.unclean_leader_election,
            "topics": {
                t.name: {
                    "partitions": t.partitions,
                    "replication.factor": t.replication,
                    **t.config,
                }
                for t in self.topics
            },
        }
        if self.properties:
            d["broker"] = dict(self.properties)
        return d

    def server_properties(self, node_id: int, addresses: dict[str, str], logs: Path,
                          external: tuple[str, int] | None = None) -> str:
        """``external``: where the harness reaches this broker when that is not its own
        address (a listener of its own, advertising that host and port to the harness)."""
        me = addresses[f"n{node_id}"]
        voters = ",".join(f"{n[1:]}@{a}:{CONTROLLER_PORT}" for n, a in addresses.items())
        listeners = f"PLAINTEXT://{me}:{PORT},CONTROLLER://{me}:{CONTROLLER_PORT}"
        advertised = f"PLAINTEXT://{me}:{PORT}"
        protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        if external is not None:
            listeners += f",EXTERNAL://{me}:{EXTERNAL_PORT}"
            advertised += f",EXTERNAL://{external[0]}:{external[1]}"
            protocols += ",EXTERNAL:PLAINTEXT"
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node_id),
            "controller.quorum.voters": voters,
            "listeners": listeners,
            "advertised.listeners": advertised,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": protocols,
            "log.dirs": str(logs),
            "num.network.threads": "1",
            "num.io.threads": "2",
            "num.partitions": "1",
            "default.replication.factor": str(min(3, self.nodes)),
            "offsets.topic.replication.factor": str(min(3, self.nodes)),
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": str(min(3, self.nodes)),
            "transaction.state.log.min.isr": str(min(2, self.nodes)),
            "transaction.state.log.num.partitions": "3",
            "min.insync.replicas": str(self.min_isr),
            "unclean.leader.election.enable": str(self.unclean_leader_election).lower(),
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "log.segment.bytes": "1048576",
            # Notice a dead or cut broker in seconds (defaults: 9 s session, 30 s ISR lag).
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "3000",
            "controller.quorum.election.timeout.ms": "1000",
            "controller.quorum.fetch.timeout.ms": "2000",
            "group.min.session.timeout.ms": "2000",
            **self.properties,
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def provision(self) -> None:
        provision(self.version)

    def node_names(self, runtime: str) -> list[str]:
        return [f"n{i}" for i in range(1, self.nodes + 1)]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        lib = classpath(self.version)
        cluster_id = _cluster_id(start.seed, start.run)
        specs = []
        for i, (name, address) in enumerate(start.addresses.items(), 1):
            paths = start.paths(name)
            conf, data = paths.conf, paths.data
            specs.append(
                NodeSpec(
                    name,
                    address,
                    [
                        "java",
                        *JVM,
                        f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
                        f"-Dkafka.logs.dir={data}",
                        "-cp",
                        f"{lib}/*",
                        "kafka.Kafka",
                        str(conf / "server.properties"),
                    ],
                    ready=LogLine("Kafka Server started"),
                    ready_timeout=90,
                    # the end of a case needs no clean shutdown (10 s per broker)
                    stop_signal=signal.SIGKILL,
                    files={
                        "server.properties": self.server_properties(
                            i, start.addresses, data / "kafka-logs", external(start, address)),
                        "log4j2.properties": LOG4J,
                    },
                    setup=[_format(lib, cluster_id, conf / "server.properties")],
                    image="java",
                    shared=[lib],  # the jars, read from the host's cache
                )
            )
        return specs

    def ready(self, start: base.Start) -> KafkaInfo:
        addresses = dict(start.addresses)
        bootstrap = ",".join("{}:{}".format(*(external(start, a) or (a, PORT)))
                             for a in addresses.values())
        wait_for_brokers(bootstrap, self.nodes)
        create_offsets_topic(bootstrap, self.nodes)
        if self.topics:
            create_topics(bootstrap, self.topics)
        return KafkaInfo(addresses, bootstrap, _cluster_id(start.seed, start.run))


def _cluster_id(seed: int, run: Run) -> str:
    """A KRaft cluster id (a base64 UUID, 22 characters), the same for every node."""
    import base64

    raw = uuid.uuid5(uuid.NAMESPACE_URL, f"sdconform:{run.folder}:{seed}").bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _format(lib: Path, cluster_id: str, properties: Path) -> list[str]:
    """The storage format command of a node (its setup, run once before its first start)."""
    return [
        "java",
        "-Xmx256m",
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-cp",
        f"{lib}/*",
        "kafka.tools.StorageTool",
        "format",
        f"--cluster-id={cluster_id}",
        "-c",
        str(properties),
        "--ignore-formatted",
    ]


def external(start: base.Start, address: str) -> tuple[str, int] | None:
    """Where the harness reaches a broker's external listener, when the runtime does not
    route the broker's own address to it (None: clients use the broker's address)."""
    where = start.route(address, EXTERNAL_PORT)
    return None if where == (address, EXTERNAL_PORT) else where
