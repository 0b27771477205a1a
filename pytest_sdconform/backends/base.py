"""The shape every backend takes: a topology is configuration on one lifecycle, owned here.

A backend's ``Topology`` says which nodes it has (``node_names``), how each starts
(``specs``: a ``NodeSpec`` per node, built from the addresses and paths the runtime gives),
and what it waits for once they answer (``ready``: schema, replication, more nodes that join
later), returning the backend's typed info. ``start`` does the rest the same way for all of
them: provision, open the runtime, allocate addresses, start, wait, time it, and stop
everything when any step fails.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, TypeVar

from ..cluster import Cluster
from ..nodes import Node, NodePaths, NodeSpec
from ..nodes.addresses import AddressBlock
from ..progress import progress
from ..runs import Run
from ..runtimes import Runtime, RuntimeUnsupported
from ..runtimes.choice import open_runtime

InfoT = TypeVar("InfoT")


@dataclass
class Start:
    """What a topology gets while its cluster starts."""

    run: Run
    runtime: Runtime
    addresses: dict[str, str]  # node name -> address, in ``node_names`` order
    harness: str  # the harness's own address
    seed: int = 0
    power_loss: bool = False  # every node's data on a disk that can lose unsynced writes

    def paths(self, name: str, user: str | None = None) -> NodePaths:
        return self.runtime.paths(name, user)

    def route(self, address: str, port: int) -> tuple[str, int]:
        """Where the harness reaches a node's port: what a node that hands out its own
        address to clients (Kafka's advertised listeners) must advertise to the harness."""
        return self.runtime.route(address, port)

    def add(self, specs: Sequence[NodeSpec]) -> Sequence[Node]:
        """Start more nodes (e.g. a standby after its primary has a schema)."""
        return self.runtime.start(self.shaped(specs))

    def shaped(self, specs: Sequence[NodeSpec]) -> list[NodeSpec]:
        """The specs as this cluster starts them (on lossy disks, for power loss)."""
        return [replace(s, lossy_disk=True) if self.power_loss else s for s in specs]


class Topology(ABC, Generic[InfoT]):
    """A backend's cluster shape. Subclasses are dataclasses of settings."""

    backend: ClassVar[str]  # the registry's name of the backend
    runtimes: ClassVar[tuple[str, ...]] = ("local",)  # where it can run
    partitions: ClassVar[bool] = True  # whether its nodes get what partitions need

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The settings a report shows (and shared clusters are keyed by)."""

    def provision(self) -> None:
        """Make sure what the nodes need is on this machine (first use only)."""

    def served_version(self, info: InfoT) -> str | None:
        """The release the running servers say they are, asked once they are up: what a
        report must show where it differs from the binary ``describe`` found on this machine
        (a container image's). None: not asked, or no answer."""
        return None

    @abstractmethod
    def node_names(self, runtime: str) -> list[str]:
        """The nodes with an address of their own, in address order."""

    @abstractmethod
    def specs(self, start: Start) -> list[NodeSpec]:
        """How each node starts (started together, in parallel)."""

    @abstractmethod
    def ready(self, start: Start) -> InfoT:
        """Once every node answers: whatever else the cluster needs, and its info."""

    def start(self, run: Run, block: AddressBlock, seed: int = 0,
              runtime: str = "local", images: Mapping[str, str] | None = None,
              power_loss: bool = False) -> Cluster[InfoT]:
        """Start this topology on ``runtime``; stops everything it started if a step fails.
        ``power_loss``: every node's data on a disk that can lose unsynced writes (for the
        power-loss fault; RuntimeUnsupported where the runtime cannot)."""
        if runtime not in self.runtimes:
            raise RuntimeUnsupported(
                f"{self.backend} runs on the {' or '.join(self.runtimes)} runtime, "
                f"not {runtime}")
        began = time.monotonic()
        if runtime == "local":
            self.provision()  # in containers, the images carry the servers
        names = self.node_names(runtime)
        rt = open_runtime(runtime, run, partitions=self.partitions, images=images)
        start = Start(run, rt, rt.addresses(names, block), block.harness(), seed, power_loss)
        try:
            why = rt.capabilities().get("power-loss") if power_loss else None
            if why:
                raise RuntimeUnsupported(why)
            rt.start(start.shaped(self.specs(start)))
            info = self.ready(start)
            for node in rt.nodes.values():  # set up a while ago: on disk by now
                if node.disk is not None:
                    node.disk.sync()
        except BaseException:
            try:
                rt.close()
            finally:
                run.forget()
            raise
        cluster = Cluster(run, rt, info, start.harness, random.Random(seed),
                          round(time.monotonic() - began, 1))
        if len(cluster.nodes) > 1 or cluster.started_s > 5:
            progress(f"{self.backend}: {len(cluster.nodes)} nodes up in {cluster.started_s}s")
        return cluster
