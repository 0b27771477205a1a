"""Redis topologies: a single node, a primary with replicas, Sentinel beside each server.

Servers are Debian's redis-server and redis-sentinel, provisioned with apt when missing. Every
node runs with ``repl-diskless-sync no`` (a diskless sync waits 5 s by default, on any node that
may become primary) and a short ``repl-timeout`` so that a cut replica is noticed in seconds.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...cluster import Cluster
from ...nodes import NodeSpec
from ...nodes.readiness import Command
from ...nodes.routes import via
from ...provision import apt_install
from .. import base

PORT = 6379
SENTINEL_PORT = 26379
MASTER = "sdconform"

# Sentinel's settings, and the recovery bound they imply (see ``sentinel_rto_bound_s``).
DOWN_AFTER_MS = 2000  # a primary silent this long is subjectively down
FAILOVER_TIMEOUT_MS = 3000  # one failover attempt's limit (election, promotion)
SENTINEL_MAX_DESYNC_S = 1.0  # Sentinel delays each attempt by up to this (SENTINEL_MAX_DESYNC)
# The primary's replication cron (``replicationCron``, with ``refreshGoodSlavesCount``) runs
# once a second: that is how often it recounts the replicas within min-replicas-max-lag.
REPLICATION_CRON_S = 1.0


def sentinel_rto_bound_s() -> float:
    """The longest failover Sentinel's own settings allow, with one split vote: down-after-
    milliseconds to declare the primary down; an attempt whose election fails (two sentinels
    voting for themselves at once, likely when one of three is gone with its zone) ends
    within failover-timeout, and the next may start 2 x failover-timeout after the first (plus
    up to SENTINEL_MAX_DESYNC); that one elects and promotes within failover-timeout. Clients
    rediscover the primary at their next error, within the same span. failover-timeout is
    3 s here (10 s would make one split vote cost 20 s, longer than a case's fault window)."""
    return (DOWN_AFTER_MS + 3 * FAILOVER_TIMEOUT_MS) / 1000 + SENTINEL_MAX_DESYNC_S


def deposed_write_bound_s(max_lag_s: float) -> float:
    """How long a primary with ``min-replicas-to-write`` may still acknowledge writes after it
    last heard from its replicas: min-replicas-max-lag, plus up to one replication cron period
    before it recounts its good replicas (it checks the count, not the lag, per command)."""
    return max_lag_s + REPLICATION_CRON_S


def provision() -> None:
    apt_install(["redis-server", "redis-tools", "redis-sentinel"],
                ["redis-server", "redis-cli", "redis-sentinel"])


_versions: dict[str, str] = {}


def server_version() -> str | None:
    """The release of the ``redis-server`` this machine runs (``redis-server --version``:
    ``Redis server v=7.0.15 ...``), None where there is none (before it is provisioned; in
    containers, whose images carry their own)."""
    if "redis" not in _versions:
        try:
            out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        found = re.search(r"\bv=(\d[\w.-]*)", out)
        if found is None:
            return None
        _versions["redis"] = found.group(1)
    return _versions["redis"]


@dataclass
class Persistence:
    """How a node saves data: RDB snapshots (``save``) and/or the append-only file."""

    appendonly: bool = False
    appendfsync: str = "everysec"  # always | everysec | no
    save: str = ""  # "" disables RDB snapshots; Redis's default is "3600 1 300 100 60 10000"

    def args(self) -> list[str]:
        return ["--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", self.appendfsync, "--save", self.save]

    def describe(self) -> dict[str, Any]:
        return {"appendonly": self.appendonly, "appendfsync": self.appendfsync,
                "save": self.save or "off"}


def server_spec(name: str, address: str, persistence: Persistence,
                replica_of: str | None = None, extra: Sequence[str] = (),
                skew_clock: bool = False) -> NodeSpec:
    argv = ["redis-server", "--bind", address, "--port", str(PORT), "--protected-mode", "no",
            "--dir", ".", "--logfile", "", "--repl-diskless-sync", "no",
            "--repl-timeout", "5", *persistence.args(), *extra]
    if replica_of:
        argv += ["--replicaof", replica_of, str(PORT)]
    return NodeSpec(name, address, argv,
                    ready=Command(["redis-cli", "-h", address, "-p", str(PORT), "ping"]),
                    ready_timeout=30, clock="redis-server" if skew_clock else None,
                    image="redis", ports=[PORT])


def sentinel_spec(name: str, address: str, primary: str, host: str | None = None) -> NodeSpec:
    # Sentinel rewrites its config file, so it lives in the node's data folder (the cwd); a
    # restarted sentinel keeps what it learnt (the current primary, epochs), as a real one does.
    conf = (
        f"port {SENTINEL_PORT}\nbind {address}\nprotected-mode no\n"
        f"sentinel announce-ip {address}\n"
        f"sentinel monitor {MASTER} {primary} {PORT} 2\n"
        f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {MASTER} 1\n"
    )
    script = (f"[ -s sentinel.conf ] || printf '%s' '{conf}' > sentinel.conf && "
              "exec redis-sentinel sentinel.conf")
    return NodeSpec(name, address, ["/bin/sh", "-c", script],
                    ready=Command(["redis-cli", "-h", address, "-p", str(SENTINEL_PORT), "ping"]),
                    ready_timeout=30, host=host, image="redis", ports=[SENTINEL_PORT])


@dataclass(frozen=True)
class RedisInfo:
    """What the harness knows of a Redis cluster once it is up."""

    primary: str  # the node started as primary (Sentinel may promote another later)
    addresses: dict[str, str]  # server name -> address (sentinels share their server's)


@dataclass
class Topology(base.Topology[RedisInfo]):
    """``replicas`` replicas of one primary; with ``sentinel``, a Sentinel beside every server."""

    backend: ClassVar[str] = "redis"
    runtimes: ClassVar[tuple[str, ...]] = ("local", "docker")

    replicas: int = 0
    sentinel: bool = False
    persistence: Persistence = field(default_factory=Persistence)
    extra: Sequence[str] = ()  # more redis-server arguments, e.g. min-replicas-to-write
    skew_clocks: bool = False  # start servers so that ``cluster.clock_skew`` can move them

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"replicas": self.replicas, **self.persistence.describe()}
        if version := server_version():
            d["version"] = version
        if self.sentinel:
            d["sentinel"] = True
        if self.extra:
            d["args"] = " ".join(self.extra)
        if self.skew_clocks:
            d["skewable_clocks"] = True
        return d

    def provision(self) -> None:
        provision()

    def served_version(self, info: RedisInfo) -> str | None:
        return served_version(info.addresses[info.primary])

    def node_names(self, runtime: str) -> list[str]:
        return [f"n{i}" for i in range(1, self.replicas + 2)]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        primary = start.addresses["n1"]
        return [server_spec(n, a, self.persistence, None if n == "n1" else primary, self.extra,
                            self.skew_clocks)
                for n, a in start.addresses.items()]

    def ready(self, start: base.Start) -> RedisInfo:
        addresses = dict(start.addresses)
        wait_replicated(addresses["n1"], self.replicas)
        if self.sentinel:  # a sentinel beside each server: a partition cuts both
            start.add([sentinel_spec(f"s{n[1:]}", a, addresses["n1"], host=n)
                       for n, a in addresses.items()])
        return RedisInfo("n1", addresses)


def served_version(address: str) -> str | None:
    """The release a running server says it is (``INFO server``), None if it does not answer."""
    try:
        return str(admin(address, timeout=2.0).info("server")["redis_version"])
    except Exception:  # redis errors, a missing field: not known
        return None


def admin(address: str, port: int = PORT, timeout: float = 0.5) -> Any:
    """A connection for the harness's own questions (roles, replication, the sentinels'
    primary): one attempt each. redis-py retries ten times with exponential backoff by
    default, which made a question to a dead sentinel take seconds."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(*via(address, port), socket_timeout=timeout,
                       socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


def wait_replicated(primary: str, replicas: int, timeout: float = 30) -> None:
    r = admin(primary, timeout=2)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            info = r.info("replication")
            if info.get("connected_slaves", 0) >= replicas and all(
                info.get(f"slave{i}", {}).get("state") == "online" for i in range(replicas)
            ):
                return
            time.sleep(0.1)
    finally:
        r.close()
    raise TimeoutError(f"{replicas} replica(s) of {primary} not in sync after {timeout:.0f}s")


def sentinel_primary(cluster: Cluster[RedisInfo]) -> str | None:
    """The primary the sentinels agree on now (address), asking each reachable one."""
    import redis

    for node in cluster.nodes.values():
        if not node.name.startswith("s"):
            continue
        s = admin(node.address, SENTINEL_PORT)
        try:
            addr = s.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
            if addr:
                return str(addr[0].decode() if isinstance(addr[0], bytes) else addr[0])
        except redis.RedisError:
            continue
        finally:
            s.close()
    return None


def converged(cluster: Cluster[RedisInfo]) -> bool:
    """Every server answers, the sentinels name one primary, and every other server replicates
    from it with its link up: the moment final reads mean something."""
    import redis

    primary = sentinel_primary(cluster)
    if primary is None:
        return False
    for address in cluster.info.addresses.values():
        r = admin(address)
        try:
            info = r.info("replication")
        except redis.RedisError:
            return False
        finally:
            r.close()
        if address == primary:
            if info.get("role") != "master":
                return False
        elif info.get("master_host") != primary or info.get("master_link_status") != "up":
            return False
    return True


class SentinelRouter:
    """Where a Sentinel-aware client sends writes: the primary it last heard of, asked again of
    the sentinels after an error (as real clients do: they cache, they do not ask every time)."""

    def __init__(self, cluster: Cluster[RedisInfo]):
        self.cluster = cluster
        self._primary: str | None = None

    def primary(self) -> str:
        if self._primary is None:
            self._primary = sentinel_primary(self.cluster) or self.cluster.info.addresses["n1"]
        return self._primary

    def forget(self) -> None:
        self._primary = None
