"""Shared fixtures: a run in a private state folder, nodes that are real processes, and a check
that nothing of ours (rule, cgroup, process) outlives the test session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import the `compact` notation helper

from pytest_sdconform.faults.netfilter import cgroup2_root, unavailable_reason
from pytest_sdconform.nodes.addresses import AddressBlock, allocate
from pytest_sdconform.nodes.readiness import TcpPort
from pytest_sdconform.runs import Run, is_same_process, new_run, owners_dir
from pytest_sdconform.runtimes.local import NodeSpec


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("SDCONFORM_STATE", str(folder))
    return folder


@pytest.fixture
def run(state: Path, tmp_path: Path) -> Iterator[Run]:
    r = new_run(tmp_path / "run")
    yield r
    r.forget()


@pytest.fixture
def block(state: Path) -> Iterator[AddressBlock]:
    b = allocate()
    yield b
    b.release()


def http_node(name: str, address: str, port: int = 8000) -> NodeSpec:
    """A real server process on its own address: Python's http.server."""
    return NodeSpec(
        name,
        address,
        [sys.executable, "-m", "http.server", "--bind", address, str(port)],
        ready=TcpPort(address, port),
        ready_timeout=20,
    )


needs_netfilter = pytest.mark.skipif(
    unavailable_reason() is not None, reason=str(unavailable_reason())
)


def leftovers() -> list[str]:
    found = []
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
    found += [line for line in rules.splitlines() if "sdconform" in line or ":sdc-" in line]
    root = cgroup2_root()
    found += [str(p) for p in root.glob("sdconform-*")] if root else []
    return found


def others_live_runs() -> set[str]:
    """Runs owned by a live process other than this test session (a suite run beside it):
    what they hold is theirs, not something this session left behind."""
    me = os.getpid()
    found = set()
    for entry in owners_dir().iterdir() if owners_dir().is_dir() else []:
        try:
            pid, start = map(int, entry.read_text().split())
        except (OSError, ValueError):
            continue
        if pid != me and is_same_process(pid, start):
            found.add(entry.name)
    return found


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    before = set(leftovers())
    yield
    others = others_live_runs()
    after = [x for x in leftovers() if x not in before
             and not any(f"sdconform-{rid}-" in x or f"sdconform:{rid}" in x
                         or f":sdc-{rid.replace('-', '')[-10:]} " in x for rid in others)]
    assert not after, f"the test session left these behind: {after}"
