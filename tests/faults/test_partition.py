"""Partitions with real processes and real dropped packets: every shape blocks exactly its pairs,
in both directions, as seen by servers that really listen, and heals."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import http_node, needs_netfilter

from pytest_sdconform.faults.netfilter import Netfilter, unavailable_reason
from pytest_sdconform.faults.partition import (
    SHAPES,
    Partition,
    between,
    halves,
    isolate,
    majorities_ring,
    make_cut,
    probe_all,
)
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run
from pytest_sdconform.runtimes.local import LocalRuntime, NodeSpec

NODES = ["n1", "n2", "n3", "n4", "n5"]


def test_shapes() -> None:
    rng = random.Random(3)
    assert isolate(NODES, "n2").blocked == {
        (a, b) for a in NODES for b in NODES if a != b and "n2" in (a, b)
    }
    cut = halves(NODES, rng)
    assert sorted(map(len, cut.groups)) == [2, 3] and cut.blocked == between(cut.groups)
    ring = majorities_ring(NODES, rng)
    for node in NODES:  # each node sees a majority (itself and two others), no two the same
        seen = {b for b in NODES if (node, b) not in ring.blocked}
        assert len(seen) == 3
    views = [frozenset(b for b in NODES if (a, b) not in ring.blocked) for a in NODES]
    assert len(set(views)) == 5
    one_way = make_cut("one-way", NODES, rng)
    assert len(one_way.blocked) == 4 and not any(
        (b, a) in one_way.blocked for a, b in one_way.blocked
    )
    with pytest.raises(ValueError, match="unknown partition shape"):
        make_cut("triangle", NODES, rng)


def test_without_root_partitions_are_unavailable_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert "root" in str(unavailable_reason())


@pytest.fixture
def cluster(
    run: Run, block: AddressBlock
) -> Iterator[tuple[Partition, dict[str, str], LocalRuntime]]:
    netfilter = Netfilter(run)
    addresses = {n: block.node(i) for i, n in enumerate(NODES, 1)}
    cgroups = {n: netfilter.add_node(n, a) for n, a in addresses.items()}
    runtime = LocalRuntime(run, cgroups=lambda spec: cgroups[spec.name])
    try:
        runtime.start([http_node(n, a) for n, a in addresses.items()])
        yield Partition(netfilter, addresses, cgroups, rng=random.Random(7)), addresses, runtime
    finally:
        runtime.stop_all()
        netfilter.close()


@needs_netfilter
@pytest.mark.integration
@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_blocks_exactly_its_pairs_and_heals(
    cluster: tuple[Partition, dict[str, str], LocalRuntime], shape: str
) -> None:
    partition, addresses, _ = cluster
    cut = make_cut(shape, NODES, random.Random(11))
    partition.start(cut)  # raises unless the probes agree with the shape
    expected = cut.blocked | {(b, a) for a, b in cut.blocked}  # TCP needs both directions
    seen = probe_all(partition.cgroups, addresses, port=8000)  # servers that really listen
    for a in NODES:
        for b in NODES:
            if a != b:
                assert seen[a][addresses[b]] == ("blocked" if (a, b) in expected else "open"), (
                    a,
                    b,
                )
    assert partition.netfilter.dropped() == {(addresses[a], addresses[b]) for a, b in cut.blocked}
    partition.stop()
    assert partition.netfilter.dropped() == set()
    seen = probe_all(partition.cgroups, addresses, port=8000)
    assert all(v == "open" for row in seen.values() for v in row.values())
    partition.stop()  # idempotent


PEER_SERVER = """
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 7000)); s.listen()
print("listening", flush=True)
while True:
    c, peer = s.accept(); print("peer", peer[0], flush=True); c.close()
"""


@needs_netfilter
@pytest.mark.integration
def test_node_traffic_leaves_from_the_node_address(run: Run, block: AddressBlock) -> None:
    """Without SNAT the peer would be 127.0.0.1: the reason rules on node addresses work."""
    netfilter = Netfilter(run)
    a, b = block.node(1), block.node(2)
    cgroups = {"n1": netfilter.add_node("n1", a), "n2": netfilter.add_node("n2", b)}
    runtime = LocalRuntime(run, cgroups=lambda spec: cgroups[spec.name])
    try:
        (server,) = runtime.start([NodeSpec("n2", b, [sys.executable, "-c", PEER_SERVER, b])])
        deadline = time.monotonic() + 10
        while "listening" not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        probe_all({"n1": cgroups["n1"]}, {"n2": b}, port=7000)
        while "peer" not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f"peer {a}" in server.log.read_text()
    finally:
        runtime.stop_all()
        netfilter.close()
