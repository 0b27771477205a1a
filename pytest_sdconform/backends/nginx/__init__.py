"""nginx in front of an app tier: the three-tier architecture (balancer, app servers, Redis).

The balancer is Debian's nginx (``nginx-light``) with ``daemon off``, its pid, temp paths and
logs under its node folder and ``proxy_bind`` to its own address (so partitions cut it). The app
servers are ``appserver.py`` processes on their own addresses; their state lives in one Redis
node (a stateless app tier) or in their own memory (sessions on the server).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...cluster import Cluster, start_cluster
from ...faults import FaultNotEffective
from ...provision import apt_install
from ...runs import Run
from ...runtimes.addresses import AddressBlock
from ...runtimes.local import NodeSpec
from ...runtimes.readiness import TcpPort
from .. import redis as rb
from .conf import PORT, Balancing, render

__all__ = ["PORT", "Balancing", "Topology", "nginx_accepts", "provision", "reload"]

APP_PORT = 8080


def provision(redis: bool = True) -> None:
    apt_install(["nginx-light"], ["nginx"])
    if redis:
        rb.provision()


def app_spec(name: str, address: str, store: str) -> NodeSpec:
    argv = [
        sys.executable,
        "-m",
        "pytest_sdconform.backends.nginx.appserver",
        "--bind",
        address,
        "--port",
        str(APP_PORT),
        "--name",
        name,
        "--store",
        store,
    ]
    return NodeSpec(name, address, argv, ready=TcpPort(address, APP_PORT), ready_timeout=30)


def balancer_spec(name: str, address: str, folder: Path) -> NodeSpec:
    return NodeSpec(
        name,
        address,
        ["nginx", "-c", str(folder / "nginx.conf"), "-p", str(folder), "-e", "stderr"],
        ready=TcpPort(address, PORT),
        ready_timeout=30,
        stop_signal=signal.SIGQUIT,
    )


@dataclass
class Topology:
    """``apps`` app servers behind one nginx (``balancers=2``: two, ``lb`` and ``lb2``, with
    the same config; clients fail over between them); their store is a Redis node or their
    memory."""

    apps: int = 2
    balancers: int = 1
    store: str = "redis"  # redis | memory
    balancing: Balancing = field(default_factory=Balancing)

    def describe(self) -> dict[str, Any]:
        d = {"apps": self.apps, "store": self.store, **self.balancing.describe()}
        if self.balancers > 1:
            d["balancers"] = self.balancers
        return d

    def start(self, run: Run, block: AddressBlock, seed: int = 0) -> Cluster:
        provision(redis=self.store == "redis")
        specs: list[NodeSpec] = []
        addresses: dict[str, str] = {}
        n = 1
        store = "memory"
        if self.store == "redis":
            addresses["r1"] = block.node(n)
            n += 1
            store = f"redis://{addresses['r1']}:{rb.PORT}"
            specs.append(rb.server_spec("r1", addresses["r1"], rb.Persistence()))
        apps = [f"a{i}" for i in range(1, self.apps + 1)]
        for name in apps:
            addresses[name] = block.node(n)
            n += 1
            specs.append(app_spec(name, addresses[name], store))
        upstreams = [f"{addresses[a]}:{APP_PORT}" for a in apps]
        lbs = ["lb"] + [f"lb{i}" for i in range(2, self.balancers + 1)]
        folders = {}
        for name in lbs:
            addresses[name] = block.node(n)
            n += 1
            folders[name] = (run.folder / "nodes" / name).resolve()
            (folders[name] / "tmp").mkdir(parents=True, exist_ok=True)
            write_conf(folders[name], addresses[name], upstreams, self.balancing)
            specs.append(balancer_spec(name, addresses[name], folders[name]))
        cluster = start_cluster(run, block, specs, seed=seed)
        cluster.info.update(
            addresses=addresses,
            apps=apps,
            lb=addresses["lb"],
            lbs=[addresses[name] for name in lbs],
            folder=folders["lb"],
            upstreams=upstreams,
            balancing=self.balancing,
        )
        return cluster


def write_conf(folder: Path, address: str, upstreams: Sequence[str], b: Balancing) -> None:
    conf = folder / "nginx.conf"
    conf.write_text(render(folder, address, upstreams, b))
    test = subprocess.run(
        ["nginx", "-t", "-q", "-c", str(conf), "-p", str(folder), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if test.returncode != 0:
        raise ValueError(f"nginx -t rejects {conf}: {test.stderr.strip()}")


def nginx_accepts(directive: str, folder: Path) -> tuple[bool, str]:
    """Whether this nginx binary accepts ``directive`` in a proxied location (``nginx -t``)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(render(folder, "127.0.0.1", ["127.0.0.1:9"], Balancing(extra=directive)))
    test = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-p", str(folder), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return test.returncode == 0, test.stderr.strip()


def worker_generations(cluster: Cluster) -> int:
    """How many times the master has started its workers (the start plus each reload)."""
    text = cluster.node("lb").log.read_text(errors="replace")
    return text.count("start worker processes")


def reload(
    cluster: Cluster, upstreams: Sequence[str] | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """Rewrite the config (with these upstreams) and SIGHUP the master; returns once the new
    workers have started and the old ones have finished their requests and exited."""
    exits = begin_reload(cluster, upstreams, timeout)
    wait_drained(cluster, exits, timeout)
    return {"upstreams": cluster.info["upstreams"]}


def _log_counts(cluster: Cluster) -> tuple[int, int]:
    text = cluster.node("lb").log.read_text(errors="replace")
    return text.count("start worker processes"), text.count("exited with code")


def begin_reload(
    cluster: Cluster, upstreams: Sequence[str] | None = None, timeout: float = 10.0
) -> int:
    """Rewrite the config and SIGHUP the master; returns once the new workers have started
    (the old ones may still be finishing their requests), with the count of worker exits
    logged before, for ``wait_drained``."""
    info = cluster.info
    if upstreams is not None:
        info["upstreams"] = list(upstreams)
    write_conf(info["folder"], info["lb"], info["upstreams"], info["balancing"])
    node = cluster.node("lb")
    gens, exits = _log_counts(cluster)
    if not node.signal(signal.SIGHUP):
        raise FaultNotEffective("reload: nginx is not running")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _log_counts(cluster)[0] > gens:
            return exits
        time.sleep(0.02)
    raise FaultNotEffective(f"reload: no new workers after {timeout:.0f}s (see {node.log})")


def wait_drained(cluster: Cluster, exits: int, timeout: float = 10.0) -> None:
    """Wait until an old worker has exited since ``begin_reload`` (it finished its requests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _log_counts(cluster)[1] > exits:
            return
        time.sleep(0.02)
    raise FaultNotEffective(f"reload: old workers still running after {timeout:.0f}s "
                            f"(see {cluster.node('lb').log})")
