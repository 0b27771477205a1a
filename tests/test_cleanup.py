"""A pytest run killed with SIGKILL in the middle of a partition leaves its rules, cgroups and
node processes behind; ``sdconform cleanup`` removes them and says what it removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import needs_netfilter

from pytest_sdconform.runs import Run, process_start_time
from pytest_sdconform.runtimes.process import process_state

SUITE = """
import random, sys, time
sys.path.insert(0, {tests!r})
from conftest import http_node
from pytest_sdconform.faults.netfilter import Netfilter
from pytest_sdconform.faults.partition import Partition, isolate
from pytest_sdconform.runs import new_run
from pytest_sdconform.nodes.addresses import allocate
from pytest_sdconform.runtimes.local import LocalRuntime

def test_partition_forever(tmp_path):
    run = new_run(tmp_path / "run")
    block = allocate()
    netfilter = Netfilter(run)
    addresses = {{n: block.node(i) for i, n in enumerate(["n1", "n2", "n3"], 1)}}
    cgroups = {{n: netfilter.add_node(n, a) for n, a in addresses.items()}}
    runtime = LocalRuntime(run, cgroups=lambda spec: cgroups[spec.name])
    runtime.start([http_node(n, a) for n, a in addresses.items()])
    Partition(netfilter, addresses, cgroups).start(isolate(sorted(addresses), "n1"))
    with open({marker!r}, "w") as fh:
        fh.write(run.id + " " + " ".join(str(n.pid) for n in runtime.nodes.values()))
    time.sleep(600)
"""


def start_victim(test_file: Path, folder: Path, state: Path,
                 attempt: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = folder / f"victim-{attempt}.log"
    with open(log, "wb") as out:
        victim = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
            env={**os.environ, "SDCONFORM_STATE": str(state)},
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return victim, log


def iptables_rules() -> str:
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout


@needs_netfilter
@pytest.mark.integration
def test_cleanup_after_a_killed_run(tmp_path: Path, state: Path) -> None:
    marker = tmp_path / "partitioned"
    test_file = tmp_path / "test_victim.py"
    test_file.write_text(SUITE.format(tests=str(Path(__file__).parent), marker=str(marker)))
    for attempt in (1, 2):  # the victim's own setup, not what is tested, gets a second try
        victim, log = start_victim(test_file, tmp_path, state, attempt)
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.1)
        if marker.exists():
            break
        victim.kill()
        victim.wait()
        print(f"victim attempt {attempt} (exit {victim.returncode}):\n"
              f"{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
    assert marker.exists(), "the victim run never got its partition up (its output is above)"
    time.sleep(0.2)
    run_id, *pids = marker.read_text().split()
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    assert f"sdconform:{run_id}" in iptables_rules()  # the kill left the partition in place
    assert all(process_start_time(int(p)) is not None for p in pids)  # and the servers running

    out = subprocess.run(
        [sys.executable, "-m", "pytest_sdconform.cli", "cleanup"],
        capture_output=True,
        text=True,
        env={**os.environ, "SDCONFORM_STATE": str(state)},
        check=True,
    ).stdout
    assert "removed process n1" in out and "iptables rule" in out and "cgroup" in out
    assert f"sdconform:{run_id}" not in iptables_rules()
    time.sleep(0.2)
    # Dead: gone, or a zombie waiting for an init that reaps orphans (not every sandbox has one).
    assert all(process_state(int(p)) in (None, "Z") for p in pids)
    again = subprocess.run(
        [sys.executable, "-m", "pytest_sdconform.cli", "cleanup"],
        capture_output=True,
        text=True,
        env={**os.environ, "SDCONFORM_STATE": str(state)},
        check=True,
    ).stdout
    assert "nothing to remove" in again


@needs_netfilter
@pytest.mark.integration
def test_cleanup_leaves_a_live_run_of_another_state_folder_alone(
    run: Run, tmp_path: Path
) -> None:
    """A cleanup working from another state folder (as the harness's own tests do) must not
    take a live run's cgroups and rules for orphans."""
    from pytest_sdconform.faults.netfilter import Netfilter

    netfilter = Netfilter(run)
    try:
        cgroup = netfilter.add_node("n1", "127.64.250.2")
        out = subprocess.run(
            [sys.executable, "-m", "pytest_sdconform.cli", "cleanup"],
            capture_output=True, text=True, check=True,
            env={**os.environ, "SDCONFORM_STATE": str(tmp_path / "elsewhere")},
        ).stdout
        assert cgroup.exists() and f"sdconform:{run.id}" in iptables_rules(), out
    finally:
        netfilter.close()
