"""Memcached: independent servers, each on its own address, and nothing between them.

Servers are Debian's memcached, provisioned with apt when missing. Memcached has no
replication, no membership and no persistence: a cluster is only the list of servers its
clients hash keys over, so ``ready`` has nothing to wait for beyond each server answering
``version``. Each server runs with UDP off and its own memory limit; as root it drops to the
package's ``memcache`` user (``-u``; ignored when the harness is not root).
"""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass
from typing import Any, ClassVar

from ...nodes import NodeSpec
from ...nodes.routes import via
from ...provision import apt_install
from .. import base

PORT = 11211
MEMORY_MB = 64  # memcached's default item memory: far more than a case writes (no eviction)


def provision() -> None:
    apt_install(["memcached"], ["memcached"])


_versions: dict[str, str] = {}


def server_version() -> str | None:
    """The release of the ``memcached`` this machine runs (``memcached -V``: ``memcached
    1.6.18``), None where there is none (before it is provisioned) or the answer is unreadable."""
    if "memcached" not in _versions:
        try:
            out = subprocess.run(["memcached", "-V"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        found = re.match(r"memcached (\d[\w.-]*)", out.strip())
        if found is None:
            return None
        _versions["memcached"] = found.group(1)
    return _versions["memcached"]


@dataclass(frozen=True)
class Version:
    """Ready when the server answers the text protocol's ``version`` command."""

    address: str
    port: int = PORT

    def __call__(self) -> bool:
        try:
            with socket.create_connection(via(self.address, self.port), timeout=0.5) as sock:
                sock.sendall(b"version\r\n")
                return sock.recv(64).startswith(b"VERSION ")
        except OSError:
            return False

    def __str__(self) -> str:
        return f"memcached version at {self.address}:{self.port}"


def server_spec(name: str, address: str, memory_mb: int = MEMORY_MB) -> NodeSpec:
    argv = ["memcached", "-l", address, "-p", str(PORT), "-U", "0", "-m", str(memory_mb),
            "-u", "memcache"]
    return NodeSpec(name, address, argv, ready=Version(address), ready_timeout=30,
                    image="memcached", ports=[PORT])


@dataclass(frozen=True)
class MemcachedInfo:
    """What the harness knows of the servers once they are up: nothing but where they are."""

    addresses: dict[str, str]  # server name -> address, in name order

    def servers(self) -> dict[str, tuple[str, int]]:
        """Server name -> (host, port), the list a client hashes keys over (where the harness
        reaches each server: ``nodes/routes.py``)."""
        return {n: via(a, PORT) for n, a in self.addresses.items()}


@dataclass
class Topology(base.Topology[MemcachedInfo]):
    """``servers`` independent memcached servers (three by default)."""

    backend: ClassVar[str] = "memcached"
    runtimes: ClassVar[tuple[str, ...]] = ("local", "docker")

    servers: int = 3
    memory_mb: int = MEMORY_MB

    def __post_init__(self) -> None:
        if self.servers < 1:
            raise ValueError(f"memcached: need at least one server, not {self.servers}")

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"servers": self.servers, "memory_mb": self.memory_mb}
        if version := server_version():
            d["version"] = version
        return d

    def provision(self) -> None:
        provision()

    def node_names(self, runtime: str) -> list[str]:
        return [f"n{i}" for i in range(1, self.servers + 1)]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        return [server_spec(n, a, self.memory_mb) for n, a in start.addresses.items()]

    def ready(self, start: base.Start) -> MemcachedInfo:
        return MemcachedInfo(dict(start.addresses))
