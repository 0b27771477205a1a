"""nginx in front of an app tier: the three-tier architecture (balancer, app servers, Redis).

The balancer is Debian's nginx (``nginx-light``) with ``daemon off``, its pid, temp paths and
logs under its node folder and ``proxy_bind`` to its own address (so partitions cut it); its
``nginx.conf`` is one of the node's files, checked with ``nginx -t`` before the first start and
at each reload (``reload``, ``begin_reload``/``wait_drained``: rewrite, SIGHUP, proven from the
master's log). The app servers are ``appserver.py`` processes on their own addresses; their
state lives in one Redis node (a stateless app tier) or in their own memory (sessions on the
server).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...cluster import Cluster
from ...faults import FaultNotEffective
from ...nodes import Node, NodeSpec
from ...nodes.readiness import TcpPort
from ...provision import apt_install
from .. import base
from .. import redis as rb
from ..own_server import python_node
from .conf import PORT, Balancing, render

APP_PORT = 8080
CONF = "nginx.conf"  # in the balancer's conf folder (``NodePaths.conf``)


def provision(redis: bool = True) -> None:
    apt_install(["nginx-light"], ["nginx"])
    if redis:
        rb.provision()


def app_spec(name: str, address: str, store: str) -> NodeSpec:
    return python_node(name, address, "pytest_sdconform.backends.nginx.appserver",
                       ["--bind", address, "--port", str(APP_PORT), "--name", name,
                        "--store", store],
                       ready=TcpPort(address, APP_PORT))


def nginx_test(folder: Path, quiet: bool = True) -> list[str]:
    """``nginx -t`` of the config in ``folder`` (with ``folder`` as nginx's prefix)."""
    return ["nginx", "-t", *(["-q"] if quiet else []), "-c", str(folder / CONF),
            "-p", str(folder), "-e", "stderr"]


def balancer_spec(name: str, address: str, folder: Path, upstreams: Sequence[str],
                  b: Balancing) -> NodeSpec:
    """nginx with its config in ``folder`` (the node's conf folder), tested before it starts."""
    return NodeSpec(
        name,
        address,
        ["nginx", "-c", str(folder / CONF), "-p", str(folder), "-e", "stderr"],
        ready=TcpPort(address, PORT),
        ready_timeout=30,
        stop_signal=signal.SIGQUIT,
        files={CONF: render(folder, address, upstreams, b)},
        setup=[["mkdir", "-p", str(folder / "tmp")], nginx_test(folder)],
        image="nginx",
    )


@dataclass
class NginxInfo:
    """What the harness knows of the three tiers once they are up."""

    addresses: dict[str, str]  # every node's address: r1 (Redis), a1..aN, lb, lb2...
    apps: list[str]  # the app servers' names
    lb: str  # the first balancer's address
    lbs: list[str]  # every balancer's address
    folder: Path  # the first balancer's conf folder (its nginx.conf, pid, logs)
    upstreams: list[str]  # the app servers (host:port) in lb's config now: a reload changes it
    balancing: Balancing


@dataclass
class Topology(base.Topology[NginxInfo]):
    """``apps`` app servers behind one nginx (``balancers=2``: two, ``lb`` and ``lb2``, with
    the same config; clients fail over between them); their store is a Redis node or their
    memory."""

    backend: ClassVar[str] = "nginx"
    runtimes: ClassVar[tuple[str, ...]] = ("local", "docker")

    apps: int = 2
    balancers: int = 1
    store: str = "redis"  # redis | memory
    balancing: Balancing = field(default_factory=Balancing)

    def describe(self) -> dict[str, Any]:
        d = {"apps": self.apps, "store": self.store, **self.balancing.describe()}
        if self.balancers > 1:
            d["balancers"] = self.balancers
        return d

    def provision(self) -> None:
        provision(redis=self.store == "redis")

    def app_names(self) -> list[str]:
        return [f"a{i}" for i in range(1, self.apps + 1)]

    def lb_names(self) -> list[str]:
        return ["lb"] + [f"lb{i}" for i in range(2, self.balancers + 1)]

    def node_names(self, runtime: str) -> list[str]:
        redis = ["r1"] if self.store == "redis" else []
        return [*redis, *self.app_names(), *self.lb_names()]

    def upstreams(self, addresses: dict[str, str]) -> list[str]:
        return [f"{addresses[a]}:{APP_PORT}" for a in self.app_names()]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        addresses = start.addresses
        specs: list[NodeSpec] = []
        store = "memory"
        if self.store == "redis":
            store = f"redis://{addresses['r1']}:{rb.PORT}"
            specs.append(rb.server_spec("r1", addresses["r1"], rb.Persistence()))
        specs += [app_spec(a, addresses[a], store) for a in self.app_names()]
        upstreams = self.upstreams(addresses)
        specs += [balancer_spec(lb, addresses[lb], start.paths(lb).conf, upstreams,
                                self.balancing) for lb in self.lb_names()]
        return specs

    def ready(self, start: base.Start) -> NginxInfo:
        addresses = dict(start.addresses)
        return NginxInfo(
            addresses=addresses,
            apps=self.app_names(),
            lb=addresses["lb"],
            lbs=[addresses[lb] for lb in self.lb_names()],
            folder=start.paths("lb").conf,
            upstreams=self.upstreams(addresses),
            balancing=self.balancing,
        )


def write_conf(node: Node, folder: Path, address: str, upstreams: Sequence[str],
               b: Balancing) -> None:
    """Rewrite a running balancer's nginx.conf (in ``folder``, its conf folder); ValueError if
    ``nginx -t`` rejects it."""
    node.write_file(CONF, render(folder, address, upstreams, b))
    code, output = node.execute(nginx_test(folder))
    if code != 0:
        raise ValueError(f"nginx -t rejects {folder / CONF}: {output.strip()}")


def nginx_accepts(directive: str, folder: Path) -> tuple[bool, str]:
    """Whether this nginx binary accepts ``directive`` in a proxied location (``nginx -t``)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    (folder / CONF).write_text(
        render(folder, "127.0.0.1", ["127.0.0.1:9"], Balancing(extra=directive)))
    test = subprocess.run(nginx_test(folder, quiet=False), capture_output=True, text=True,
                          timeout=30)
    return test.returncode == 0, test.stderr.strip()


def worker_generations(cluster: Cluster[NginxInfo]) -> int:
    """How many times the master has started its workers (the start plus each reload)."""
    text = cluster.node("lb").log.read_text(errors="replace")
    return text.count("start worker processes")


def reload(
    cluster: Cluster[NginxInfo], upstreams: Sequence[str] | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """Rewrite the config (with these upstreams) and SIGHUP the master; returns once the new
    workers have started and the old ones have finished their requests and exited."""
    exits = begin_reload(cluster, upstreams, timeout)
    wait_drained(cluster, exits, timeout)
    return {"upstreams": cluster.info.upstreams}


def _log_counts(cluster: Cluster[NginxInfo]) -> tuple[int, int]:
    text = cluster.node("lb").log.read_text(errors="replace")
    return text.count("start worker processes"), text.count("exited with code")


def begin_reload(
    cluster: Cluster[NginxInfo], upstreams: Sequence[str] | None = None, timeout: float = 10.0
) -> int:
    """Rewrite the config and SIGHUP the master; returns once the new workers have started
    (the old ones may still be finishing their requests), with the count of worker exits
    logged before, for ``wait_drained``."""
    info = cluster.info
    if upstreams is not None:
        info.upstreams = list(upstreams)
    node = cluster.node("lb")
    write_conf(node, info.folder, info.lb, info.upstreams, info.balancing)
    gens, exits = _log_counts(cluster)
    if not node.signal(signal.SIGHUP):
        raise FaultNotEffective("reload: nginx is not running")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _log_counts(cluster)[0] > gens:
            return exits
        time.sleep(0.02)
    raise FaultNotEffective(f"reload: no new workers after {timeout:.0f}s (see {node.log})")


def wait_drained(cluster: Cluster[NginxInfo], exits: int, timeout: float = 10.0) -> None:
    """Wait until an old worker has exited since ``begin_reload`` (it finished its requests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _log_counts(cluster)[1] > exits:
            return
        time.sleep(0.02)
    raise FaultNotEffective(f"reload: old workers still running after {timeout:.0f}s "
                            f"(see {cluster.node('lb').log})")
