"""The backend shape: the registry finds every backend, a topology refuses a runtime it cannot
run on, and the external runtime offers no fault, each with its reason."""

from __future__ import annotations

import random
import shutil

import pytest

from pytest_sdconform.backends import registry
from pytest_sdconform.backends.redis import RedisInfo, admin
from pytest_sdconform.backends.redis import Topology as RedisTopology
from pytest_sdconform.faults import FaultUnavailable
from pytest_sdconform.nodes import NodeSpec
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run
from pytest_sdconform.runtimes import CAPABILITIES, RuntimeUnsupported
from pytest_sdconform.runtimes.choice import open_runtime
from pytest_sdconform.runtimes.external import ExternalRuntime


def test_the_registry_finds_every_backend_package_and_no_other() -> None:
    assert registry.names() == ["aws", "caching", "cassandra", "kafka", "memcached", "mongodb",
                                "mqtt", "nginx", "pipelines", "postgres", "redis", "sse",
                                "transport", "vip"]
    for name in registry.names():
        backend = registry.load(name)
        assert backend.Topology.backend == name
    with pytest.raises(ValueError, match=r"unknown backend 'mongo'; known: aws"):
        registry.load("mongo")


def test_a_topology_refuses_a_runtime_it_cannot_run_on(run: Run, block: AddressBlock) -> None:
    why = "redis runs on the local or docker runtime, not external"
    with pytest.raises(RuntimeUnsupported, match=why):
        RedisTopology().start(run, block, runtime="external")


def test_the_external_runtime_offers_no_fault_and_says_why(run: Run) -> None:
    runtime = ExternalRuntime(run)
    assert set(runtime.capabilities()) == set(CAPABILITIES)
    assert all(why for why in runtime.capabilities().values())
    with pytest.raises(FaultUnavailable, match="no node of ours"):
        runtime.partition([], ["isolate"], random.Random(0))
    with pytest.raises(ValueError, match="starts no nodes"):
        runtime.start([NodeSpec("n1", "127.0.0.1", ["true"])])


def test_an_unknown_runtime_is_named(run: Run) -> None:
    known = "known: local, docker, external"
    with pytest.raises(ValueError, match=f"unknown runtime 'podman'; {known}"):
        open_runtime("podman", run)


@pytest.mark.integration
def test_a_cluster_on_the_base_has_typed_info_and_reaches_clock_skew(
        run: Run, block: AddressBlock) -> None:
    """Clock skew is a fault of the cluster like the others: a topology that starts its nodes
    skewable (``NodeSpec.clock``) lets ``cluster.clock_skew`` move a node's wall clock."""
    for tool, why in (("redis-server", "apt-get install redis-server"),
                      ("gcc", "the clock shim is compiled with it")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: {why}")
    cluster = RedisTopology(replicas=1, skew_clocks=True).start(run, block, seed=1)
    try:
        assert cluster.info == RedisInfo("n1", {"n1": block.node(1), "n2": block.node(2)})
        assert cluster.runtime.capabilities()["clock"] is None
        assert cluster.runtime.capabilities()["proxied-link"] is None  # loopback: reached
        cluster.link_through(cluster.harness, 1)
        replica = admin(cluster.info.addresses["n2"], timeout=5)

        def replica_clock() -> float:
            seconds, micros = replica.time()
            return float(seconds + micros / 1e6)

        skew = cluster.clock_skew({"n2": 300_000}, probes={"n2": replica_clock})
        started = skew.start()
        assert abs(started["observed_ms"]["n2"] - 300_000) < 1000
        stopped = skew.stop()
        assert abs(stopped["observed_ms"]["n2"]) < 1000
        replica.close()
    finally:
        cluster.stop()


@pytest.mark.integration
def test_a_cluster_started_without_skewable_clocks_says_so(run: Run, block: AddressBlock) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    cluster = RedisTopology().start(run, block, seed=1)
    try:
        with pytest.raises(FaultUnavailable, match="no node was started with a skewable clock"):
            cluster.clock_skew(1000)
    finally:
        cluster.stop()
