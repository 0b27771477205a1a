"""The memcached client: what each failure means (fail: surely not done; info: maybe), and, on
three real servers, that a key lives on the one server the client's hash chose."""

from __future__ import annotations

import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_sdconform.backends import memcached as mc
from pytest_sdconform.backends.memcached import topology
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run
from pytest_sdconform.workloads import Invocation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_connection_fails_reads_and_writes_naming_the_server() -> None:
    client = mc.MemcachedClient({"n1": ("127.0.0.1", free_port())}, timeout=0.5)
    try:
        write = client.invoke(Invocation("write", "k", 1))
        read = client.invoke(Invocation("read", "k"))
    finally:
        client.close()
    assert (write.type, write.node) == ("fail", "n1")
    assert (read.type, read.node) == ("fail", "n1")


def test_a_server_that_never_answers_leaves_a_write_unknown_and_fails_a_read() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        client = mc.MemcachedClient({"n1": silent.getsockname()}, timeout=0.2)
        try:
            write = client.invoke(Invocation("write", "k", 1))
            read = client.invoke(Invocation("read", "k"))
        finally:
            client.close()
    assert write.type == "info" and "timeout" in str(write.error).lower()
    assert read.type == "fail"


def test_a_ring_must_name_known_servers() -> None:
    servers = {"n1": ("127.0.0.1", 1), "n2": ("127.0.0.1", 2)}
    with pytest.raises(ValueError, match="unknown: \\['n3'\\]"):
        mc.MemcachedClient(servers, ring=["n1", "n3"])
    with pytest.raises(ValueError, match="must name some"):
        mc.MemcachedClient(servers, ring=[])
    with pytest.raises(ValueError, match="no servers"):
        mc.MemcachedClient({})
    with pytest.raises(ValueError, match="drop_failed_s"):
        mc.MemcachedClient(servers, drop_failed_s=-1)


def test_an_operation_it_does_not_know_is_refused() -> None:
    client = mc.MemcachedClient({"n1": ("127.0.0.1", free_port())})
    with pytest.raises(ValueError, match="no operation 'cas'"):
        client.invoke(Invocation("cas", "k", [1, 2]))


def test_readiness_is_an_answer_to_version_not_an_open_port() -> None:
    assert not mc.Version("127.0.0.1", free_port())()  # nothing listens
    with socket.socket() as silent:  # a port that accepts but never speaks memcached
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        assert not mc.Version(*silent.getsockname())()
    assert str(mc.Version("127.0.0.1")) == "memcached version at 127.0.0.1:11211"


def test_a_topology_needs_a_server() -> None:
    with pytest.raises(ValueError, match="at least one server"):
        mc.Topology(servers=0)


def test_the_release_is_what_memcached_v_reports_and_never_guessed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "memcached"
    fake.write_text("#!/bin/sh\necho 'memcached 1.6.18'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(topology, "_versions", {})
    assert mc.Topology().describe()["version"] == "1.6.18"
    monkeypatch.setattr(topology, "_versions", {})
    fake.write_text("#!/bin/sh\necho 'something else'\n")
    assert mc.server_version() is None
    fake.unlink()
    assert "version" not in mc.Topology().describe()


# --- three real servers -----------------------------------------------------------------------


@pytest.fixture
def cluster(run: Run, block: AddressBlock) -> Iterator[Cluster[mc.MemcachedInfo]]:
    if shutil.which("memcached") is None:
        pytest.skip("no memcached on PATH (apt-get install memcached)")
    c = mc.Topology().start(run, block)
    try:
        yield c
    finally:
        c.stop()


@pytest.mark.integration
def test_each_key_lives_on_the_one_server_the_hash_chose(
        cluster: Cluster[mc.MemcachedInfo]) -> None:
    servers = cluster.info.servers()
    client = mc.MemcachedClient(servers, survey=True)
    try:
        placed = {}
        for i in range(30):
            done = client.invoke(Invocation("write", f"k{i}", i))
            assert done.type == "ok"
            placed[f"k{i}"] = done.node
        for key, node in placed.items():
            read = client.invoke(Invocation("read", key))
            assert (read.type, read.node, read.value) == ("ok", node, int(key[1:]))
            holders = {n for n, v in (read.extra or {})["copies"].items() if v is not None}
            assert holders == {node}
    finally:
        client.close()
    assert set(placed.values()) == {"n1", "n2", "n3"}


@pytest.mark.integration
def test_a_ring_without_a_server_never_sends_it_a_key(
        cluster: Cluster[mc.MemcachedInfo]) -> None:
    client = mc.MemcachedClient(cluster.info.servers(), ring=["n1", "n2"])
    try:
        nodes = {client.invoke(Invocation("write", f"k{i}", i)).node for i in range(30)}
    finally:
        client.close()
    assert nodes == {"n1", "n2"}


@pytest.mark.integration
def test_a_dead_servers_keys_fail_or_move_as_the_client_is_told(
        cluster: Cluster[mc.MemcachedInfo]) -> None:
    servers = cluster.info.servers()
    fixed = mc.MemcachedClient(servers)
    moving = mc.MemcachedClient(servers, drop_failed_s=60)
    try:
        key = next(f"k{i}" for i in range(100)
                   if fixed.invoke(Invocation("write", f"k{i}", i)).node == "n1")
        cluster.kill(["n1"]).start()
        assert [fixed.invoke(Invocation("read", key)).type for _ in range(2)] == ["fail", "fail"]
        first = moving.invoke(Invocation("read", key))
        then = moving.invoke(Invocation("read", key))
    finally:
        fixed.close()
        moving.close()
    assert (first.type, first.node) == ("fail", "n1")
    assert then.type == "ok" and then.node != "n1" and then.value is None
