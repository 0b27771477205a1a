"""A node as a local process: on its own loopback address, in its own process group.

A node has its own data folder and captured log under the run folder, starts in a new process
group (so its children, such as PostgreSQL backends, are signalled with it), and may join a
cgroup (for partitions: outgoing traffic of the cgroup is rewritten to the node's address) and
run as another user. Every process is written in the run's ledger by pid and start time, and is
stopped by pid: never by name.

A node that runs as another user (PostgreSQL runs as ``postgres``) cannot be trusted to reach
the run folder: the report folder is the user's, and may be closed to everyone else
(``mktemp -d``, a umask of 077). Such a node keeps its data in the run's registry instead
(``$SDCONFORM_STATE/runs/<run>/nodes/<node>/data``), a folder of the user's own (mode 0700);
the harness's folders above it get the execute bit for others (enter, not list: nothing is
made readable that was not), and the user's report folder is left as it is. Its log stays in
the case folder (the harness writes it). The registry goes with the run (``Run.forget``, also
from ``sdconform cleanup`` after a killed run), so the data goes with it, and the ledger names
the folder.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..nodes.disk import Disk
from ..nodes.readiness import START_MARK, LogLine, NodeStartError, Readiness, await_ready
from ..nodes.spec import NodePaths, NodeSpec
from ..runs import Run, is_same_process, process_start_time, state_dir

__all__ = ["LocalNode", "local_paths", "process_state", "stop_recorded_process", "wait_for_state"]


def local_paths(run: Run, name: str, user: str | None = None) -> NodePaths:
    """A node's folder under the run (its files, its log) and its data folder (created)."""
    folder = (run.folder / "nodes" / name).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if user:
        return NodePaths(folder, user_data_folder(run, name, user))
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    return NodePaths(folder, data)


def process_state(pid: int) -> str | None:
    """The one-letter state of a process (R, S, T, Z...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def wait_for_state(pid: int, wanted: Callable[[str | None], bool], timeout: float = 2.0) -> bool:
    """A signal takes effect when the target is next scheduled, not when kill() returns."""
    deadline = time.monotonic() + timeout
    while not wanted(process_state(pid)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class LocalNode:
    """A running (or stopped) node process: start, kill, pause, resume, stop."""

    def __init__(self, spec: NodeSpec, run: Run, cgroup: Path | None = None,
                 paths: NodePaths | None = None):
        self.spec = spec
        self.run = run
        self.cgroup = cgroup
        self.paths = paths or local_paths(run, spec.name, spec.user)
        self.folder = self.paths.conf
        self.data = self.paths.data
        self.log = self.folder / "node.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.prepared = False
        self.disk: Disk | None = None  # set by the runtime for a node on a lossy disk

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str:
        return self.spec.address

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def kill_scope(self) -> str:
        return "process tree" if self.spec.kill_tree else "process group"

    def is_running(self) -> bool:
        """Running, and not a zombie waiting to be reaped."""
        if self.process is None or self.process.poll() is not None:
            return False
        return process_state(self.process.pid) not in (None, "Z")

    def _argv(self) -> list[str]:
        argv = [str(a) for a in self.spec.command]
        if self.spec.user:
            argv = [
                "setpriv",
                f"--reuid={self.spec.user}",
                f"--regid={self.spec.user}",
                "--init-groups",
                "--",
                *argv,
            ]
        if self.cgroup is not None:
            # Join the cgroup first, then become the server: no preexec_fn in a threaded process.
            procs = shlex.quote(str(self.cgroup / "cgroup.procs"))
            argv = ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sdconform-node", *argv]
        return argv

    def execute(self, argv: Sequence[str], timeout: float = 30.0) -> tuple[int, str]:
        done = subprocess.run([str(a) for a in argv], cwd=self.data, capture_output=True,
                              text=True, timeout=timeout, check=False)
        return done.returncode, done.stdout + done.stderr

    def read_file(self, path: str) -> bytes:
        """A file of the node (relative to its folder), e.g. ``data/appendonly.aof``."""
        return (self.folder / path).read_bytes()

    def write_file(self, path: str, text: str) -> None:
        target = self.folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def prepare(self) -> None:
        """Before the first start: write the spec's files and run its setup commands."""
        if self.prepared:
            return
        for name, text in self.spec.files.items():
            self.write_file(name, text)
        for argv in self.spec.setup:
            command = [str(a) for a in argv]
            if self.spec.user:
                command = ["setpriv", f"--reuid={self.spec.user}", f"--regid={self.spec.user}",
                           "--init-groups", "--", *command]
            done = subprocess.run(command, cwd=self.data, capture_output=True, text=True,
                                  timeout=300, env={**os.environ, **self.spec.env}, check=False)
            if done.returncode != 0:
                raise NodeStartError(f"{self.name}: setup {' '.join(command[:3])}... failed: "
                                     f"{(done.stdout + done.stderr)[-2000:]}")
        self.prepared = True

    def start(self, wait: bool = True) -> None:
        """Start the process (on the same data folder after a kill) and wait until it is ready."""
        if self.is_running():
            return
        self.prepare()
        if self.spec.user:
            subprocess.run(["chown", "-R", f"{self.spec.user}:", str(self.data)], check=False)
        with open(self.log, "ab") as log:
            log.write(f"{START_MARK} {self.name} at {time.ctime()}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data,
                env={**os.environ, **self.spec.env},
                start_new_session=True,
            )
        self.paused = False
        self.run.record(
            "process",
            name=self.name,
            pid=self.process.pid,
            start_time=process_start_time(self.process.pid),
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float | None = None) -> None:
        ready = self.spec.ready
        if ready is None:
            return
        def exit_code() -> int | None:
            if self.is_running():
                return None
            code = None if self.process is None else self.process.returncode
            return -1 if code is None else code

        def check(r: Readiness) -> bool:
            return r.seen_in(self.log) if isinstance(r, LogLine) else r()

        await_ready(self.name, self.address, ready,
                    self.spec.ready_timeout if timeout is None else timeout, self.log,
                    check, exit_code)

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to the node's process group; False if it is not running."""
        if not self.is_running():
            return False
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL: the process dies at once and leaves its data as a crash would. With the
        spec's ``kill_tree``, every descendant too (they may have left the process group)."""
        if self.paused:
            self.signal(signal.SIGCONT)
        if self.spec.kill_tree and self.pid is not None and self.is_running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGSTOP)  # no more forks while we look
            for child in descendants(self.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
        self.signal(signal.SIGKILL)
        self._reap(10)
        self.paused = False

    pause_scope = "SIGSTOP"

    def pause(self) -> None:
        """SIGSTOP the process group; a signal takes effect when the process is next
        scheduled, so this waits (briefly) until the kernel shows it stopped."""
        if self.signal(signal.SIGSTOP):
            self.paused = True
            if self.pid is not None:
                wait_for_state(self.pid, lambda s: s == "T")

    def resume(self) -> None:
        if self.signal(signal.SIGCONT):
            self.paused = False
            if self.pid is not None:
                wait_for_state(self.pid, lambda s: s != "T")

    def is_paused(self) -> bool:
        return self.pid is not None and process_state(self.pid) == "T"

    def stop(self, grace: float = 10.0) -> None:
        """Ask politely (the spec's stop signal), then SIGKILL after ``grace`` seconds."""
        if not self.is_running():
            return
        if self.paused:
            self.resume()
        self.signal(self.spec.stop_signal)
        if not self._reap(grace):
            self.signal(signal.SIGKILL)
            self._reap(10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def _reap(self, timeout: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat_line = (entry / "stat").read_text()
                parent = int(stat_line.rsplit(")", 1)[1].split()[1])
                parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def user_data_folder(run: Run, node: str, user: str) -> Path:
    """A node's data folder for a node that runs as ``user``: in the run's registry, owned by
    ``user`` with mode 0700, on a path ``user`` can enter (raises NodeStartError naming the
    folder in the way when it cannot: ``$SDCONFORM_STATE`` inside a private folder)."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise NodeStartError(f"{node} runs as {user}, a user this machine does not have") from None
    home = run.registry / "nodes" / node
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    # Enter, not list: others get the execute bit on the harness's own folders above the node's.
    ours = [state_dir(), state_dir() / "runs", run.registry, run.registry / "nodes"]
    for folder in ours:
        _allow_entry(folder)
    for path in (home, data):
        os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(path, 0o700)
    run.record("folder", name=node, path=str(data), user=user)
    if not _user_can_enter(user, data):
        blocked = next((p for p in reversed(data.parents) if not _user_can_enter(user, p)), data)
        raise NodeStartError(
            f"{node} runs as {user}, who cannot enter {data}: {blocked} is closed to {user}. "
            f"Point SDCONFORM_STATE at a folder {user} can enter (it is {state_dir()})"
        )
    return data


def _allow_entry(folder: Path) -> None:
    try:
        st = folder.stat()
    except OSError:
        return
    if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IXOTH:
        os.chmod(folder, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def _user_can_enter(user: str, folder: Path) -> bool:
    probe = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--",
             "/bin/sh", "-c", 'cd "$1"', "sdconform-probe", str(folder)]
    return subprocess.run(probe, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False).returncode == 0


def stop_recorded_process(pid: int, start_time: int | None) -> bool:
    """Kill a process (and its group) from a ledger, only if it is still that same process."""
    if not is_same_process(pid, start_time):
        return False
    for sig in (signal.SIGCONT, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return True
    return True
