"""Redis Cluster: six servers with ``cluster-enabled``, made into three primaries with a replica
each by ``redis-cli --cluster create``; the failover bound its settings imply; a cluster-aware
redis-py client for the register and set workloads.

The bound (``cluster_rto_bound_s``) follows Redis Cluster's specification and ``cluster.c``: a
primary silent for ``cluster-node-timeout`` is PFAIL to each node that pings it; nodes gossip
about a random tenth of the cluster on every ping and ping any node not heard from in half the
timeout, so a majority's PFAIL reports reach a replica within another half timeout, and it
marks the primary FAIL; the replica then waits 500 ms plus up to 500 ms (plus 1 s per rank:
rank 0 here, one replica per primary) before asking for votes, and an election lasts at most
``max(2 x cluster-node-timeout, 2 s)``; the cron that drives all this runs every 100 ms.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...cluster import Cluster
from ...nodes import NodeSpec
from ...nodes.routes import via
from ...workloads import Invocation, Result
from .. import base
from .topology import (
    PORT,
    Persistence,
    admin,
    provision,
    served_version,
    server_spec,
    server_version,
)

NODE_TIMEOUT_MS = 2000  # cluster-node-timeout
CRON_S = 0.1  # clusterCron runs ten times a second
ELECTION_DELAY_MAX_S = 1.0  # 500 ms + random(0..500) ms, rank 0


def cluster_rto_bound_s(node_timeout_ms: int = NODE_TIMEOUT_MS) -> float:
    """The longest a primary's slots stay without a primary after it dies, from the cluster's
    own settings (see the module docstring): detection (1.5 x node timeout), the replica's
    election delay, one election, and the cron's period."""
    t = node_timeout_ms / 1000
    return 1.5 * t + ELECTION_DELAY_MAX_S + max(2 * t, 2.0) + CRON_S


@dataclass(frozen=True)
class RedisClusterInfo:
    addresses: dict[str, str]  # server name -> address
    primaries: dict[str, str]  # primary name -> its replica's name, as created
    slots: dict[str, list[tuple[int, int]]]  # primary name -> its slot ranges


@dataclass
class ClusterTopology(base.Topology[RedisClusterInfo]):
    """``shards`` primaries with ``replicas`` replicas each, as ``redis-cli --cluster create``
    lays them out (the first ``shards`` servers are the primaries)."""

    backend: ClassVar[str] = "redis"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)

    shards: int = 3
    replicas: int = 1
    node_timeout_ms: int = NODE_TIMEOUT_MS
    persistence: Persistence = field(default_factory=Persistence)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"cluster": f"{self.shards} primaries x {self.replicas} replica(s)",
                             "cluster_node_timeout_ms": self.node_timeout_ms,
                             **self.persistence.describe()}
        if version := server_version():
            d["version"] = version
        return d

    def provision(self) -> None:
        provision()

    def served_version(self, info: RedisClusterInfo) -> str | None:
        return served_version(next(iter(info.addresses.values())))

    def node_names(self, runtime: str) -> list[str]:
        return [f"n{i}" for i in range(1, self.shards * (1 + self.replicas) + 1)]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        extra = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", str(self.node_timeout_ms))
        return [server_spec(n, a, self.persistence, None, extra)
                for n, a in start.addresses.items()]

    def ready(self, start: base.Start) -> RedisClusterInfo:
        addresses = dict(start.addresses)
        hosts = [f"{a}:{PORT}" for a in addresses.values()]
        out = subprocess.run(["redis-cli", "--cluster", "create", *hosts, "--cluster-replicas",
                              str(self.replicas), "--cluster-yes"],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed ({out.returncode}): "
                               f"{out.stdout[-2000:]}{out.stderr[-2000:]}")
        by_address = {a: n for n, a in addresses.items()}
        deadline = time.monotonic() + 60
        while True:
            layout = _layout(addresses, by_address)
            if layout is not None and len(layout[0]) == self.shards and all(
                    layout[0].values()):
                primaries, slots = layout
                return RedisClusterInfo(addresses, primaries, slots)
            if time.monotonic() > deadline:
                raise TimeoutError(f"Redis Cluster not formed in 60 s: {layout}")
            time.sleep(0.2)


def _layout(addresses: dict[str, str], by_address: dict[str, str]
            ) -> tuple[dict[str, str], dict[str, list[tuple[int, int]]]] | None:
    """Primaries (with their replica) and slots when every node says the cluster is ok and
    knows every other one as connected; None otherwise."""
    import redis

    for address in addresses.values():
        r = admin(address)
        try:
            if "cluster_state:ok" not in _text(r.execute_command("CLUSTER", "INFO")):
                return None
        except redis.RedisError:
            return None
        finally:
            r.close()
    r = admin(next(iter(addresses.values())))
    try:
        raw = r.execute_command("CLUSTER", "NODES")
    except redis.RedisError:
        return None
    finally:
        r.close()
    text = _text(raw)
    ids: dict[str, str] = {}
    rows = [line.split() for line in text.splitlines() if line.strip()]
    for row in rows:
        ids[row[0]] = by_address.get(row[1].split(":")[0], row[1])
        if "connected" not in row[7]:
            return None
    primaries: dict[str, str] = {}
    slots: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        name = ids[row[0]]
        if "master" in row[2]:
            primaries.setdefault(name, "")
            slots[name] = [(int(s.split("-")[0]), int(s.split("-")[-1])) for s in row[8:]
                           if not s.startswith("[")]
    for row in rows:
        if "slave" in row[2] and row[3] in ids:
            primaries[ids[row[3]]] = ids[row[0]]
    return primaries, slots


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def cluster_converged(cluster: Cluster[RedisClusterInfo]) -> bool:
    """Every server answers and says the cluster is ok, and every slot range has a primary
    with a connected replica: the moment final reads mean something."""
    by_address = {a: n for n, a in cluster.info.addresses.items()}
    layout = _layout(cluster.info.addresses, by_address)
    return layout is not None and all(layout[0].values())


class ClusterClient:
    """redis-py's RedisCluster (slot map, MOVED/ASK redirections) for the set and register
    workloads, without retries of its own: a refused connection is ``fail``, a timeout or a
    reset after the command was sent is ``info``. The client refreshes its slot map after an
    error, as cluster clients do."""

    def __init__(self, addresses: dict[str, str], timeout: float = 1.0):
        self._by_host = {via(a, PORT)[0]: n for n, a in addresses.items()}
        self.addresses, self.timeout = addresses, timeout
        self._rc: Any = None

    def _cluster(self) -> Any:
        """The RedisCluster, made at the first call: making it reads the slot map from the
        startup nodes, which fails while they are down (an error of that call, not of the
        worker that makes a new client)."""
        if self._rc is None:
            from redis.backoff import NoBackoff
            from redis.cluster import ClusterNode, RedisCluster
            from redis.retry import Retry

            self._rc = RedisCluster(
                startup_nodes=[ClusterNode(*via(a, PORT)) for a in self.addresses.values()],
                socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0), require_full_coverage=False)
        return self._rc

    def _node(self, key: Any) -> str | None:
        if self._rc is None:
            return None
        try:
            node = self._rc.get_node_from_key(str(key))
        except Exception:  # no slot map at the moment: the node is unknown
            return None
        return None if node is None else str(self._by_host.get(node.host, node.host))

    def invoke(self, op: Invocation) -> Result:
        import redis

        try:
            rc = self._cluster()
        except Exception as e:  # no startup node answered: nothing was sent
            return Result("fail", error=f"no slot map: {type(e).__name__}: {e}")
        try:
            if op.f == "read" and str(op.key).startswith("set:"):
                members = rc.smembers(op.key)
                return Result("ok", sorted(int(m) for m in members), node=self._node(op.key))
            if op.f == "read":
                raw = rc.get(op.key)
                return Result("ok", None if raw is None else int(raw), node=self._node(op.key))
            if op.f == "add":
                rc.sadd(op.key, op.value)
            elif op.f == "write":
                rc.set(op.key, op.value)
            else:
                raise ValueError(f"ClusterClient: no operation {op.f!r}")
            return Result("ok", node=self._node(op.key))
        except redis.ConnectionError as e:
            sent = "refused" not in str(e).lower() and op.f != "read"
            return Result("info" if sent else "fail", error=str(e), node=self._node(op.key))
        except redis.TimeoutError as e:
            return Result("fail" if op.f == "read" else "info", error=str(e),
                          node=self._node(op.key))
        except redis.RedisError as e:  # CLUSTERDOWN, TRYAGAIN, READONLY: refused
            return Result("fail", error=str(e), node=self._node(op.key))

    def close(self) -> None:
        if self._rc is not None:
            self._rc.close()


def _node_id(address: str) -> str:
    r = admin(address, timeout=2)
    try:
        return _text(r.execute_command("CLUSTER", "MYID"))
    finally:
        r.close()


def _slot_count(address: str, node_id: str) -> int:
    r = admin(address, timeout=2)
    try:
        rows = [line.split() for line in _text(r.execute_command("CLUSTER", "NODES"))
                .splitlines() if line.strip()]
    finally:
        r.close()
    mine = [row for row in rows if row[0] == node_id]
    if not mine:
        return 0
    return sum(int(s.split("-")[-1]) - int(s.split("-")[0]) + 1
               for s in mine[0][8:] if not s.startswith("["))


@dataclass
class Reshard:
    """Resharding under traffic: ``redis-cli --cluster reshard`` moves ``slots`` hash slots
    (with their keys, by MIGRATE) from one primary to another. ``start`` launches it; ``stop``
    waits for it to end and proves the move: the target then owns ``slots`` more slots, as
    the source node itself reports."""

    cluster: Cluster[RedisClusterInfo]
    source: str
    target: str
    slots: int = 2000
    timeout_s: float = 120.0
    name: str = "reshard"
    _proc: subprocess.Popen[str] | None = None
    _before: int = 0
    _ids: tuple[str, str] = ("", "")

    def start(self) -> Any:
        addresses = self.cluster.info.addresses
        self._ids = (_node_id(addresses[self.source]), _node_id(addresses[self.target]))
        self._before = _slot_count(addresses[self.source], self._ids[1])
        self._proc = subprocess.Popen(
            ["redis-cli", "--cluster", "reshard", f"{addresses[self.source]}:{PORT}",
             "--cluster-from", self._ids[0], "--cluster-to", self._ids[1],
             "--cluster-slots", str(self.slots), "--cluster-yes"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return {"from": self.source, "to": self.target, "slots": self.slots}

    def stop(self) -> Any:
        from ...faults import FaultNotEffective

        proc, self._proc = self._proc, None
        if proc is None:
            return None
        out, _ = proc.communicate(timeout=self.timeout_s)
        if proc.returncode != 0:
            raise FaultNotEffective(f"redis-cli --cluster reshard failed ({proc.returncode}): "
                                    f"{out[-2000:]}")
        after = _slot_count(self.cluster.info.addresses[self.source], self._ids[1])
        if after - self._before < self.slots:
            raise FaultNotEffective(f"{self.target} owns {after} slots after the reshard, "
                                    f"{after - self._before} more, not {self.slots}")
        return {"target_slots": after}


def keys_moved(f: str = "add") -> Any:
    """Exercise rule of resharding: acknowledged ``f`` calls of some key served by one node
    before and another after (its slot moved under traffic), and calls made during every
    window."""
    from ...checkers.judge import Exercise, client_ops, described, ops_in_every_window

    def rule(history: Any, verdicts: Any) -> Exercise:
        during = ops_in_every_window(None, f)(history, verdicts)
        if not during.done:
            return during
        nodes: dict[Any, set[str]] = {}
        for c in client_ops(history):
            if c.f == f and c.type == "ok" and c.completion is not None \
                    and c.completion.node is not None:
                nodes.setdefault(c.key, set()).add(str(c.completion.node))
        moved = sorted(str(k) for k, ns in nodes.items() if len(ns) > 1)
        if not moved:
            return Exercise(False, f"no key's {f}s were served by two nodes: no slot with "
                                   "our keys moved")
        return Exercise(True, f"{len(moved)} keys moved under traffic ({', '.join(moved)}); "
                              f"{during.why}")

    return described(rule, f"{f}s to keys whose slots moved, served before and after")
