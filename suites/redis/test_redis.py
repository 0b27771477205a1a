"""Redis claims (claims.md §6) against real redis-server and redis-sentinel processes.

Run: ``pytest --sdconform suites/redis``. Each test names its claim; where a claim holds only
under some configuration, the test says which and what it expects there.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pytest_sdconform.backends import redis as rb
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.faults.latency import Latency, RoundTrip
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("redis")

RDB_DEFAULT = rb.Persistence(appendonly=False, save="3600 1 300 100 60 10000")
AOF_ALWAYS = rb.Persistence(appendonly=True, appendfsync="always")


def fixed(address: str) -> Any:
    return lambda: address


@pytest.mark.claim("redis-single-threaded")
def test_single_node_is_linearizable_under_client_latency(sdconform: Any) -> None:
    cluster = sdconform.start(rb.Topology())
    primary = cluster.info["addresses"]["n1"]
    proxies = cluster.toxiproxy()
    proxy = proxies.proxy("redis", f"{primary}:{rb.PORT}")
    latency = Latency(proxies.client, [proxy], ms=50, jitter_ms=20,
                      probe=RoundTrip(payload=b"PING\r\n", timeout=3))
    through = fixed(proxy.host)

    def client(i: int) -> rb.RedisClient:
        return rb.RedisClient(through, through, timeout=1.0, port=proxy.port)

    sdconform.run(Register(keys=2), client, [latency], decide_by=["linearizable"],
                  config={"path": "client -> toxiproxy -> redis"})


def spof(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Every call made while the only node was down failed."""
    windows = [w for w in history.fault_windows() if w.fault == "kill"]
    inside = [c for c in history.complete() if any(
        w.start <= c.invoke.time and c.end is not None and (w.end is None or c.end < w.end)
        for w in windows)]
    ok = [c for c in inside if c.type == "ok"]
    if not inside:
        return INCONCLUSIVE, "no call was made while the node was down"
    if ok:
        return REFUTED, f"{len(ok)} of {len(inside)} calls succeeded while the node was down"
    return UPHELD, f"all {len(inside)} calls made while the node was down failed"


@pytest.mark.claim("redis-single-instance-spof")
def test_a_single_instance_is_a_single_point_of_failure(sdconform: Any) -> None:
    cluster = sdconform.start(rb.Topology())
    primary = fixed(cluster.info["addresses"]["n1"])
    sdconform.run(Register(keys=2), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], judge=spof, fault_duration=2.0, quiet=1.0)


@pytest.mark.claim("redis-persistence-no-loss")
def test_rdb_snapshots_lose_acknowledged_writes_on_a_crash(sdconform: Any) -> None:
    """Redis's default persistence (RDB snapshots): a kill loses what came after the last one."""
    cluster = sdconform.start(rb.Topology(persistence=RDB_DEFAULT))
    primary = fixed(cluster.info["addresses"]["n1"])
    sdconform.run(SetAdd(), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], need_overlap=False, fault_duration=1.0, quiet=1.5)


@pytest.mark.claim("redis-persistence-no-loss", expected="upheld")
def test_aof_always_keeps_acknowledged_writes_through_a_crash(sdconform: Any) -> None:
    """appendfsync always: each write is on disk before it is acknowledged. (A kill is a
    process crash; power loss, which also drops the page cache, needs LazyFS: not tested.)"""
    cluster = sdconform.start(rb.Topology(persistence=AOF_ALWAYS))
    primary = fixed(cluster.info["addresses"]["n1"])
    sdconform.run(SetAdd(), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], need_overlap=False, fault_duration=1.0, quiet=1.5)


def replicated(sdconform: Any) -> tuple[Any, str, list[str]]:
    cluster = sdconform.start(rb.Topology(replicas=2))
    addresses = cluster.info["addresses"]
    replicas = [addresses[n] for n in ("n2", "n3")]
    return cluster, addresses["n1"], replicas


@pytest.mark.claim("redis-ha-replica-failover", expected="refuted")
def test_replica_reads_break_read_your_writes_under_partition(sdconform: Any) -> None:
    """Reading from replicas "to scale reads": a replica cut from the primary serves stale data."""
    cluster, primary, replicas = replicated(sdconform)
    cut = sdconform.fault(lambda: cluster.partition(
        cuts=[isolate(["n1", "n2", "n3"], "n2"), isolate(["n1", "n2", "n3"], "n3")]))
    order = itertools.cycle(replicas)

    def client(i: int) -> rb.RedisClient:
        mine = next(order)
        return rb.RedisClient(fixed(primary), fixed(mine), timeout=0.5)

    sdconform.run(Register(keys=1, read_ratio=0.7), client, [cut], decide_by=["sessions"],
                  config={"reads": "replicas", "writes": "primary"})


@pytest.mark.claim("redis-sticky-primary-ryw")
def test_primary_reads_keep_read_your_writes_while_a_replica_is_cut(sdconform: Any) -> None:
    cluster, primary, _ = replicated(sdconform)
    cut = sdconform.fault(lambda: cluster.partition(
        cuts=[isolate(["n1", "n2", "n3"], "n2"), isolate(["n1", "n2", "n3"], "n3")]))
    sdconform.run(Register(keys=2), lambda i: rb.RedisClient(fixed(primary), fixed(primary)),
                  [cut], decide_by=["sessions", "linearizable"],
                  config={"reads": "primary", "writes": "primary"})
