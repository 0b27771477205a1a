"""A local node's data folder on ``sdconform-lossfs``, the filesystem that forgets unsynced writes.

The filesystem (Go, ``pytest_sdconform/lossfs``, built on first use) passes every read and
write through to a backing folder beside the node's data folder and remembers how to undo the
writes that were never made durable; it is mounted over the data folder itself, so the node
sees nothing different. It is driven through its standard input, one command a line, each
answered by one JSON line: ``cut MODE SEED``, ``sync``, ``stats``. Its standard input is our
pipe: when the harness dies, even by SIGKILL, the pipe closes and the filesystem unmounts
itself. The mount and its process are in the run's ledger, so ``sdconform cleanup`` unmounts
and stops what a killed run left.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from ..nodes.disk import CUT_MODES
from ..provision import lossfs_binary
from ..runs import Run, process_start_time

MOUNT_TIMEOUT = 20.0


class LossFSError(RuntimeError):
    """The filesystem did not mount, or did not do what it was told."""


def mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point now (from /proc/self/mounts)."""
    target = str(path)
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        return any(line.split()[1] == target for line in fh if len(line.split()) > 1)


def unmount(path: Path) -> bool:
    """Detach a mount left behind (a lazy unmount: it goes once nothing uses it)."""
    for argv in (["fusermount3", "-u", "-z", str(path)], ["umount", "-l", str(path)]):
        try:
            if subprocess.run(argv, capture_output=True, check=False).returncode == 0:
                return True
        except FileNotFoundError:
            continue
    return not mounted(path)


class LossyDisk:
    """One node's data folder on the filesystem; ``Disk`` (``nodes/disk.py``)."""

    def __init__(self, run: Run, data: Path):
        self.run = run
        self.data = data
        self.backing = data.with_name(data.name + ".disk")
        self.process: subprocess.Popen[bytes] | None = None
        self.lines: queue.Queue[bytes] | None = None
        self.lock = threading.Lock()

    def mount(self) -> None:
        """Move what the data folder holds to the backing folder, mount, and wait for it."""
        binary = lossfs_binary()
        self.backing.mkdir(exist_ok=True)
        st = self.data.stat()
        os.chmod(self.backing, st.st_mode & 0o7777)
        if os.geteuid() == 0:
            os.chown(self.backing, st.st_uid, st.st_gid)
        for entry in self.data.iterdir():
            entry.rename(self.backing / entry.name)
        log = open(self.data.with_name(self.data.name + ".lossfs.log"), "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(binary), str(self.backing), str(self.data)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        log.close()
        self.run.record("lossfs", path=str(self.data), pid=self.process.pid,
                        start_time=process_start_time(self.process.pid))
        line = self._read_line(MOUNT_TIMEOUT)
        if line != "ready":
            self.close()
            raise LossFSError(f"sdconform-lossfs did not mount {self.data}: "
                              f"{line or 'no answer'} (see {self.data.name}.lossfs.log)")

    def _read_line(self, timeout: float) -> str:
        """The filesystem's next line of output, or "" if it says nothing in time. One reader
        thread feeds every line into a queue, so a late reply to a command that timed out is
        never taken as the answer to the next one (``command`` drops what is queued first)."""
        if self.lines is None:
            self.lines = queue.Queue()
            threading.Thread(target=self._read_all, args=(self._stdout(), self.lines),
                             daemon=True, name=f"sdconform-lossfs-{self.data.name}").start()
        try:
            return self.lines.get(timeout=timeout).decode(errors="replace").strip()
        except queue.Empty:
            return ""

    def _stdout(self) -> IO[bytes]:
        assert self.process is not None and self.process.stdout is not None
        return self.process.stdout

    @staticmethod
    def _read_all(stdout: IO[bytes], lines: queue.Queue[bytes]) -> None:
        for line in iter(stdout.readline, b""):
            lines.put(line)

    def command(self, line: str, timeout: float = 120.0) -> dict[str, Any]:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                raise LossFSError(f"the filesystem of {self.data} is not running")
            assert self.process.stdin is not None
            while self.lines is not None and not self.lines.empty():
                self.lines.get_nowait()  # the late answer to a command that timed out
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
            answer = self._read_line(timeout)
        try:
            reply: dict[str, Any] = json.loads(answer)
        except ValueError as e:
            raise LossFSError(f"{line!r} on {self.data}: no answer ({answer!r})") from e
        if not reply.get("ok"):
            raise LossFSError(f"{line!r} on {self.data}: {reply.get('error', reply)}")
        return reply

    # --- Disk ---------------------------------------------------------------------------

    def write(self, name: str, data: bytes, fsync: bool) -> None:
        fd = os.open(self.data / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, name: str) -> bytes | None:
        try:
            return (self.data / name).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, name: str) -> None:
        (self.data / name).unlink(missing_ok=True)

    def cut(self, mode: str, seed: int) -> dict[str, Any]:
        if mode not in CUT_MODES:
            raise ValueError(f"unknown power-loss mode {mode!r}; known: {', '.join(CUT_MODES)}")
        reply = self.command("cut all" if mode == "all" else f"cut {mode} {seed}")
        reply.pop("ok", None)
        return reply

    def sync(self) -> None:
        self.command("sync")

    def unsynced(self) -> dict[str, Any]:
        reply = self.command("stats")
        reply.pop("ok", None)
        return reply

    def close(self) -> None:
        """Unmount (the filesystem does it when its input closes) and check nothing is left."""
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
            self.process = None
        deadline = time.monotonic() + 5
        while mounted(self.data) and time.monotonic() < deadline:
            time.sleep(0.05)
        if mounted(self.data) and not unmount(self.data):
            raise LossFSError(f"{self.data} is still mounted")


def lossfs_unavailable() -> str | None:
    """Why power loss cannot be simulated on this machine (None: it can; the filesystem is
    built when a node first mounts it)."""
    if not Path("/dev/fuse").exists():
        return "power loss needs FUSE (/dev/fuse), which this machine does not have"
    if os.geteuid() != 0:
        return "power loss mounts a FUSE filesystem for nodes of other users: run as root"
    if shutil.which("go") is None:
        return "power loss needs the Go toolchain to build sdconform-lossfs"
    return None
