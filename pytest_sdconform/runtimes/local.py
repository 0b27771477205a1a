"""The local runtime: each node is a real process on its own loopback address (127.A.B.N).

Besides starting nodes (``process.py``), the local runtime is where the machine's fault
capabilities are set up for a run: with ``partitions``, each node joins a cgroup of its own
whose outgoing connections leave from the node's address, so that the raw table's DROP rules
between addresses cut real traffic (``faults/netfilter.py``); a node with ``NodeSpec.clock``
starts with the clock-skew library preloaded (``faults/clock.py``); a node with
``NodeSpec.lossy_disk`` has its data folder on the filesystem that forgets unsynced writes
(``lossfs.py``); toxiproxy runs as a node of the run,
on the harness's address. Everything is in the run's ledger, and ``close`` removes it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..faults import FaultUnavailable
from ..faults.clock import ClockControl, ClockSkew, Probe, method_for
from ..faults.netfilter import Netfilter, NetfilterUnavailable, unavailable_reason
from ..faults.partition import Partition
from ..faults.toxiproxy import ToxiproxyServer
from ..nodes.addresses import AddressBlock
from ..nodes.spec import NodePaths, NodeSpec
from ..runs import Run
from .lossfs import LossyDisk, lossfs_unavailable
from .process import LocalNode, local_paths, stop_recorded_process

__all__ = ["LocalNode", "LocalRuntime", "NodeSpec", "stop_recorded_process"]



class LocalRuntime:
    """Starts nodes as local processes for one run and stops every one of them at the end.

    ``cgroups`` (tests): a node's cgroup chosen by the caller. ``partitions``: set up the
    run's netfilter chains and a cgroup per node (a node with ``spec.host`` joins its host's).
    """

    name = "local"

    def __init__(self, run: Run, cgroups: Callable[[NodeSpec], Path | None] | None = None,
                 *, partitions: bool = False):
        self.run = run
        self.nodes: dict[str, LocalNode] = {}
        self._cgroups = cgroups
        self.groups: dict[str, Path] = {}
        self.netfilter: Netfilter | None = None
        self.no_partition: str | None = "this cluster was started without partitions"
        if partitions:
            self.no_partition = unavailable_reason()
            if self.no_partition is None:
                try:
                    self.netfilter = Netfilter(run)
                except NetfilterUnavailable as e:
                    self.no_partition = str(e)
        self._clock: ClockControl | None = None
        self.no_clock: dict[str, str] = {}  # node -> why its clock cannot be skewed
        self._paths: dict[str, NodePaths] = {}
        self.disks: dict[str, LossyDisk] = {}

    def capabilities(self) -> dict[str, str | None]:
        clock = None if self._clock and self._clock.methods else (
            "; ".join(self.no_clock.values()) or "no node was started with a skewable clock")
        return {"kill": None, "pause": None, "partition": self.no_partition, "latency": None,
                "clock": clock, "power-loss": lossfs_unavailable(), "proxied-link": None}

    def addresses(self, names: Sequence[str], block: AddressBlock) -> dict[str, str]:
        """The run's loopback block: 127.A.B.1 is the harness, nodes from .2 on."""
        return {name: block.node(i) for i, name in enumerate(names, 1)}

    def paths(self, name: str, user: str | None = None) -> NodePaths:
        if name not in self._paths:
            self._paths[name] = local_paths(self.run, name, user)
        return self._paths[name]

    def start(self, specs: Sequence[NodeSpec], parallel: bool = True) -> list[LocalNode]:
        """Start nodes; with ``parallel`` they are set up and launched together, then awaited."""
        nodes = []
        for spec in specs:
            if spec.name in self.nodes:
                raise ValueError(f"node {spec.name} already exists in this run")
            node = LocalNode(self._with_clock(spec), self.run, self._cgroup(spec),
                             self.paths(spec.name, spec.user))
            self.nodes[spec.name] = node
            nodes.append(node)
            if spec.lossy_disk:
                node.disk = self.disks[spec.name] = LossyDisk(self.run, node.data)
                node.disk.mount()
        if parallel and len(nodes) > 1:
            with ThreadPoolExecutor(len(nodes)) as pool:
                list(pool.map(LocalNode.prepare, nodes))
        for n in nodes:
            n.start(wait=not parallel)
        if parallel:
            for n in nodes:
                n.wait_ready()
        return nodes

    def _cgroup(self, spec: NodeSpec) -> Path | None:
        if self._cgroups is not None:
            return self._cgroups(spec)
        if self.netfilter is None:
            return None
        if spec.host is not None:
            group = self.groups.get(spec.host)
        else:
            group = self.netfilter.add_node(spec.name, spec.address)
        if group is not None:
            self.groups[spec.name] = group
        return group

    def _with_clock(self, spec: NodeSpec) -> NodeSpec:
        if spec.clock is None:
            return spec
        if self._clock is None:
            self._clock = ClockControl(self.run.folder / "clock")
        try:
            method = method_for(spec.clock, user=spec.user)
        except FaultUnavailable as e:
            self.no_clock[spec.name] = str(e)
            return spec
        spec.env = {**spec.env, **self._clock.skew_env(spec.name, method)}
        return spec

    def partition(self, names: Sequence[str], shapes: Sequence[str],
                  rng: random.Random) -> Partition:
        if self.netfilter is None:
            raise FaultUnavailable(self.no_partition or "partitions are not set up")
        addresses = {n: self.nodes[n].address for n in names}
        return Partition(self.netfilter, addresses, {n: self.groups[n] for n in names},
                         shapes, rng)

    def clock_skew(self, offsets: int | Mapping[str, int],
                   probes: Mapping[str, Probe] | None = None,
                   nodes: Sequence[str] | None = None) -> ClockSkew:
        if self._clock is None or not self._clock.methods:
            raise FaultUnavailable(f"clock skew: {self.capabilities()['clock']}")
        return ClockSkew(self._clock, offsets, probes, nodes)

    def toxiproxy(self, address: str) -> ToxiproxyServer:
        """A toxiproxy server of this run on ``address`` (stopped with the run's nodes)."""
        server = ToxiproxyServer(self, address)
        server.start()
        return server

    def route(self, address: str, port: int) -> tuple[str, int]:
        return address, port  # loopback addresses: always reached directly

    def stop_all(self, grace: float = 10.0) -> None:
        for node in self.nodes.values():
            node.stop(grace)

    def close(self) -> None:
        """Stop every node, then remove the run's chains and cgroups."""
        try:
            self.stop_all()
        finally:
            try:
                for disk in self.disks.values():
                    disk.close()
            finally:
                if self.netfilter is not None:
                    self.netfilter.close()
