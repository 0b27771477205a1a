"""The local runtime with real processes: start, readiness, kill, pause, restart, stop."""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import http_node

from pytest_sdconform.faults.process import Kill, Pause
from pytest_sdconform.nodes.addresses import AddressBlock, allocate
from pytest_sdconform.nodes.readiness import NodeStartError, TcpPort
from pytest_sdconform.runs import Run
from pytest_sdconform.runtimes.local import LocalRuntime, NodeSpec
from pytest_sdconform.runtimes.process import process_state, wait_for_state

pytestmark = pytest.mark.integration


def get(address: str, port: int = 8000, timeout: float = 2.0) -> int:
    with urllib.request.urlopen(f"http://{address}:{port}/", timeout=timeout) as r:
        status: int = r.status
        return status


def test_nodes_start_on_their_own_addresses(run: Run, block: AddressBlock) -> None:
    rt = LocalRuntime(run)
    try:
        n1, n2 = rt.start([http_node("n1", block.node(1)), http_node("n2", block.node(2))])
        assert get(n1.address) == 200 and get(n2.address) == 200
        assert n1.address != n2.address and n1.address.startswith("127.")
        assert n1.data.is_dir() and n1.log.exists()
        assert "starting n1" in n1.log.read_text()
        assert [r["name"] for r in run.resources() if r["kind"] == "process"] == ["n1", "n2"]
    finally:
        rt.stop_all()
    assert not n1.is_running() and not n2.is_running()


def test_kill_and_restart_on_the_same_data(run: Run, block: AddressBlock) -> None:
    rt = LocalRuntime(run)
    try:
        (node,) = rt.start([http_node("n1", block.node(1))])
        (node.data / "marker").write_text("kept")
        old_pid = node.pid
        fault = Kill([node])
        assert fault.start() == {"nodes": ["n1"], "how": "process group"}
        assert not node.is_running() and process_state(old_pid) is None  # type: ignore[arg-type]
        with pytest.raises(OSError):
            get(node.address, timeout=0.5)
        assert fault.stop() == {"restarted": ["n1"]}
        assert node.pid != old_pid and get(node.address) == 200
        assert (node.data / "marker").read_text() == "kept"
        assert fault.stop() == {"restarted": []}  # heal is idempotent
    finally:
        rt.stop_all()


def test_pause_stops_answers_and_resume_brings_them_back(run: Run, block: AddressBlock) -> None:
    rt = LocalRuntime(run)
    try:
        (node,) = rt.start([http_node("n1", block.node(1))])
        fault = Pause([node])
        fault.start()
        assert process_state(node.pid) == "T"  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(OSError):
            get(node.address, timeout=0.5)
        assert time.monotonic() - started >= 0.4  # it hung rather than refused
        fault.stop()
        assert get(node.address) == 200
    finally:
        rt.stop_all()


def test_a_node_that_never_gets_ready_says_why_with_its_log(run: Run, block: AddressBlock) -> None:
    rt = LocalRuntime(run)
    never = NodeSpec(
        "n1",
        block.node(1),
        [sys.executable, "-c", "print('warming up', flush=True); import time; time.sleep(60)"],
        ready=TcpPort(block.node(1), 9),
        ready_timeout=1,
    )
    try:
        with pytest.raises(NodeStartError, match=r"not ready .* after 1s(.|\n)*warming up"):
            rt.start([never])
    finally:
        rt.stop_all()
    crash = NodeSpec(
        "n2",
        block.node(2),
        [sys.executable, "-c", "raise SystemExit('bad config')"],
        ready=TcpPort(block.node(2), 9),
    )
    with pytest.raises(NodeStartError, match=r"exited with code 1(.|\n)*bad config"):
        rt.start([crash])


def test_stop_escalates_to_sigkill(run: Run, block: AddressBlock) -> None:
    stubborn = NodeSpec(
        "n1",
        block.node(1),
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ],
    )
    rt = LocalRuntime(run)
    (node,) = rt.start([stubborn])
    time.sleep(0.3)
    started = time.monotonic()
    node.stop(grace=0.5)
    assert not node.is_running() and time.monotonic() - started < 5


def test_address_blocks_do_not_overlap(state: Path) -> None:
    a, b = allocate(), allocate()
    try:
        assert a.prefix != b.prefix
        assert a.node(1).rsplit(".", 1)[0] == a.prefix and a.harness() == f"{a.prefix}.1"
    finally:
        a.release()
        b.release()
    c = allocate()
    assert c.prefix == a.prefix  # released blocks are reused
    c.release()


@pytest.mark.parametrize("kill_tree", [True, False])
def test_a_kill_tree_node_loses_the_children_that_left_its_group(
        run: Run, block: AddressBlock, kill_tree: bool) -> None:
    """PostgreSQL's backends call setsid(): a signal to the node's process group misses them,
    and they go on committing. With ``kill_tree`` the kill takes every descendant."""
    address = block.node(1)
    server = http_node("n1", address)
    script = 'setsid sleep 300 & echo $! > child.pid; exec "$@"'
    spec = replace(server, command=["/bin/sh", "-c", script, "node", *server.command],
                   kill_tree=kill_tree)
    rt = LocalRuntime(run)
    child = None
    try:
        (node,) = rt.start([spec])
        child = int((node.data / "child.pid").read_text())
        assert process_state(child) is not None
        record = Kill([node]).start()
        assert record["how"] == ("process tree" if kill_tree else "process group")
        wait_for_state(child, lambda s: s in (None, "Z") if kill_tree else s is not None)
        assert (process_state(child) in (None, "Z")) is kill_tree
    finally:
        if child is not None and process_state(child) not in (None, "Z"):
            os.kill(child, signal.SIGKILL)
        rt.stop_all()
