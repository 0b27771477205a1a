"""The docker runtime: each node a container on a network of the run's own.

Any Docker-API engine named by ``DOCKER_HOST`` serves (Docker, Docker Desktop, Podman's socket,
a remote host); ``sdconform engine start`` runs a private one here. Every container, network
and volume carries the label ``sdconform.run=<run id>`` and is in the run's ledger before it is
made, so the run's end and ``sdconform cleanup`` remove them (no Ryuk: its image cannot be
pulled everywhere, and it is unreliable on Podman).

Faults, proven as on the local runtime, and all through the engine's API (so that they need
neither root nor the engine's own machine): kill and restart in place, pause by the engine's
freezer, partitions by DROP rules in the network namespace each host node's holder container
keeps (``iptables`` run in the holder, which has NET_ADMIN in its own namespace only), proven by
probes run from the same namespace; latency through toxiproxy on the harness's side.

Two faults need the engine on the harness's own machine, since they share host folders with
the containers: clock skew (the clock shim and each node's control file, in a folder mounted
read-only into the node: the fault writes the offset there, the node reads it) and power loss
(the node's data folder is on ``sdconform-lossfs`` mounted on the host, bind-mounted into the
container instead of a volume; the mount is checked from inside the container at each start).
Elsewhere they are refused, saying why.

The harness's clients connect to the containers' addresses where the run's network is routed
to the harness (the engine on this Linux machine, a CI runner). Where it is not (Docker
Desktop's VM, an engine on another machine), the runtime finds out when it starts and reaches
the nodes through a gateway container that forwards ports the engine publishes
(``gateway.py``); every connection the harness makes to a node looks its port up in
``nodes/routes.py``. ``SDCONFORM_DOCKER_ACCESS=routed|published`` forces either way.

testcontainers is not used: its containers are made to be started once, waited on and thrown
away, reached through ports published on the host. Ours restart in place (a kill is a fault,
not the end), on fixed addresses, in a namespace another container holds; and its reaper
(Ryuk) is an image to pull. The Docker SDK says all of that directly.
"""

from __future__ import annotations

import ipaddress
import os
import random
import signal
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..faults import FaultUnavailable
from ..faults.clock import ClockControl, ClockSkew
from ..faults.partition import PROBE_PORT, Partition
from ..faults.probe import reachable
from ..faults.toxiproxy import ToxiproxyServer
from ..images import NET_ROLE, ensure
from ..nodes import NodePaths, NodeSpec
from ..nodes.addresses import AddressBlock
from ..progress import progress
from ..provision import ProvisionError
from ..runs import Run
from . import RuntimeUnsupported
from .container import PATHS, ContainerNode, entrypoint, image_binary_traits, put_files
from .engines import LABEL, elsewhere, engine, remove_labelled, shared_unavailable
from .gateway import Gateway, published_host
from .holders import CUT_CHAIN, CUT_SCRIPT, HolderProbe, in_holder
from .local import LocalRuntime
from .lossfs import LossyDisk, lossfs_unavailable
from .process import local_paths

ACCESS = ("auto", "routed", "published")  # how the harness reaches the nodes


class DockerRuntime:
    name = "docker"

    def __init__(self, run: Run, images: Mapping[str, str] | None = None):
        self.run = run
        self.images = dict(images or {})
        self.client = engine()
        self.host = LocalRuntime(run)  # the harness's own helpers (toxiproxy), on the host
        self.nodes: dict[str, ContainerNode] = {}
        self.holders: dict[str, Any] = {}  # host node -> the container holding its network
        self.cut: set[tuple[str, str]] = set()
        self.labels = {LABEL: run.id}
        self.network_name = f"sdconform-{run.id}"
        run.record("docker-network", name=self.network_name, engine=self._engine_url())
        # Fixed addresses need a subnet of our own choosing: the engine's IPAM finds a free
        # one, and the network is made again with it as its configured subnet.
        probe = self.client.networks.create(self.network_name, driver="bridge",
                                            labels=self.labels)
        probe.reload()
        subnet = probe.attrs["IPAM"]["Config"][0]["Subnet"]
        probe.remove()
        import docker.types

        pool = docker.types.IPAMPool(subnet=subnet)
        self.network = self.client.networks.create(
            self.network_name, driver="bridge", labels=self.labels,
            ipam=docker.types.IPAMConfig(pool_configs=[pool]))
        self.subnet = ipaddress.ip_network(subnet)
        self.disks: dict[str, LossyDisk] = {}
        self._clock: ClockControl | None = None
        self.no_clock: dict[str, str] = {}  # node -> why its clock cannot be skewed
        self.elsewhere = elsewhere(self._engine_url(), self.client.info())
        self.access = os.environ.get("SDCONFORM_DOCKER_ACCESS", "auto")
        if self.access not in ACCESS:
            raise RuntimeUnsupported(f"SDCONFORM_DOCKER_ACCESS={self.access!r}: "
                                     f"expected one of {', '.join(ACCESS)}")
        self.gateway: Gateway | None = None
        self._choose_access()

    def _image(self, role: str) -> str:
        """The image of a role, built or pulled on first use; RuntimeUnsupported if neither."""
        try:
            return ensure(self.client, role, self.images)
        except ProvisionError as e:
            raise RuntimeUnsupported(str(e)) from e

    def _engine_url(self) -> str:
        """Where cleanup finds the engine again ("": the default socket)."""
        return os.environ.get("DOCKER_HOST", "")

    def capabilities(self) -> dict[str, str | None]:
        remote = self.elsewhere
        clock: str | None
        power: str | None
        if remote:
            shared = f"{remote}, and this fault shares host folders with the containers"
            clock, power = f"clock skew: {shared}", f"power loss: {shared}"
        else:
            clock = None if self._clock and self._clock.methods else (
                "; ".join(self.no_clock.values()) or "no node was started with a skewable clock")
            power = lossfs_unavailable()
        return {"kill": None, "pause": None, "partition": None, "latency": None,
                "clock": clock, "power-loss": power,
                "proxied-link": "containers do not reach the harness's loopback address, where "
                                "its proxies listen"}

    def addresses(self, names: Sequence[str], block: AddressBlock) -> dict[str, str]:
        """Fixed addresses on the run's network (the gateway takes the first)."""
        hosts: Iterator[Any] = self.subnet.hosts()
        next(hosts)
        return {name: str(next(hosts)) for name in names}

    def paths(self, name: str, user: str | None = None) -> NodePaths:
        return PATHS

    def start(self, specs: Sequence[NodeSpec], parallel: bool = True) -> list[ContainerNode]:
        nodes = [self._create(spec) for spec in specs]
        for node in nodes:
            node.start(wait=not parallel)
        if parallel:
            for node in nodes:
                node.wait_ready()
        return nodes

    def _create(self, spec: NodeSpec) -> ContainerNode:
        if spec.name in self.nodes:
            raise ValueError(f"node {spec.name} already exists in this run")
        if not spec.image:
            raise RuntimeUnsupported(f"node {spec.name} names no image role (NodeSpec.image)")
        image = self._image(spec.image)
        name = f"sdconform-{self.run.id}-{spec.name}"
        volume = f"{name}-data"
        why = shared_unavailable(self._engine_url(), spec)
        if why:
            raise RuntimeUnsupported(why)
        disk = self._disk(spec) if spec.lossy_disk else None
        if disk is None:
            self.run.record("docker-volume", name=volume, engine=self._engine_url())
            self.client.volumes.create(volume, labels=self.labels)
        self.run.record("docker-container", name=name, engine=self._engine_url())
        mounts = {str(disk.data) if disk else volume: {"bind": str(PATHS.data), "mode": "rw"}}
        for folder in spec.shared:
            mounts[str(folder)] = {"bind": str(folder), "mode": "ro"}
        environment = dict(spec.env)
        if spec.clock:
            if self._clock is None:
                self._clock = ClockControl(self.run.folder / "clock")
            skew = self._clock_env(spec, image)
            if skew:
                environment |= skew
                mounts[str(self._clock.folder)] = {"bind": str(self._clock.folder), "mode": "ro"}
        # The node joins a network holder of its host (its own, or its host's for a sidecar):
        # a killed node's address stays, and refuses connections, as a crashed process's
        # machine does; and partition rules live in the holder's namespace through restarts.
        holder = self._holder(spec.host or spec.name, spec.address)
        for port in spec.harness_ports():
            self.route(spec.address, port)
        host_config = self.client.api.create_host_config(
            binds=mounts, init=False, network_mode=f"container:{holder.id}")
        created = self.client.api.create_container(
            image, entrypoint(spec), name=name, labels=self.labels,
            environment=environment, working_dir=str(PATHS.data), host_config=host_config,
            stop_signal=signal.Signals(spec.stop_signal).name)
        container = self.client.containers.get(created["Id"])
        if spec.files:
            put_files(container, spec.files)
        node = ContainerNode(spec, container, self.run.folder / "nodes" / spec.name / "node.log")
        node.disk = disk
        self.nodes[spec.name] = node
        return node

    def _disk(self, spec: NodeSpec) -> LossyDisk:
        """The node's data folder on the host, on the filesystem that forgets unsynced writes."""
        why = self.capabilities()["power-loss"]
        if why:
            raise RuntimeUnsupported(why)
        disk = self.disks[spec.name] = LossyDisk(self.run, local_paths(self.run, spec.name).data)
        disk.mount()
        return disk

    def _clock_env(self, spec: NodeSpec, image: str) -> dict[str, str]:
        """The environment that makes the node's clock skewable: the clock shim, reading its
        offset from a host folder mounted into the node. The shim, not libfaketime: it works for
        every dynamically linked binary libfaketime does and more (jemalloc, other users,
        clock_nanosleep), so the image's libraries need not be examined; a binary no preload
        reaches (Go, static) is refused. {} (and the reason kept) when it cannot be done."""
        assert spec.clock is not None and self._clock is not None
        why = self.elsewhere
        if why is None:
            name = f"sdconform-{self.run.id}-{spec.name}-elf"
            self.run.record("docker-container", name=name, engine=self._engine_url())
            probe = self.client.containers.create(image, ["true"], name=name, labels=self.labels)
            try:
                traits = image_binary_traits(probe, spec.clock)
            except FaultUnavailable as e:
                traits, why = set(), str(e)
            finally:
                probe.remove(force=True)
            unreachable = sorted({"go", "static"} & traits)
            if unreachable:
                why = f"{spec.clock} in {image} is a {unreachable[0]} binary: no preload reaches it"
        if why:
            self.no_clock[spec.name] = f"clock skew of {spec.name}: {why}"
            return {}
        return self._clock.skew_env(spec.name, "shim")

    def _holder(self, host: str, address: str) -> Any:
        """The container that holds ``host``'s network namespace and address (made once), in
        our own small image (iptables and bash, whatever image the node runs in), with
        NET_ADMIN: the capability covers its own namespace only, where the cut rules live."""
        if host in self.holders:
            return self.holders[host]
        name = f"sdconform-{self.run.id}-{host}-net"
        self.run.record("docker-container", name=name, engine=self._engine_url())
        networking = self.client.api.create_networking_config({
            self.network_name: self.client.api.create_endpoint_config(
                ipv4_address=address, aliases=[host])})
        created = self.client.api.create_container(
            self._image(NET_ROLE), ["sleep", "infinity"], name=name, hostname=host,
            labels=self.labels, networking_config=networking, stop_signal="SIGKILL",
            host_config=self.client.api.create_host_config(network_mode=self.network_name,
                                                           cap_add=["NET_ADMIN"]))
        holder = self.client.containers.get(created["Id"])
        holder.start()
        self.holders[host] = holder
        return holder

    def _choose_access(self) -> None:
        """Can the harness reach the run's network? A container that listens on nothing is
        started on it: a refused connection proves the route; a timeout or no route means the
        engine's network is elsewhere, and the nodes are reached through a gateway instead
        (decided before any node is made: a node that hands out its address, like a Kafka
        broker, must know what to advertise to the harness)."""
        address = str(self.subnet.broadcast_address - 1)
        routed = self.access != "published" and self._reachable_here(address)
        if routed:
            self.access = "routed"
            return
        if self.access == "routed":
            raise RuntimeUnsupported(
                f"the run's network {self.subnet} (container {address}) is not reachable from "
                "here, and SDCONFORM_DOCKER_ACCESS=routed")
        self.access = "published"
        host = published_host(self._engine_url())
        name = f"sdconform-{self.run.id}-gateway"
        self.run.record("docker-container", name=name, engine=self._engine_url())
        self.gateway = Gateway(self.client, name, self._image(NET_ROLE),
                               self.network_name, address, self.labels, host)
        progress(f"docker: the run's network is not routed here; reaching its nodes through "
                 f"ports the engine publishes on {host}")

    def _reachable_here(self, address: str) -> bool:
        name = f"sdconform-{self.run.id}-probe"
        self.run.record("docker-container", name=name, engine=self._engine_url())
        networking = self.client.api.create_networking_config({
            self.network_name: self.client.api.create_endpoint_config(ipv4_address=address)})
        created = self.client.api.create_container(
            self._image(NET_ROLE), ["sleep", "infinity"], name=name,
            labels=self.labels, networking_config=networking, stop_signal="SIGKILL",
            host_config=self.client.api.create_host_config(network_mode=self.network_name))
        probe = self.client.containers.get(created["Id"])
        try:
            probe.start()
            return reachable(address, PROBE_PORT, timeout=2.0)
        finally:
            probe.remove(force=True)

    def route(self, address: str, port: int) -> tuple[str, int]:
        """Where the harness connects to reach ``address:port`` (``nodes/routes.py``)."""
        if self.gateway is None:
            return address, port
        return self.gateway.route(address, port)

    # --- partitions: DROP rules in each source container's own network namespace ---------

    def drop(self, pairs: set[tuple[str, str]]) -> None:
        self.cut |= pairs
        self._apply()

    def heal(self) -> None:
        self.cut = set()
        self._apply()

    def _apply(self) -> None:
        """Each holder's OUTPUT jumps to our chain, which drops what its host sends to the
        cut addresses (the rules outlive restarts of the node: the namespace is the holder's)."""
        for host, address in ((h, self.nodes[h].address) for h in self.holders):
            cut = [dst for src, dst in sorted(self.cut) if src == address]
            in_holder(self.holders[host], host, CUT_SCRIPT, CUT_CHAIN, *cut)

    def partition(self, names: Sequence[str], shapes: Sequence[str],
                  rng: random.Random) -> Partition:
        why = self.capabilities()["partition"]
        if why:
            raise FaultUnavailable(why)
        addresses = {n: self.nodes[n].address for n in names}
        probes = {n: HolderProbe(self.holders[n], n) for n in names}
        return Partition(self, addresses, probes, shapes, rng)

    def clock_skew(self, offsets: int | Mapping[str, int], probes: Mapping[str, Any] | None,
                   nodes: Sequence[str] | None) -> ClockSkew:
        why = self.capabilities()["clock"]
        if why or self._clock is None:
            raise FaultUnavailable(f"clock skew: {why}")
        return ClockSkew(self._clock, offsets, probes, nodes)

    def toxiproxy(self, address: str) -> ToxiproxyServer:
        server = ToxiproxyServer(self.host, address)
        server.start()
        return server

    def close(self) -> None:
        """Stop and remove every container, volume and the network of the run."""
        errors = []
        try:
            self.host.close()
        except Exception as e:
            errors.append(e)
        for container in [n.container for n in self.nodes.values()] + list(self.holders.values()):
            try:
                container.remove(force=True, v=False)
            except Exception as e:
                errors.append(e)
        remove_labelled(self.client, self.run.id)
        if self.gateway is not None:
            self.gateway.close()
        for disk in self.disks.values():  # once no container holds a mount of it
            try:
                disk.close()
            except Exception as e:
                errors.append(e)
        if errors:
            raise errors[0]
