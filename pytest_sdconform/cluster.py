"""A cluster: one case's real nodes, started by the local runtime, and the handles to break them.

Each case is a run of its own (its own ledger, iptables chains and cgroups), so that a case that
dies leaves nothing another case trips over, and ``sdconform cleanup`` can remove it alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .faults import FaultUnavailable
from .faults.netfilter import Netfilter, NetfilterUnavailable, unavailable_reason
from .faults.partition import Cut, Partition
from .faults.process import Kill, Pause
from .faults.toxiproxy import ToxiproxyServer
from .runs import Run
from .runtimes.addresses import AddressBlock
from .runtimes.local import LocalNode, LocalRuntime, NodeSpec


@dataclass
class Cluster:
    """Nodes by name, their addresses, and fault constructors bound to them."""

    run: Run
    runtime: LocalRuntime
    netfilter: Netfilter | None
    cgroups: dict[str, Path] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    info: dict[str, Any] = field(default_factory=dict)  # what the topology wants to remember

    @property
    def nodes(self) -> dict[str, LocalNode]:
        return self.runtime.nodes

    def node(self, name: str) -> LocalNode:
        return self.runtime.nodes[name]

    @property
    def addresses(self) -> dict[str, str]:
        return {n: node.address for n, node in self.nodes.items()}

    def partition(self, shapes: Sequence[str] = ("isolate", "halves"),
                  cuts: Sequence[Cut] | None = None) -> Partition:
        """A partition fault over this cluster's nodes (random shapes, or the given cuts)."""
        if self.netfilter is None:
            raise FaultUnavailable(unavailable_reason() or "partitions are not set up")
        fault = Partition(self.netfilter, self.addresses, self.cgroups, shapes, self.rng)
        if cuts:
            fault = FixedPartition(fault, list(cuts), self.rng)  # type: ignore[assignment]
        return fault

    def toxiproxy(self) -> ToxiproxyServer:
        """A toxiproxy server of this cluster (stopped with it), on the harness's address."""
        server = ToxiproxyServer(self.runtime, self.info["harness"])
        server.start()
        return server

    def kill(self, nodes: Sequence[str] | None = None, count: int = 1) -> Kill:
        return Kill(self._pick(nodes), count, self.rng)

    def pause(self, nodes: Sequence[str] | None = None, count: int = 1) -> Pause:
        return Pause(self._pick(nodes), count, self.rng)

    def _pick(self, names: Sequence[str] | None) -> list[LocalNode]:
        return [self.node(n) for n in names] if names else list(self.nodes.values())

    def stop(self) -> None:
        try:
            self.runtime.stop_all()
        finally:
            if self.netfilter is not None:
                self.netfilter.close()
            self.run.forget()


class FixedPartition:
    """A partition fault that picks among given cuts (e.g. "isolate the primary")."""

    name = "partition"

    def __init__(self, partition: Partition, cuts: list[Cut], rng: random.Random):
        self.partition, self.cuts, self.rng = partition, cuts, rng

    def start(self) -> dict[str, Any]:
        return self.partition.start(self.rng.choice(self.cuts))

    def stop(self) -> dict[str, Any]:
        return self.partition.stop()


def start_cluster(run: Run, block: AddressBlock, specs: Sequence[NodeSpec],
                  partitions: bool = True, seed: int = 0) -> Cluster:
    """Start nodes (in their own cgroups when partitions are possible) and return the cluster."""
    netfilter = None
    if partitions and unavailable_reason() is None:
        try:
            netfilter = Netfilter(run)
        except NetfilterUnavailable:
            netfilter = None
    cgroups: dict[str, Path] = {}
    if netfilter is not None:
        for spec in specs:
            cgroups[spec.name] = netfilter.add_node(spec.name, spec.address)
    runtime = LocalRuntime(run, cgroups=lambda spec: cgroups.get(spec.name))
    cluster = Cluster(run, runtime, netfilter, cgroups, random.Random(seed),
                      {"harness": block.harness()})
    try:
        runtime.start(specs)
    except BaseException:
        cluster.stop()
        raise
    return cluster
