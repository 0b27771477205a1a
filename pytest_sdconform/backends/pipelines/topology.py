"""The relay node between a PostgreSQL cluster and a Kafka cluster, started like any server:
one process (``relay.py``) in its own place, killable, pausable and partitionable. The two
systems it joins are clusters of their own (``backends/postgres``, ``backends/kafka``): the
topology only needs their addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...nodes import NodeSpec
from ...nodes.readiness import LogLine
from .. import base
from ..own_server import python_node
from .client import slot

MODES = ("outbox", "cdc", "project", "publish")
# What relay.py prints once connected (not imported from it: ``python -m`` runs that module
# as __main__, and a package that had already imported it would warn at every start).
READY = "relay ready"


def provision() -> None:
    """Nothing to build: the relay is this package, on this interpreter."""


@dataclass(frozen=True)
class RelayInfo:
    """The relay node's name and address."""

    node: str
    address: str


@dataclass
class Topology(base.Topology[RelayInfo]):
    """One relay in ``mode`` (outbox, cdc, project) from PostgreSQL at ``pg`` (an address;
    database ``db``, whose logical slot is ``client.slot(db)``) to
    Kafka at ``kafka`` (bootstrap servers) over ``topic``. ``mark_delay``: seconds an outbox
    relay waits between publishing a batch and marking it sent."""

    backend: ClassVar[str] = "pipelines"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)

    mode: str = "outbox"
    pg: str = ""
    db: str = "postgres"
    kafka: str = ""
    topic: str = ""
    mark_delay: float = 0.0
    poll: float = 0.05
    publishers: int = 2  # mode publish: nodes p1..pN, their clocks skewable

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"relay mode {self.mode!r}: one of {', '.join(MODES)}")
        if not (self.kafka and self.topic) or (self.mode != "publish" and not self.pg):
            raise ValueError("a relay needs kafka (bootstrap), a topic and (but publishers) pg "
                             "(an address)")

    def describe(self) -> dict[str, Any]:
        if self.mode == "publish":
            return {"publishers": self.publishers, "publish_every_s": self.poll,
                    "events_topic": self.topic}
        return {"relay": self.mode, "database": self.db, "relay_topic": self.topic,
                "mark_delay_s": self.mark_delay, "relay_poll_s": self.poll}

    def provision(self) -> None:
        provision()

    def node_names(self, runtime: str) -> list[str]:
        if self.mode == "publish":
            return [f"p{i + 1}" for i in range(self.publishers)]
        return ["relay"]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        return [python_node(name, start.addresses[name],
                            "pytest_sdconform.backends.pipelines.relay",
                            [self.mode, "--name", name, "--pg", self.pg, "--db", self.db,
                             "--slot", slot(self.db), "--kafka", self.kafka, "--topic",
                             self.topic, "--mark-delay", str(self.mark_delay), "--poll",
                             str(self.poll)],
                            ready=LogLine(READY), skewable=self.mode == "publish")
                for name in self.node_names("local")]

    def ready(self, start: base.Start) -> RelayInfo:
        name = self.node_names("local")[0]
        return RelayInfo(name, start.addresses[name])
