"""A cluster: one case's real nodes on a runtime, what its backend knows of them, and the
handles to break them.

Each case is a run of its own (its own ledger, iptables chains and cgroups), so that a case that
dies leaves nothing another case trips over, and ``sdconform cleanup`` can remove it alone.
``info`` is the backend's typed knowledge of the cluster (``RedisInfo``, ``KafkaInfo``...).
Every fault that reaches nodes is built here, from what the runtime offers; a fault the runtime
cannot carry raises ``FaultUnavailable`` with the reason (the case skips).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .faults import FaultUnavailable
from .faults.clock import ClockSkew, Probe
from .faults.loss import PacketLoss
from .faults.partition import Cut, Partition
from .faults.power import PowerLoss
from .faults.process import Kill, Pause
from .faults.toxiproxy import ToxiproxyServer
from .nodes import Node, NodeSpec
from .runs import Run
from .runtimes import Runtime

InfoT = TypeVar("InfoT")


@dataclass
class Cluster(Generic[InfoT]):
    """Nodes by name, their addresses, the backend's info, and fault constructors."""

    run: Run
    runtime: Runtime
    info: InfoT
    harness: str  # the harness's own address (toxiproxy listens there)
    rng: random.Random = field(default_factory=random.Random)
    started_s: float = 0.0  # from provisioning to ready

    @property
    def nodes(self) -> Mapping[str, Node]:
        return self.runtime.nodes

    def node(self, name: str) -> Node:
        return self.runtime.nodes[name]

    @property
    def addresses(self) -> dict[str, str]:
        return {n: node.address for n, node in self.nodes.items()}

    @property
    def hosts(self) -> list[str]:
        """The nodes with a network identity of their own (not a sidecar of another)."""
        return [n for n, node in self.nodes.items() if node.spec.host is None]

    def add(self, specs: Sequence[NodeSpec]) -> Sequence[Node]:
        """Start more nodes in this cluster (a node that joins later, e.g. a new replica)."""
        return self.runtime.start(specs)

    def partition(self, shapes: Sequence[str] = ("isolate", "halves"),
                  cuts: Sequence[Cut] | None = None,
                  nodes: Sequence[str] | None = None) -> Partition:
        """A partition fault over ``nodes`` (default: every host): random shapes, or the
        given cuts."""
        fault: Partition = self.runtime.partition(list(nodes or self.hosts), shapes, self.rng)
        fault.cuts = list(cuts or ())
        return fault

    def kill(self, nodes: Sequence[str] | None = None, count: int = 1) -> Kill:
        """SIGKILL ``count`` of ``nodes`` (default: any); restarted on their data at the heal.
        A node whose spec says ``kill_tree`` loses every process it forked."""
        return Kill(self._pick(nodes), count, self.rng)

    def pause(self, nodes: Sequence[str] | None = None, count: int = 1) -> Pause:
        return Pause(self._pick(nodes), count, self.rng)

    def power_loss(self, nodes: Sequence[str] | None = None, count: int = 1,
                   mode: str = "all") -> PowerLoss:
        """Cut the power of ``count`` of ``nodes`` (default: any; ``count=len(nodes)``: all at
        once): killed, their unsynced writes dropped (``mode``), restarted at the heal. Needs a
        cluster started with ``power_loss=True``."""
        why = self.runtime.capabilities().get("power-loss")
        if why:
            raise FaultUnavailable(why)
        return PowerLoss(self._pick(nodes), count, mode, self.rng)

    def clock_skew(self, offsets: int | Mapping[str, int],
                   probes: Mapping[str, Probe] | None = None,
                   nodes: Sequence[str] | None = None) -> ClockSkew:
        """Move the wall clocks of nodes started with ``NodeSpec.clock`` (``offsets`` in ms:
        one for ``nodes``, or one per node), proven through ``probes``."""
        skew: ClockSkew = self.runtime.clock_skew(offsets, probes, nodes)
        return skew

    def packet_loss(self, probability: float, nodes: Sequence[str] | None = None
                    ) -> PacketLoss:
        """Drop each packet to or from ``nodes`` (default: every host) with ``probability``
        (iptables ``statistic`` rules; local runtime only)."""
        netfilter = getattr(self.runtime, "netfilter", None)
        if netfilter is None:
            raise FaultUnavailable("packet loss needs the local runtime's iptables chains "
                                   "(root, iptables, cgroup v2)")
        return PacketLoss(netfilter, {n: self.addresses[n] for n in nodes or self.hosts},
                          probability)

    def toxiproxy(self) -> ToxiproxyServer:
        """A toxiproxy server of this cluster (stopped with it), on the harness's address."""
        server: ToxiproxyServer = self.runtime.toxiproxy(self.harness)
        return server

    def link_through(self, host: str, port: int) -> None:
        """Check that nodes can reach the harness's proxy at ``host:port``, for a link between
        two nodes through it (FaultUnavailable with the runtime's reason where they cannot)."""
        if why := self.runtime.capabilities().get("proxied-link"):
            raise FaultUnavailable(f"a link through the harness's proxy ({host}:{port}) between "
                                   f"nodes on the {self.runtime.name} runtime: {why}")

    def _pick(self, names: Sequence[str] | None) -> list[Node]:
        return [self.node(n) for n in names] if names else list(self.nodes.values())

    def stop(self) -> None:
        try:
            self.runtime.close()
        finally:
            self.run.forget()
