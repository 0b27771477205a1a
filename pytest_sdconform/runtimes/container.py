"""A node as a container: the same spec, command and files as a local node, in its image.

The container is created once (its data on a volume of its own, its network namespace and
address held by a container of its host that is never killed) and started, killed and restarted
in place: a restart keeps data and address, and a killed node's address refuses connections, as
a crashed process's machine does. Its output is followed into ``node.log`` on the harness's
side, with the same "starting" markers as a local node's. Everything goes through the engine's
API, never the host's process table (the engine may be in a VM or on another machine): a pause
is the engine's (the cgroup freezer: every process of the container stops), a kill is its
SIGKILL of the container's init, which takes every process of it.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..faults import FaultUnavailable
from ..faults.preload import read_elf
from ..nodes.disk import Disk
from ..nodes.readiness import START_MARK, Command, LogLine, await_ready
from ..nodes.spec import NodePaths, NodeSpec
from . import RuntimeUnsupported

HOME = PurePosixPath("/sdconform")  # conf: the node's files; data: its volume, its cwd
PATHS = NodePaths(Path(str(HOME)), Path(str(HOME / "data")))


def entrypoint(spec: NodeSpec) -> list[str]:
    """The container's command: the setup (once, marked on the volume), the user, the node."""
    lines = ["set -e", f"cd {PATHS.data}"]
    user = spec.user
    if spec.setup:
        steps = " && ".join(shlex.join([str(a) for a in argv]) for argv in spec.setup)
        if user:
            become = f"setpriv --reuid={user} --regid={user} --init-groups --"
            steps = f"{become} sh -c {shlex.quote(steps)}"
        lines.append(f"[ -e .sdconform-setup ] || {{ {steps}; touch .sdconform-setup; }}")
    if user:
        lines.insert(1, f"chown {user}: {PATHS.data}")
        lines.append(f'exec setpriv --reuid={user} --regid={user} --init-groups -- "$@"')
    else:
        lines.append('exec "$@"')
    return ["/bin/sh", "-c", "\n".join(lines), "sdconform-node", *[str(a) for a in spec.command]]


class ContainerNode:
    """One node of the docker runtime."""

    paths = PATHS
    disk: Disk | None = None  # set by the runtime for a node whose data can lose power

    def __init__(self, spec: NodeSpec, container: Any, log: Path):
        self.spec = spec
        self.container = container
        self.log = log
        self.log.parent.mkdir(parents=True, exist_ok=True)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str:
        return self.spec.address

    @property
    def pid(self) -> int | None:
        """The container's init process, as the host sees it (None when it is not running)."""
        self.container.reload()
        pid = int(self.container.attrs["State"].get("Pid") or 0)
        return pid or None

    kill_scope = "container"  # Docker's SIGKILL of its init takes every process of it

    def is_running(self) -> bool:
        """Up, paused or not (the engine calls a paused container "paused", not "running")."""
        self.container.reload()
        return self.container.status in ("running", "paused")

    def start(self, wait: bool = True) -> None:
        if self.is_running():
            return
        with open(self.log, "ab") as log:
            log.write(f"{START_MARK} {self.name} at {time.ctime()}\n".encode())
        since = int(time.time())
        self.container.start()
        self._follow(since)
        if self.disk is not None:
            self._check_disk()
        if wait:
            self.wait_ready()

    def _follow(self, since: int) -> None:
        stream = self.container.logs(stream=True, follow=True, since=since)

        def copy() -> None:
            with open(self.log, "ab") as log, contextlib.suppress(Exception):
                for chunk in stream:
                    log.write(chunk)
                    log.flush()

        threading.Thread(target=copy, daemon=True, name=f"sdconform-log-{self.name}").start()

    def _check_disk(self) -> None:
        """The node's data must be the lossy filesystem as the node sees it, not merely on the
        host: a power cut of anything else would prove nothing."""
        code, out = self.container.exec_run(["cat", "/proc/self/mounts"])
        mounts = {line.split()[1]: line.split()[2] for line in out.decode().splitlines()
                  if len(line.split()) > 2}
        kind = mounts.get(str(PATHS.data), "")
        if code != 0 or not kind.startswith("fuse"):
            self.stop()
            raise RuntimeUnsupported(
                f"power loss: {self.name}'s {PATHS.data} in the container is "
                f"{kind or 'not a mount'}, not the lossy disk the harness mounted: the engine "
                "does not see this machine's mounts (another machine, a VM, or another mount "
                "namespace)")

    def wait_ready(self, timeout: float | None = None) -> None:
        ready = self.spec.ready
        if ready is None:
            return
        def exit_code() -> int | None:
            if self.is_running():
                return None
            return int(self.container.attrs["State"].get("ExitCode") or 0)

        await_ready(self.name, self.address, ready,
                    self.spec.ready_timeout if timeout is None else timeout, self.log,
                    self._ready_now, exit_code)

    def _ready_now(self, ready: Any) -> bool:
        if isinstance(ready, LogLine):
            return ready.seen_in(self.log)
        if isinstance(ready, Command):  # the node's own tools, inside it: the host may lack them
            code, _ = self.container.exec_run([str(a) for a in ready.argv])
            return bool(code == 0)
        return bool(ready())

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to the container's init (the node's main process)."""
        if not self.is_running():
            return False
        self.container.kill(signal=int(sig))
        return True

    pause_scope = "cgroup freezer"  # the engine's pause: nothing of the container runs

    def is_paused(self) -> bool:
        self.container.reload()
        return bool(self.container.attrs["State"].get("Paused"))

    def kill(self) -> None:
        """The engine's SIGKILL of the container's init, which takes every process of it (a
        paused container is killed as it is: nothing runs before it dies)."""
        if not self.is_running():
            return
        self.container.kill()
        self.container.wait(timeout=10)

    def pause(self) -> None:
        if self.is_running() and not self.is_paused():
            self.container.pause()

    def resume(self) -> None:
        if self.is_running() and self.is_paused():
            self.container.unpause()

    def stop(self, grace: float = 10.0) -> None:
        if not self.is_running():
            return
        self.resume()
        with contextlib.suppress(Exception):
            self.container.stop(timeout=int(grace))
        if self.is_running():
            self.container.kill()

    def execute(self, argv: Sequence[str], timeout: float = 30.0) -> tuple[int, str]:
        code, output = self.container.exec_run([str(a) for a in argv], workdir=str(PATHS.data))
        return int(code), output.decode(errors="replace")

    def read_file(self, path: str) -> bytes:
        stream, _ = self.container.get_archive(str(HOME / path))
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.getmembers()[0]
            extracted = tar.extractfile(member)
            return extracted.read() if extracted else b""

    def write_file(self, path: str, text: str) -> None:
        put_files(self.container, {path: text})


def image_binary_traits(container: Any, binary: str) -> set[str]:
    """What matters for a clock preload about ``binary`` as the container's image has it
    (looked up on the usual PATH, symlinks followed): ``static`` and ``go`` (none reaches
    those). Read from the image through the engine: the host may not have the binary at all."""
    candidates = [binary] if binary.startswith("/") else [
        f"{d}/{binary}" for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
                                  "/sbin", "/bin")]
    for _ in range(8):
        for path in candidates:
            try:
                stream, _stat = container.get_archive(path)
            except Exception:
                continue
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.getmembers()[0]
                if member.issym():
                    target = PurePosixPath(member.linkname)
                    candidates = [str(target if target.is_absolute()
                                      else PurePosixPath(path).parent / target)]
                    break
                extracted = tar.extractfile(member)
                data = extracted.read() if extracted else b""
            with tempfile.NamedTemporaryFile() as copy:
                copy.write(data)
                copy.flush()
                interp, sections, _, _ = read_elf(Path(copy.name))
            traits = set() if interp else {"static"}
            if sections & {".note.go.buildid", ".go.buildinfo"}:
                traits.add("go")
            return traits
        else:
            break
    raise FaultUnavailable(f"clock skew: {binary} not found in the image")


def put_files(container: Any, files: dict[str, str]) -> None:
    """Write files (relative to the node's home) into a container, created or running."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(str(HOME.relative_to("/") / name))
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    container.put_archive("/", buffer.getvalue())
