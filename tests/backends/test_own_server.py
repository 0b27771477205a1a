"""Our own Python servers as nodes (``backends/own_server.py``): the SSE server's and the
transport sink's single node, as their topologies build it."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from pytest_sdconform.backends import sse, transport, vip
from pytest_sdconform.backends.base import Start
from pytest_sdconform.backends.nginx.topology import app_spec
from pytest_sdconform.backends.own_server import PACKAGE_ROOT, python_node
from pytest_sdconform.nodes import NodePaths
from pytest_sdconform.nodes.readiness import LogLine, TcpPort


def start() -> Start:
    runtime = SimpleNamespace(paths=lambda name, user=None: NodePaths(Path("/c") / name,
                                                                      Path("/d") / name))
    return Start(None, runtime, {"n1": "127.9.0.1"}, "127.9.0.9")  # type: ignore[arg-type]


def test_a_python_node_runs_a_module_of_the_package_on_this_interpreter() -> None:
    spec = python_node("app", "127.9.0.2", "pytest_sdconform.x", ["--a", "1"],
                       ready=TcpPort("127.9.0.2", 80))
    assert spec.command == [sys.executable, "-m", "pytest_sdconform.x", "--a", "1"]
    assert spec.image == "python" and spec.ready_timeout == 30.0 and list(spec.ports) == []
    assert (PACKAGE_ROOT / "pytest_sdconform" / "backends" / "own_server.py").exists()
    assert set(spec.shared) == {Path(sys.base_prefix), Path(sys.prefix), PACKAGE_ROOT}
    assert spec.clock is None


def test_a_skewable_python_node_has_the_interpreter_as_its_clock() -> None:
    spec = python_node("p1", "127.9.0.2", "pytest_sdconform.x", [], ready=TcpPort("127.9.0.2", 80),
                       skewable=True)
    assert spec.clock == str(Path(sys.executable).resolve()) and Path(spec.clock).is_file()


def test_the_sse_server_node_binds_its_port_and_keeps_its_log_in_its_data_folder() -> None:
    [spec] = sse.Topology(replay=False).specs(start())
    assert spec.name == "n1" and spec.address == "127.9.0.1"
    assert spec.command[1:] == ["-m", "pytest_sdconform.backends.sse.server", "--bind",
                                "127.9.0.1", "--port", "8090", "--log", "/d/n1/events.log",
                                "--no-replay"]
    assert spec.ready == TcpPort("127.9.0.1", sse.PORT) and list(spec.ports) == [sse.PORT]
    assert "--no-replay" not in sse.Topology().specs(start())[0].command
    assert sse.Topology().ready(start()) == sse.SseInfo("127.9.0.1")
    assert sse.SseInfo("127.9.0.1").endpoint()[1] == sse.PORT


def test_the_transport_sink_node_binds_its_port() -> None:
    topology = transport.Topology()
    assert topology.node_names("local") == ["n1"] and topology.runtimes == ("local",)
    [spec] = topology.specs(start())
    assert spec.command[1:] == ["-m", "pytest_sdconform.backends.transport.sink", "--bind",
                                "127.9.0.1", "--port", "7070"]
    assert topology.ready(start()) == transport.TransportInfo("127.9.0.1")
    assert transport.TransportInfo("127.9.0.1").endpoint()[1] == transport.PORT


def test_the_nginx_app_server_is_a_python_node() -> None:
    spec = app_spec("a1", "127.9.0.2", "memory")
    assert spec == python_node("a1", "127.9.0.2", "pytest_sdconform.backends.nginx.appserver",
                               ["--bind", "127.9.0.2", "--port", "8080", "--name", "a1",
                                "--store", "memory"], ready=TcpPort("127.9.0.2", 8080))
    assert spec.image == "python" and spec.ready_timeout == 30 and spec.harness_ports() == [8080]


def test_a_prefix_runs_the_interpreter_under_another_command() -> None:
    spec = python_node("p1", "127.9.0.2", "pytest_sdconform.x", ["--a"], ready=LogLine("up"),
                       prefix=["ip", "netns", "exec", "ns1"])
    assert spec.command == ["ip", "netns", "exec", "ns1", sys.executable, "-m",
                            "pytest_sdconform.x", "--a"]


def test_the_vip_machines_network_and_app_servers_are_python_nodes() -> None:
    run = SimpleNamespace(id="run-20261202-abcdef12", record=lambda *a, **k: None)
    paths = start().runtime.paths
    begin = SimpleNamespace(run=run, seed=7, addresses={"net": "127.9.0.9"}, paths=paths)
    topology = vip.Topology()
    [net] = topology.specs(begin)  # type: ignore[arg-type]
    assert net.command[:3] == [sys.executable, "-m", "pytest_sdconform.nodes.netns"]
    assert net.ready == LogLine("ready") and net.ready_timeout == 30
    app, vrrp = topology._machine_specs(begin, "lb1")  # type: ignore[arg-type]
    ns = topology._net.machines["lb1"]
    assert app.command == ["ip", "netns", "exec", ns, sys.executable, "-m",
                           "pytest_sdconform.backends.nginx.appserver", "--bind", "0.0.0.0",
                           "--port", "8080", "--name", "lb1", "--store", "memory"]
    assert app.address == vrrp.address and app.ready_timeout == 30
    assert set(app.shared) == {Path(sys.base_prefix), Path(sys.prefix), PACKAGE_ROOT}
