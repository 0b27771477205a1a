"""The docker runtime: its container command, the image recipes, and — with an engine
(``DOCKER_HOST``, e.g. ``sdconform engine start``) — real containers killed, paused, partitioned
and removed, also after the run that made them was SIGKILLed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_sdconform import images
from pytest_sdconform.faults import FaultUnavailable
from pytest_sdconform.nodes import NodeSpec
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run
from pytest_sdconform.runtimes import RuntimeUnsupported
from pytest_sdconform.runtimes.container import entrypoint


def test_the_container_command_runs_setup_once_then_becomes_the_user() -> None:
    spec = NodeSpec("n1", "10.0.0.2", ["postgres", "-D", "pgdata"], user="postgres",
                    setup=[["initdb", "-D", "pgdata"]])
    argv = entrypoint(spec)
    script = argv[2]
    assert argv[:2] == ["/bin/sh", "-c"] and argv[4:] == ["postgres", "-D", "pgdata"]
    assert "chown postgres: /sdconform/data" in script
    assert "[ -e .sdconform-setup ] ||" in script and "initdb -D pgdata" in script
    assert script.rstrip().endswith('exec setpriv --reuid=postgres --regid=postgres '
                                    '--init-groups -- "$@"')


def test_a_node_without_user_or_setup_just_runs() -> None:
    script = entrypoint(NodeSpec("n1", "10.0.0.2", ["redis-server"]))[2]
    assert "setup" not in script and script.rstrip().endswith('exec "$@"')


def test_each_image_role_is_debian_packages_on_our_base() -> None:
    recipe = images.dockerfile("redis")
    assert recipe.startswith(f"FROM {images.BASE}\n") and "redis-server" in recipe
    assert images.resolve("redis") == images.tag("redis")
    assert images.resolve("redis", {"redis": "redis:7.0"}) == "redis:7.0"
    with pytest.raises(ValueError, match="unknown image role 'mongo'"):
        images.tag("mongo")


class Engine:
    """What ``images`` asks of an engine's client: the images it has, pulls and builds (a
    stand-in for a registry, which this machine cannot reach)."""

    def __init__(self, has: set[str], pullable: set[str]):
        self.has, self.pullable, self.pulled, self.built = has, pullable, [], []
        self.images = self

    def get(self, name: str) -> Any:
        import docker.errors

        if name not in self.has:
            raise docker.errors.ImageNotFound(name)
        return name

    def pull(self, repository: str, tag: str | None = None) -> Any:
        name = f"{repository}:{tag}" if tag else repository
        if name not in self.pullable:
            raise RuntimeError(f"pull access denied for {name}")
        self.pulled.append(name)
        self.has.add(name)
        engine = self

        class Pulled:
            def tag(self, repository: str, tag: str) -> None:
                engine.has.add(f"{repository}:{tag}")

        return Pulled()

    def build(self, fileobj: Any, tag: str, **_: Any) -> None:
        self.built.append(tag)
        self.has.add(tag)


def test_images_are_built_on_first_use_from_the_official_base_without_root(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("docker")
    client = Engine(set(), {images.OFFICIAL_BASE})
    monkeypatch.setattr(images.os, "geteuid", lambda: 1000)  # a CI runner's user
    assert images.ensure(client, "redis") == images.tag("redis")
    assert client.pulled == [images.OFFICIAL_BASE] and images.BASE in client.has
    assert client.built == [images.tag("net"), images.tag("redis")]
    assert images.ensure(client, "redis") == images.tag("redis")  # there now: nothing again
    assert client.built == [images.tag("net"), images.tag("redis")]


def test_an_image_of_the_users_is_pulled_or_said_missing() -> None:
    pytest.importorskip("docker")
    from pytest_sdconform.provision import ProvisionError

    client = Engine(set(), {"redis:7.0.15"})
    assert images.ensure(client, "redis", {"redis": "redis:7.0.15"}) == "redis:7.0.15"
    with pytest.raises(ProvisionError, match="postgres:15 is not in the engine and could not "
                                             "be pulled: pull access denied"):
        images.ensure(client, "postgres", {"postgres": "postgres:15"})


def test_without_an_engine_the_runtime_says_where_it_looked(
        run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("docker")
    from pytest_sdconform.runtimes.choice import open_runtime

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(RuntimeUnsupported, match="no Docker engine answers at unix://"):
        open_runtime("docker", run)


def test_faults_that_share_host_folders_need_the_engine_on_this_machine() -> None:
    from pytest_sdconform.runtimes.engines import elsewhere

    linux = {"OperatingSystem": "Debian GNU/Linux 12 (bookworm)"}
    assert elsewhere("", linux) is None
    assert elsewhere("unix:///tmp/sdconform/engine/docker.sock", linux) is None
    assert elsewhere("tcp://10.0.0.5:2376", linux) == \
        "the engine at tcp://10.0.0.5:2376 is on another machine"
    assert elsewhere("ssh://ci@builder", linux) is not None
    assert elsewhere("", {"OperatingSystem": "Docker Desktop"}) == \
        "the engine runs in Docker Desktop's VM"


def test_nodes_that_read_host_folders_need_an_engine_that_can_mount_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_sdconform.runtimes.engines import shared_unavailable

    jars = NodeSpec("n1", "10.0.0.2", ["java"], image="java", shared=[Path("/cache/kafka")])
    assert shared_unavailable("", jars) is None
    assert shared_unavailable("unix:///tmp/docker.sock", jars) is None
    assert "cannot mount" in str(shared_unavailable("tcp://builder:2376", jars))
    assert shared_unavailable("tcp://builder:2376", NodeSpec("n1", "10.0.0.2", ["redis"])) is None
    app = NodeSpec("a1", "10.0.0.3", ["python3"], image="python", shared=[Path("/usr")])
    monkeypatch.setattr("sys.platform", "darwin")
    assert "cannot run in a Linux container" in str(shared_unavailable("", app))
    assert shared_unavailable("", jars) is None  # Docker Desktop shares the Mac's folders


def test_published_ports_are_on_the_engines_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_sdconform.runtimes.gateway import published_host

    monkeypatch.delenv("SDCONFORM_DOCKER_PUBLISHED_HOST", raising=False)
    assert published_host("") == "127.0.0.1"  # Docker Desktop: the Mac's own loopback
    assert published_host("unix:///var/run/docker.sock") == "127.0.0.1"
    assert published_host("tcp://builder.lan:2376") == "builder.lan"
    assert published_host("ssh://ci@10.0.0.7") == "10.0.0.7"
    monkeypatch.setenv("SDCONFORM_DOCKER_PUBLISHED_HOST", "10.1.2.3")
    assert published_host("tcp://builder.lan:2376") == "10.1.2.3"


def test_routes_translate_node_ports_both_ways() -> None:
    from pytest_sdconform.nodes import routes

    assert routes.via("172.30.0.2", 6379) == ("172.30.0.2", 6379)  # not published: direct
    routes.publish("172.30.0.2", 6379, "127.0.0.1", 49153)
    try:
        assert routes.via("172.30.0.2", 6379) == ("127.0.0.1", 49153)
        assert routes.origin("127.0.0.1", 49153) == "172.30.0.2"
        assert routes.origin("127.0.0.1", 5432) == "127.0.0.1"
        assert routes.url("http", "172.30.0.2", 6379, "/x") == "http://127.0.0.1:49153/x"
    finally:
        routes.forget({"172.30.0.2"})
    assert routes.via("172.30.0.2", 6379) == ("172.30.0.2", 6379)


# --- with an engine ---------------------------------------------------------------------------


@pytest.fixture
def engine() -> Iterator[Any]:
    pytest.importorskip("docker")
    from pytest_sdconform.runtimes.engines import engine as connect

    try:
        client = connect()
    except RuntimeUnsupported as e:
        pytest.skip(str(e))
    if not images.have(client, images.tag("redis")):
        pytest.skip(f"{images.tag('redis')} is not built (sdconform images build redis)")
    yield client


def labelled(client: Any, run_id: str) -> list[str]:
    selector = {"label": f"sdconform.run={run_id}"}
    return ([c.name for c in client.containers.list(all=True, filters=selector)]
            + [v.name for v in client.volumes.list(filters=selector)]
            + [n.name for n in client.networks.list(filters=selector)])


@pytest.mark.integration
def test_redis_in_containers_is_killed_paused_partitioned_and_removed(
        engine: Any, run: Run, block: AddressBlock) -> None:
    from pytest_sdconform.backends import redis as rb
    from pytest_sdconform.faults.partition import isolate

    cluster = rb.Topology(replicas=1).start(run, block, seed=1, runtime="docker")
    try:
        primary = rb.admin(cluster.info.addresses["n1"], timeout=5)
        primary.set("kept", 1)
        primary.execute_command("SAVE")
        kill = cluster.kill(["n1"])
        assert kill.start() == {"nodes": ["n1"], "how": "container"}
        kill.stop()
        assert rb.admin(cluster.info.addresses["n1"], timeout=5).get("kept") == b"1"  # volume
        pause = cluster.pause(["n2"])
        assert pause.start() == {"nodes": ["n2"], "how": "cgroup freezer"}
        pause.stop()
        paused = cluster.pause(["n2"])  # a paused container is killed as it is
        paused.start()
        kill = cluster.kill(["n2"])
        kill.start()
        kill.stop()
        assert not cluster.nodes["n2"].is_paused()
        cut = cluster.partition(cuts=[isolate(["n1", "n2"], "n1")])
        cut.start()
        # A restart makes a new network namespace: the cut is put back in it.
        restart = cluster.kill(["n1"])
        restart.start()
        restart.stop()
        assert cut.observe() == {("n1", "n2"), ("n2", "n1")}
        cut.stop()
        assert cut.observe() == set()
    finally:
        cluster.stop()
    assert labelled(engine, run.id) == []


@pytest.mark.integration
def test_a_sigkilled_docker_run_leaves_nothing_after_cleanup(
        engine: Any, state: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from pytest_sdconform.backends import redis as rb
        from pytest_sdconform.nodes.addresses import allocate
        from pytest_sdconform.runs import new_run
        run = new_run(Path({str(tmp_path / "victim")!r}))
        cluster = rb.Topology(replicas=1).start(run, allocate(), runtime="docker")
        cut = cluster.partition()
        cut.start()
        print(run.id, flush=True)
        time.sleep(600)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "SDCONFORM_STATE": str(state)})
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        assert run_id and labelled(engine, run_id)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    time.sleep(0.5)
    cleanup = subprocess.run([sys.executable, "-m", "pytest_sdconform.cli", "cleanup"],
                             capture_output=True, text=True, check=False,
                             env={**os.environ, "SDCONFORM_STATE": str(state)})
    assert cleanup.returncode == 0, cleanup.stderr
    assert "container sdconform-" in cleanup.stdout
    assert labelled(engine, run_id) == []


@pytest.mark.integration
def test_a_redis_container_clock_is_skewed_through_the_shim(
        engine: Any, run: Run, block: AddressBlock) -> None:
    """Clock skew in a container: the shim and the node's control file come from a host folder
    mounted into it; the fault moves the server's own clock (its TIME) and puts it back."""
    from pytest_sdconform.backends import redis as rb

    cluster = rb.Topology(skew_clocks=True).start(run, block, seed=1, runtime="docker")
    try:
        assert cluster.runtime.capabilities()["clock"] is None
        with pytest.raises(FaultUnavailable, match="do not reach the harness's loopback"):
            cluster.link_through(cluster.harness, 1)  # a proxy between containers: said why
        assert (rb.Topology().served_version(cluster.info) or "")[:1].isdigit()  # the image's
        server = rb.admin(cluster.info.addresses["n1"], timeout=5)

        def server_clock() -> float:
            seconds, micros = server.time()
            return float(seconds + micros / 1e6)

        skew = cluster.clock_skew({"n1": -120_000}, probes={"n1": server_clock})
        started = skew.start()
        assert started["methods"] == {"n1": "shim"}
        assert abs(started["observed_ms"]["n1"] + 120_000) < 1000
        assert abs(skew.stop()["observed_ms"]["n1"]) < 1000
        server.close()
    finally:
        cluster.stop()
    assert labelled(engine, run.id) == []


@pytest.mark.integration
@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_a_redis_container_loses_power_and_keeps_only_what_it_fsynced(
        engine: Any, run: Run, block: AddressBlock, fsync: str) -> None:
    """Power loss in a container: its data folder is the lossy filesystem mounted on the host
    (checked from inside the container); AOF ``always`` keeps every acknowledged write, and with
    ``everysec`` exactly the writes since the last fsync are gone (an fsync may happen to follow
    the last write: then nothing of the AOF is dropped, and nothing is missing)."""
    from pytest_sdconform.backends import redis as rb
    from pytest_sdconform.runtimes.lossfs import lossfs_unavailable, mounted

    if lossfs_unavailable():
        pytest.skip(str(lossfs_unavailable()))
    topology = rb.Topology(persistence=rb.Persistence(appendonly=True, appendfsync=fsync))
    cluster = topology.start(run, block, seed=1, runtime="docker", power_loss=True)
    disk = cluster.nodes["n1"].disk
    try:
        assert disk is not None and mounted(disk.data)  # type: ignore[attr-defined]
        server = rb.admin(cluster.info.addresses["n1"], timeout=5)
        for i in range(200):
            server.rpush("acked", i)
        server.close()
        fault = cluster.power_loss(["n1"])
        cut = fault.start()
        assert cut["probes"]["n1"] == {"fsynced": "kept", "unsynced": "lost"}
        dropped = cut["dropped"]["n1"]["writes"] - 1  # the probe's is one
        fault.stop()
        server = rb.admin(cluster.info.addresses["n1"], timeout=5)
        kept = server.llen("acked")
        server.close()
    finally:
        cluster.stop()
    assert not mounted(disk.data)  # type: ignore[attr-defined]
    assert labelled(engine, run.id) == []
    if fsync == "always":
        assert kept == 200 and dropped == 0
    else:
        assert (kept < 200) == (dropped > 0)


@pytest.fixture
def elsewhere_ns() -> Iterator[tuple[str, str]]:
    """A network namespace from which the engine's networks are not routed, joined to this
    machine by a veth pair only: an engine on another machine, as the harness sees it. Yields
    (namespace, the engine host's address there)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    n = os.getpid() % 200
    ns, host, peer = f"sdc-t{os.getpid()}", f"sdct{os.getpid()}h", f"sdct{os.getpid()}n"
    here, there = f"10.232.{n}.1", f"10.232.{n}.2"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", ns)
    try:
        ip("link", "add", host, "type", "veth", "peer", "name", peer)
        ip("link", "set", peer, "netns", ns)
        ip("addr", "add", f"{here}/30", "dev", host)
        ip("link", "set", host, "up")
        ip("-n", ns, "addr", "add", f"{there}/30", "dev", peer)
        ip("-n", ns, "link", "set", peer, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        yield ns, here
    finally:
        subprocess.run(["ip", "link", "del", host], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@pytest.mark.integration
def test_an_engine_whose_network_is_not_routed_here_is_reached_through_its_published_ports(
        engine: Any, elsewhere_ns: tuple[str, str], state: Path, tmp_path: Path) -> None:
    """From a namespace that reaches the engine's host only (not its networks), the runtime
    sees that the run's network is not routed, reaches the nodes through the gateway's
    published ports, and the faults still act between the nodes: a partition cuts, and a
    killed node's port is refused end to end (the gateway forwards, it accepts nothing)."""
    ns, engine_host = elsewhere_ns
    script = textwrap.dedent(f"""
        import json, socket
        from pathlib import Path
        from pytest_sdconform.backends import redis as rb
        from pytest_sdconform.faults.partition import isolate
        from pytest_sdconform.nodes.addresses import allocate
        from pytest_sdconform.nodes.routes import via
        from pytest_sdconform.runs import new_run
        run = new_run(Path({str(tmp_path / "far")!r}))
        cluster = rb.Topology(replicas=1).start(run, allocate(), runtime="docker")
        seen = {{"access": cluster.runtime.access}}
        try:
            n1 = cluster.info.addresses["n1"]
            seen["via"] = via(n1, rb.PORT)
            primary = rb.admin(n1, timeout=5)
            primary.set("k", "v")
            seen["read"] = primary.get("k").decode()
            cut = cluster.partition(cuts=[isolate(["n1", "n2"], "n1")])
            cut.start()
            seen["cut"] = sorted(cut.observe())
            cut.stop()
            kill = cluster.kill(["n1"])
            kill.start()
            try:
                socket.create_connection(via(n1, rb.PORT), timeout=5).close()
                seen["down"] = "accepted"
            except ConnectionRefusedError:
                seen["down"] = "refused"
            except OSError as e:
                seen["down"] = repr(e)
            kill.stop()
        finally:
            cluster.stop()
        seen["run"] = run.id
        print(json.dumps(seen))
    """)
    env = {**os.environ, "SDCONFORM_STATE": str(state),
           "SDCONFORM_DOCKER_PUBLISHED_HOST": engine_host}
    done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", script],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["access"] == "published"
    assert seen["via"][0] == engine_host and seen["read"] == "v"
    assert seen["cut"] == [["n1", "n2"], ["n2", "n1"]]
    assert seen["down"] == "refused"
    assert labelled(engine, seen["run"]) == []
