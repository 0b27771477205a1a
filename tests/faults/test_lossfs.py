"""sdconform-lossfs through real FUSE mounts: what was fsynced survives a power cut, what was
not is rolled back (wholly, to a prefix, or torn at a page boundary), readers see the rolled-back
content, and the mount goes away with its owner."""

from __future__ import annotations

import contextlib
import errno
import json
import mmap
import os
import pwd
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_sdconform

SOURCE = Path(pytest_sdconform.__file__).parent / "lossfs"
PAGE = 4096
SECTOR = 512  # what a torn write is cut at


def unavailable_reason() -> str | None:
    if shutil.which("go") is None:
        return "the Go toolchain is not installed: sdconform-lossfs is built with go build"
    if not Path("/dev/fuse").exists():
        return "/dev/fuse is missing: no FUSE in this kernel or container"
    if os.geteuid() != 0 and not (shutil.which("fusermount3") or shutil.which("fusermount")):
        return "not root and no fusermount3 (apt-get install fuse3) to mount with"
    return None


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lossfs-bin") / "sdconform-lossfs"
    built = subprocess.run(
        ["go", "build", "-mod=readonly", "-o", str(out), "."],
        cwd=SOURCE,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    return out


def is_mounted(path: Path) -> bool:
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == str(path) for line in mounts)


class Lossfs:
    """A running sdconform-lossfs: its stdout lines arrive in a queue so reads can time out."""

    def __init__(self, binary: Path, backing: Path, mount: Path) -> None:
        backing.mkdir(exist_ok=True)
        mount.mkdir(exist_ok=True)
        self.mount = mount
        self.proc = subprocess.Popen(
            [str(binary), str(backing), str(mount)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.readline() == "ready"
        assert is_mounted(mount)

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def readline(self, timeout: float = 30) -> str | None:
        return self.lines.get(timeout=timeout)

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.readline()
        assert line is not None, "sdconform-lossfs exited"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def cut(self, how: str = "all") -> dict[str, Any]:
        answer = self.ask(f"cut {how}")
        assert answer["ok"] is True, answer
        return answer

    def close(self, timeout: float = 20) -> int:
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            try:
                self.close()
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if is_mounted(self.mount):
            subprocess.run(["umount", "-l", str(self.mount)], check=False, capture_output=True)


@pytest.fixture
def lossfs(binary: Path, tmp_path: Path) -> Iterator[Lossfs]:
    fs = Lossfs(binary, tmp_path / "backing", tmp_path / "mnt")
    yield fs
    fs.cleanup()


def write_file(path: Path, data: bytes, *, fsync: bool) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def append_each(path: Path, chunks: list[bytes]) -> None:
    """One write(2), so one FUSE write, per chunk."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for chunk in chunks:
            assert os.write(fd, chunk) == len(chunk)
    finally:
        os.close(fd)


def test_fsynced_data_survives_a_cut_and_unsynced_data_does_not(lossfs: Lossfs) -> None:
    m = lossfs.mount
    write_file(m / "synced", b"durable", fsync=True)
    write_file(m / "unsynced", b"volatile!", fsync=False)
    (m / "dir").mkdir()
    write_file(m / "dir" / "nested", b"x" * 10000, fsync=False)
    assert lossfs.ask("stats") == {"ok": True, "files": 2, "writes": 2, "bytes": 10009}
    assert lossfs.cut() == {"ok": True, "files": 2, "writes": 2, "bytes": 10009}
    assert (m / "synced").read_bytes() == b"durable"
    assert (m / "unsynced").read_bytes() == b""  # created (metadata is durable), data lost
    assert (m / "dir" / "nested").stat().st_size == 0
    assert lossfs.ask("stats") == {"ok": True, "files": 0, "writes": 0, "bytes": 0}
    assert lossfs.cut() == {"ok": True, "files": 0, "writes": 0, "bytes": 0}


def test_an_overwrite_of_synced_data_is_undone_and_readers_see_it(lossfs: Lossfs) -> None:
    path = lossfs.mount / "f"
    old = bytes(range(256)) * 64  # 16 KiB
    write_file(path, old, fsync=True)
    reader = os.open(path, os.O_RDONLY)  # opened before: its pages are cached by the kernel
    try:
        assert os.pread(reader, len(old), 0) == old
        with open(path, "r+b") as f:
            f.seek(5000)
            f.write(b"N" * 3000)  # inside
            f.seek(len(old) - 10)
            f.write(b"E" * 100)  # across the end: overwrites 10, extends by 90
        assert os.pread(reader, 4, 5000) == b"NNNN"
        assert path.stat().st_size == len(old) + 90
        # (the kernel sends the second as two writes: it ends a request at a partly written,
        # uncached page)
        assert lossfs.cut()["writes"] >= 2
        # the same descriptor, not reopened, reads the rolled-back content and size
        assert os.pread(reader, len(old) + 1000, 0) == old
        assert os.fstat(reader).st_size == len(old)
    finally:
        os.close(reader)
    assert path.read_bytes() == old  # and a new open


def test_truncates_are_undone(lossfs: Lossfs) -> None:
    m = lossfs.mount
    old = os.urandom(3 * PAGE + 123)
    for name in ("path", "handle", "otrunc", "grown"):
        write_file(m / name, old, fsync=True)
    os.truncate(m / "path", 100)  # truncate(2), no handle
    with open(m / "handle", "r+b") as f:
        f.truncate(PAGE + 1)  # ftruncate(2)
        f.write(b"after")
    write_file(m / "otrunc", b"replaced", fsync=False)  # open with O_TRUNC
    os.truncate(m / "grown", 10 * PAGE)
    assert (m / "path").stat().st_size == 100 and (m / "otrunc").read_bytes() == b"replaced"
    assert lossfs.cut()["files"] == 4
    for name in ("path", "handle", "otrunc", "grown"):
        assert (m / name).read_bytes() == old, name


def test_sync_makes_everything_written_so_far_durable(lossfs: Lossfs) -> None:
    path = lossfs.mount / "f"
    write_file(path, b"setup", fsync=False)
    assert lossfs.ask("sync") == {"ok": True, "files": 1, "writes": 1, "bytes": 5}
    append_each(path, [b"+later"])
    assert lossfs.cut() == {"ok": True, "files": 1, "writes": 1, "bytes": 6}
    assert path.read_bytes() == b"setup"


def test_unknown_commands_are_answered_with_an_error(lossfs: Lossfs) -> None:
    for bad in ("cut", "cut sideways", "cut prefix x", "fsck", ""):
        answer = lossfs.ask(bad)
        assert answer["ok"] is False and isinstance(answer["error"], str), bad
    assert lossfs.ask("stats")["ok"] is True  # still serving


def prefix_cut(lossfs: Lossfs, path: Path, chunks: list[bytes], seed: int) -> int:
    """Append the chunks unsynced onto a synced "S", cut with the seed, return how many stayed."""
    write_file(path, b"S", fsync=True)
    append_each(path, chunks)
    lossfs.cut(f"prefix {seed}")
    got = path.read_bytes()
    kept = [k for k in range(len(chunks) + 1) if got == b"S" + b"".join(chunks[:k])]
    assert kept, f"not the synced part plus a prefix of the appends: {got!r}"
    return kept[0]


def test_cut_prefix_keeps_a_reproducible_prefix_of_the_unsynced_appends(lossfs: Lossfs) -> None:
    path = lossfs.mount / "log"
    chunks = [bytes([ord("a") + i]) * (i + 1) for i in range(20)]
    first = prefix_cut(lossfs, path, chunks, 7)
    assert prefix_cut(lossfs, path, chunks, 7) == first  # same seed, same state: same cut
    ks = {prefix_cut(lossfs, path, chunks, seed) for seed in range(8)}
    assert len(ks) > 2, ks  # seeds draw different prefixes


def test_cut_torn_tears_the_unsynced_tail_at_a_sector_boundary(lossfs: Lossfs) -> None:
    path = lossfs.mount / "wal"
    # The last write starts on a page: the kernel sends it as one FUSE write (it ends a request
    # at a partly written page not in its cache, so an unaligned write(2) arrives in pieces).
    synced, middle, last = b"s" * 100, b"m" * (PAGE - 100), os.urandom(3 * PAGE + 500)
    boundaries = set()
    for seed in range(12):
        write_file(path, synced, fsync=True)
        append_each(path, [middle, last])
        answer = lossfs.cut(f"torn {seed}")
        assert answer["torn"] == 1 and answer["files"] == 1, answer
        got = path.read_bytes()
        b = len(got)
        # cut at a sector boundary inside the unsynced writes: a prefix of what was written
        assert b % SECTOR == 0 and len(synced) < b < len(synced + middle + last), b
        assert got == (synced + middle + last)[:b]
        assert answer["bytes"] == len(synced + middle + last) - b
        boundaries.add(b)
    assert len(boundaries) > 1  # a random boundary
    assert min(boundaries) < len(synced + middle) < max(boundaries)  # in either write
    # unsynced writes within one sector cannot be torn: the last is undone whole
    write_file(path, synced, fsync=True)
    append_each(path, [b"more", b"tail"])
    assert lossfs.cut("torn 1")["torn"] == 0
    assert path.read_bytes() == synced + b"more"


def test_a_rename_keeps_the_new_name_and_an_unlink_drops_the_log(lossfs: Lossfs) -> None:
    m = lossfs.mount
    write_file(m / "tmp", b"new content", fsync=False)
    os.rename(m / "tmp", m / "final")
    write_file(m / "gone", b"x" * 100, fsync=False)
    assert lossfs.ask("stats")["files"] == 2
    os.unlink(m / "gone")
    assert lossfs.ask("stats") == {"ok": True, "files": 1, "writes": 1, "bytes": 11}
    assert lossfs.cut()["files"] == 1
    assert not (m / "tmp").exists() and not (m / "gone").exists()
    assert (m / "final").read_bytes() == b""  # the name stays, the data goes


def test_a_hard_link_shares_its_file_log(lossfs: Lossfs) -> None:
    m = lossfs.mount
    write_file(m / "a", b"base", fsync=True)
    os.link(m / "a", m / "b")
    append_each(m / "b", [b"+more"])
    with open(m / "a", "rb") as f:
        os.fsync(f.fileno())  # fsync through a read-only descriptor of the other name
    assert lossfs.ask("stats")["files"] == 0
    assert lossfs.cut()["files"] == 0 and (m / "a").read_bytes() == b"base+more"


def test_an_o_dsync_write_survives(lossfs: Lossfs) -> None:
    path = lossfs.mount / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DSYNC, 0o644)
    try:
        os.write(fd, b"committed")
    finally:
        os.close(fd)
    assert lossfs.ask("stats")["files"] == 0
    lossfs.cut()
    assert path.read_bytes() == b"committed"


def test_mmap_writes_survive_an_msync_and_are_rolled_back_without_one(lossfs: Lossfs) -> None:
    path = lossfs.mount / "index"
    write_file(path, bytes(2 * PAGE), fsync=True)
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 2 * PAGE) as mm:
        mm[0:5] = b"flush"
        mm.flush()  # msync: reaches lossfs as writes, then fsync
        mm[PAGE : PAGE + 7] = b"dropped"
    # closing wrote the dirty page back to lossfs, unsynced
    assert lossfs.ask("stats")["files"] == 1
    reader = os.open(path, os.O_RDONLY)
    try:
        with mmap.mmap(reader, 2 * PAGE, prot=mmap.PROT_READ) as view:
            assert view[PAGE : PAGE + 7] == b"dropped"
            lossfs.cut()
            assert view[PAGE : PAGE + 7] == bytes(7)  # a live mapping sees the rollback
        assert os.pread(reader, 5, 0) == b"flush"
        assert os.pread(reader, 7, PAGE) == bytes(7)
    finally:
        os.close(reader)
    data = path.read_bytes()
    assert data[:5] == b"flush" and data[5:] == bytes(2 * PAGE - 5)


def test_fallocate_and_copy_file_range_are_recorded(lossfs: Lossfs) -> None:
    m = lossfs.mount
    write_file(m / "src", b"copied bytes", fsync=True)
    write_file(m / "dst", b"", fsync=True)
    write_file(m / "alloc", b"abc", fsync=True)
    src, dst = os.open(m / "src", os.O_RDONLY), os.open(m / "dst", os.O_WRONLY)
    try:
        assert os.copy_file_range(src, dst, 12) == 12  # refused by lossfs: the kernel copies
    finally:
        os.close(src)
        os.close(dst)
    fd = os.open(m / "alloc", os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, 5 * PAGE)
    finally:
        os.close(fd)
    assert (m / "dst").read_bytes() == b"copied bytes"
    assert (m / "alloc").stat().st_size == 5 * PAGE
    assert lossfs.cut()["files"] == 2
    assert (m / "dst").read_bytes() == b"" and (m / "alloc").read_bytes() == b"abc"


def test_files_of_another_user_work_as_their_modes_say(binary: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    nobody = pwd.getpwnam("nobody")
    # Not tmp_path: pytest keeps it private to root, and nobody must reach the mount.
    folder = Path(tempfile.mkdtemp(prefix="sdconform-lossfs-"))
    fs = None
    try:
        folder.chmod(0o755)
        fs = Lossfs(binary, folder / "backing", folder / "mnt")
        (folder / "backing").chmod(0o755)
        m = fs.mount
        write_file(m / "theirs", b"hello", fsync=True)
        os.chown(m / "theirs", nobody.pw_uid, nobody.pw_gid)
        write_file(m / "mine", b"root's", fsync=True)
        (m / "their-dir").mkdir()
        os.chown(m / "their-dir", nobody.pw_uid, nobody.pw_gid)
        script = """
import os, sys
m = sys.argv[1]
with open(m + "/theirs", "ab") as f:
    f.write(b" from nobody")
print(open(m + "/theirs", "rb").read().decode())
print(open(m + "/mine", "rb").read().decode())
try:
    open(m + "/mine", "ab")
except PermissionError:
    print("refused")
with open(m + "/their-dir/new", "wb") as f:
    f.write(b"new")
"""
        python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
        done = subprocess.run(
            [python, "-c", script, str(m)],
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            cwd="/",
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\n")[:3] == ["hello from nobody", "root's", "refused"]
        made = (folder / "backing" / "their-dir" / "new").stat()
        assert (made.st_uid, made.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        fs.cut()
        assert (m / "theirs").read_bytes() == b"hello"
        assert (m / "their-dir" / "new").read_bytes() == b""
    finally:
        if fs is not None:
            fs.cleanup()
        shutil.rmtree(folder)


def test_eof_on_stdin_unmounts_and_exits_0(binary: Path, tmp_path: Path) -> None:
    fs = Lossfs(binary, tmp_path / "backing", tmp_path / "mnt")
    try:
        write_file(fs.mount / "f", b"data", fsync=False)
        assert fs.close() == 0
        assert not is_mounted(fs.mount)
        assert (tmp_path / "backing" / "f").read_bytes() == b"data"  # written through
    finally:
        fs.cleanup()


def test_sigterm_unmounts_and_exits_0(binary: Path, tmp_path: Path) -> None:
    fs = Lossfs(binary, tmp_path / "backing", tmp_path / "mnt")
    try:
        fs.proc.send_signal(signal.SIGTERM)
        assert fs.proc.wait(timeout=20) == 0
        assert not is_mounted(fs.mount)
    finally:
        fs.cleanup()


def test_a_busy_mount_is_detached_lazily(binary: Path, tmp_path: Path) -> None:
    fs = Lossfs(binary, tmp_path / "backing", tmp_path / "mnt")
    try:
        held = open(fs.mount / "held", "wb")  # noqa: SIM115 -- held open across the unmount
        try:
            assert fs.close() == 0
            assert "lazily" in fs.stderr()
            assert not is_mounted(fs.mount)
            with pytest.raises(OSError) as failed:
                held.write(b"x")
                held.flush()
            assert failed.value.errno in (errno.ENOTCONN, errno.ECONNABORTED, errno.EIO)
        finally:
            with contextlib.suppress(OSError):  # its write failed: nothing to flush
                held.close()
    finally:
        fs.cleanup()


PARENT = """
import subprocess, sys, time
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
time.sleep(600)
"""


def test_sigkill_of_the_parent_unmounts(binary: Path, tmp_path: Path) -> None:
    backing, mnt = tmp_path / "backing", tmp_path / "mnt"
    backing.mkdir()
    mnt.mkdir()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(binary), str(backing), str(mnt)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pid, ready = parent.stdout.readline().split()
        assert ready == "ready" and is_mounted(mnt)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (is_mounted(mnt) or alive(int(pid))):
            time.sleep(0.1)
        assert not is_mounted(mnt)
        assert not alive(int(pid))
    finally:
        parent.kill()
        parent.wait()
        if is_mounted(mnt):
            subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


def alive(pid: int) -> bool:
    """A process that is running (a zombie waiting for its new parent to reap it is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
