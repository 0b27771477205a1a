"""The power-loss fault on real nodes whose data sits on sdconform-lossfs: what was fsynced
survives, what was not is gone, the cut proves itself with its probes, and a run killed while
its disks are mounted leaves no mount behind after ``sdconform cleanup``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import http_node

from pytest_sdconform.faults import FaultNotEffective, FaultUnavailable
from pytest_sdconform.faults.power import PowerLoss
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run
from pytest_sdconform.runtimes.local import LocalRuntime
from pytest_sdconform.runtimes.lossfs import lossfs_unavailable, mounted
from pytest_sdconform.runtimes.process import wait_for_state

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(lossfs_unavailable() is not None, reason=str(lossfs_unavailable())),
]


def write(path: Path, data: bytes, fsync: bool) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())


def test_a_power_loss_keeps_what_was_fsynced_and_drops_the_rest(run: Run,
                                                                block: AddressBlock) -> None:
    rt = LocalRuntime(run)
    try:
        (node,) = rt.start([replace(http_node("n1", block.node(1)), lossy_disk=True)])
        assert mounted(node.data)
        write(node.data / "durable", b"fsynced", fsync=True)
        write(node.data / "cached", b"only in the page cache", fsync=False)
        with open(node.data / "durable", "ab") as fh:  # an unsynced append to a synced file
            fh.write(b" and more")
        fault = PowerLoss([node], mode="all")
        done = fault.start()
        assert done["nodes"] == ["n1"] and done["mode"] == "all"
        assert done["probes"]["n1"] == {"fsynced": "kept", "unsynced": "lost"}
        assert done["dropped"]["n1"]["writes"] >= 3  # ours, and the fault's own probe
        assert not node.is_running()
        assert (node.data / "durable").read_bytes() == b"fsynced"
        assert (node.data / "cached").read_bytes() == b""  # the name is metadata: it stays
        assert fault.stop() == {"restarted": ["n1"]}
        assert node.is_running()
    finally:
        rt.close()
    assert not mounted(node.data)
    assert [r["kind"] for r in run.resources()].count("lossfs") == 1


class KeepsEverything:
    """A disk whose cut drops nothing: what a broken filesystem would be."""

    def __init__(self, folder: Path):
        self.folder = folder

    def write(self, name: str, data: bytes, fsync: bool) -> None:
        (self.folder / name).write_bytes(data)

    def read(self, name: str) -> bytes | None:
        path = self.folder / name
        return path.read_bytes() if path.exists() else None

    def remove(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)

    def cut(self, mode: str, seed: int) -> dict[str, Any]:
        return {"files": 0, "writes": 0, "bytes": 0}

    def sync(self) -> None:
        pass

    def unsynced(self) -> dict[str, Any]:
        return {}


def test_the_probes_refute_a_disk_that_keeps_unsynced_writes(run: Run,
                                                              block: AddressBlock) -> None:
    rt = LocalRuntime(run)
    try:
        (node,) = rt.start([http_node("n1", block.node(1))])
        node.disk = KeepsEverything(node.data)
        with pytest.raises(FaultNotEffective, match="probes disagree"):
            PowerLoss([node]).start()
    finally:
        rt.close()


def test_nodes_not_on_a_lossy_disk_cannot_lose_power(run: Run, block: AddressBlock) -> None:
    rt = LocalRuntime(run)
    try:
        (node,) = rt.start([http_node("n1", block.node(1))])
        with pytest.raises(FaultUnavailable, match="power_loss=True"):
            PowerLoss([node])
    finally:
        rt.close()


def test_a_sigkilled_run_leaves_no_mount_after_cleanup(state: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from dataclasses import replace
        from pathlib import Path
        from conftest import http_node
        from pytest_sdconform.nodes.addresses import allocate
        from pytest_sdconform.runs import new_run
        from pytest_sdconform.runtimes.local import LocalRuntime
        run = new_run(Path({str(tmp_path / "victim")!r}))
        block = allocate()
        (node,) = LocalRuntime(run).start([replace(http_node("n1", block.node(1)),
                                                   lossy_disk=True)])
        print(node.data, node.pid, flush=True)
        time.sleep(600)
    """)
    env = {**os.environ, "SDCONFORM_STATE": str(state),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), *sys.path])}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert child.stdout is not None
        data, pid = child.stdout.readline().split()
        assert mounted(Path(data))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    cleanup = subprocess.run([sys.executable, "-m", "pytest_sdconform.cli", "cleanup"],
                             capture_output=True, text=True, check=False, env=env)
    assert cleanup.returncode == 0, cleanup.stderr
    deadline = time.monotonic() + 5
    while mounted(Path(data)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not mounted(Path(data)), cleanup.stdout
    assert wait_for_state(int(pid), lambda s: s in (None, "Z")), cleanup.stdout
