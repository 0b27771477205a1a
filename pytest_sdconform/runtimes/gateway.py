"""The way in to a run's containers when their network is not routed to the harness.

Docker Desktop runs its engine in a VM, and a remote engine is on another machine: their
containers' addresses cannot be reached from where the harness runs, only the ports the engine
publishes on its host. A gateway is then one more container on the run's network, in our
``net`` image, that publishes a pool of ports; for each node port the harness needs, it turns
one of them to the node's real address and port with NAT rules in its own namespace (DNAT in,
masquerade out: it forwards packets, it accepts nothing itself), and the route goes in the
harness's table (``nodes/routes.py``). Nodes keep talking to each other directly, and faults
act between them as before: the gateway is only the harness's way in.

Because the gateway only forwards, a connection to a node that is down is refused end to end,
as a direct one is, wherever the engine's own port publishing forwards packets (an engine on
another machine). Docker Desktop's port forwarding on the Mac side accepts a connection before
it reaches the VM: there a down node's connection is accepted and then closed, and a client
sees a reset where it would have seen a refusal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..nodes import routes
from . import RuntimeUnsupported

POOL = 16  # published ports per run: each is a listener (and a proxy process) on the engine host
FIRST = 40000  # the gateway's first forwarding port, inside its own namespace


def published_host(docker_host: str) -> str:
    """Where the engine's published ports are reached: ``SDCONFORM_DOCKER_PUBLISHED_HOST``,
    else the host of a tcp:// or ssh:// ``DOCKER_HOST``, else this machine (Docker Desktop
    publishes on the Mac's own loopback)."""
    named = os.environ.get("SDCONFORM_DOCKER_PUBLISHED_HOST")
    if named:
        return named
    if docker_host.startswith(("tcp://", "ssh://", "http://", "https://")):
        host = urlsplit(docker_host).hostname
        if host:
            return host
    return "127.0.0.1"


class Gateway:
    """A run's gateway container: ``route(address, port)`` returns where the harness connects."""

    def __init__(self, client: Any, name: str, image: str, network: str, address: str,
                 labels: Mapping[str, str], host: str):
        self.client = client
        self.host = host
        ports = list(range(FIRST, FIRST + POOL))
        networking = client.api.create_networking_config({
            network: client.api.create_endpoint_config(ipv4_address=address)})
        created = client.api.create_container(
            image, ["sleep", "infinity"], name=name, labels=dict(labels), ports=ports,
            networking_config=networking, stop_signal="SIGKILL",
            host_config=client.api.create_host_config(
                network_mode=network, port_bindings=dict.fromkeys(ports), cap_add=["NET_ADMIN"],
                sysctls={"net.ipv4.ip_forward": "1"}))
        self.container = client.containers.get(created["Id"])
        self.container.start()
        self.container.reload()
        bound = self.container.attrs["NetworkSettings"]["Ports"] or {}
        self.published: dict[int, int] = {}
        for port in ports:
            bindings = bound.get(f"{port}/tcp") or []
            v4 = [b for b in bindings if ":" not in b.get("HostIp", "")] or bindings
            if v4:
                self.published[port] = int(v4[0]["HostPort"])
        self.free = [p for p in ports if p in self.published]
        self.routes: dict[tuple[str, int], tuple[str, int]] = {}

    def route(self, address: str, port: int) -> tuple[str, int]:
        """Forward a published port to ``address:port`` (once) and enter it in the table."""
        if (address, port) in self.routes:
            return self.routes[(address, port)]
        if not self.free:
            raise RuntimeUnsupported(
                f"the run's gateway has forwarded all its {POOL} published ports; "
                f"{address}:{port} needs one more (runtimes/gateway.py POOL)")
        inner = self.free.pop(0)
        target = f"{address}:{port}"
        code, out = self.container.exec_run(["sh", "-c", FORWARD, "sdconform", str(inner),
                                             address, str(port)])
        if code != 0:
            raise RuntimeError(f"the gateway could not forward {inner} to {target}: "
                               f"{out.decode(errors='replace').strip()[-300:]}")
        where = (self.host, self.published[inner])
        self.routes[(address, port)] = where
        routes.publish(address, port, *where)
        return where

    def close(self) -> None:
        """Forget the routes (the container goes with the run's other labelled resources)."""
        routes.forget({address for address, _ in self.routes})


FORWARD = r"""
iptables -w 5 -t nat -A PREROUTING -p tcp --dport "$1" -j DNAT --to-destination "$2:$3"
iptables -w 5 -t nat -C POSTROUTING -j MASQUERADE 2>/dev/null ||
  iptables -w 5 -t nat -A POSTROUTING -j MASQUERADE
"""
