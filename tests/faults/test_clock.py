"""Clock skew: which binaries each method can skew (measured on real processes), the shim's build,
and the fault's proof, heal and refusal."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from pytest_sdconform.faults import FaultNotEffective, FaultUnavailable, preload
from pytest_sdconform.faults.clock import (
    ClockControl,
    ClockSkew,
    binary_traits,
    faketime_offset,
    find_libfaketime,
    method_for,
    observe,
)
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.nodes.readiness import TcpPort
from pytest_sdconform.runs import Run
from pytest_sdconform.runtimes.local import LocalRuntime, NodeSpec


def need(command: str, why: str) -> None:
    if shutil.which(command) is None:
        pytest.skip(f"{command} is not installed: {why}")


def need_libfaketime() -> None:
    if find_libfaketime() is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")


def need_gcc() -> None:
    need("gcc", "the clock shim is compiled with it (apt-get install gcc)")


class LineProbe:
    """A process that answers each line on its stdin with a line whose first word is its clock."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], scale: float = 1.0):
        self.name = argv[0]
        self.scale = scale
        self.buffer = b""
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **env},
            bufsize=0,
        )

    def readline(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                raise TimeoutError(f"no answer in {timeout}s: {self.name} hangs")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise EOFError(f"{self.name} exited with {self.proc.wait()}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def ask(self) -> list[str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"t\n")
        return self.readline().split()

    def __call__(self) -> float:
        return float(self.ask()[0]) * self.scale

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the loop ends: a clean exit lets libfaketime remove its shm
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def skew_and_heal(control: ClockControl, node: str, probe: LineProbe, ms: int) -> None:
    """The fault's round trip on a running process: true, then ``ms`` off, then true again."""
    low, high = observe(probe)
    assert low - 0.5 <= 0 <= high + 0.5, "the clock is off before the fault"
    fault = ClockSkew(control, ms, probes={node: probe})
    started = fault.start()
    assert started["unproven"] == {}
    assert abs(started["observed_ms"][node] - ms) < 500
    stopped = fault.stop()
    assert stopped["offsets_ms"] == {node: 0} and stopped["unproven"] == {}
    assert abs(stopped["observed_ms"][node]) < 500
    assert fault.stop()["offsets_ms"] == {}  # idempotent


# -- which method for which binary ---------------------------------------------------------


def test_offsets_in_libfaketime_syntax() -> None:
    assert [faketime_offset(ms) for ms in (0, 300_000, -3_600_000, 250, -1500)] == [
        "+0",
        "+300",
        "-3600",
        "+0.250",
        "-1.500",
    ]


def test_a_glibc_program_takes_libfaketime_and_a_script_its_interpreter(tmp_path: Path) -> None:
    assert method_for("date") == "libfaketime"
    assert method_for("date", prefer="shim") == "shim"
    script = tmp_path / "run.sh"
    script.write_text("#!/usr/bin/env sh\nexec true\n")
    assert method_for(script) == method_for("sh") == "libfaketime"
    with pytest.raises(ValueError):
        method_for("date", prefer="ntp")


def test_a_binary_with_its_own_getenv_takes_the_shim() -> None:
    assert "getenv" in binary_traits("bash")
    assert method_for("bash") == "shim"
    with pytest.raises(FaultUnavailable, match="getenv"):
        method_for("bash", prefer="libfaketime")


def test_a_binary_that_sleeps_on_an_absolute_monotonic_deadline_takes_the_shim() -> None:
    # Python >= 3.11 sleeps with clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME).
    assert "clock_nanosleep" in binary_traits(sys.executable)
    assert method_for(sys.executable) == "shim"
    with pytest.raises(FaultUnavailable, match="EINVAL"):
        method_for(sys.executable, prefer="libfaketime")


def test_jemalloc_takes_the_shim() -> None:
    need("redis-server", "apt-get install redis-server")
    assert "jemalloc" in binary_traits("redis-server")
    assert method_for("redis-server") == "shim"
    with pytest.raises(FaultUnavailable, match="hangs"):
        method_for("redis-server", prefer="libfaketime")


def test_a_node_started_as_another_user_takes_the_shim() -> None:
    assert method_for("date", user="nobody") == "shim"
    with pytest.raises(FaultUnavailable, match="sem_open"):
        method_for("date", prefer="libfaketime", user="nobody")


def test_static_binaries_and_non_binaries_are_refused(tmp_path: Path) -> None:
    static = Path("/sbin/ldconfig")  # static-pie on Debian
    if static.exists():
        with pytest.raises(FaultUnavailable, match="statically linked"):
            method_for(static)
    text = tmp_path / "notes.txt"
    text.write_text("not a program\n")
    with pytest.raises(FaultUnavailable, match="not a 64-bit"):
        method_for(text)
    with pytest.raises(FaultUnavailable, match="not found"):
        method_for(tmp_path / "missing")


def test_stale_libfaketime_shared_memory_is_removed(tmp_path: Path) -> None:
    dead, alive = 4_194_305, os.getpid()  # above the largest pid Linux hands out
    names = [f"faketime_shm_{dead}", f"sem.faketime_sem_{dead}", f"faketime_shm_{alive}"]
    for name in names:
        (tmp_path / name).write_bytes(b"\0" * 8)
    removed = preload.remove_stale_faketime_shm(tmp_path)
    assert sorted(p.name for p in removed) == sorted(names[:2])
    assert (tmp_path / names[2]).exists()


def test_the_shim_is_rebuilt_when_its_source_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_gcc()
    monkeypatch.setenv("SDCONFORM_CACHE", str(tmp_path / "cache"))
    first = preload.shim_library()
    assert preload.shim_library() == first  # cached
    source = tmp_path / "clockshim.c"
    source.write_text(preload.SHIM_SOURCE.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(preload, "SHIM_SOURCE", source)
    second = preload.shim_library()
    assert second != first and second.exists() and first.exists()


# -- the fault's bookkeeping ----------------------------------------------------------------


def test_without_a_probe_the_fault_says_it_is_unproven(tmp_path: Path) -> None:
    need_gcc()
    control = ClockControl(tmp_path / "clock")
    env = control.skew_env("n1", "shim")
    assert Path(env["LD_PRELOAD"]).parent == control.folder  # readable by any node user
    fault = ClockSkew(control, {"n1": -2500})
    started = fault.start()
    assert started["offsets_ms"] == {"n1": -2500} and started["observed_ms"] == {}
    assert "no probe" in started["unproven"]["n1"]
    assert control.control_file("n1", "shim").read_text() == "-2500\n"
    fault.stop()
    assert control.control_file("n1", "shim").read_text() == "0\n"


def test_a_node_that_ignores_the_skew_is_caught_and_reset(tmp_path: Path) -> None:
    need_gcc()
    control = ClockControl(tmp_path / "clock")
    control.skew_env("n1", "shim")
    fault = ClockSkew(control, 60_000, probes={"n1": time.time}, timeout=0.5)
    with pytest.raises(FaultNotEffective, match=r"n1: want \+60.000 s"):
        fault.start()
    assert control.control_file("n1", "shim").read_text() == "0\n"


def test_a_node_started_without_the_environment_is_unavailable(tmp_path: Path) -> None:
    fault = ClockSkew(ClockControl(tmp_path / "clock"), {"n9": 1000})
    with pytest.raises(FaultUnavailable, match="n9"):
        fault.start()


# -- real processes -------------------------------------------------------------------------

BASH_CLOCK = 'while read -r _; do echo "$EPOCHREALTIME"; done'
PYTHON_CLOCK = (
    "import sys, time\n"
    "while sys.stdin.readline():\n"
    "    time.sleep(0.001)\n"  # an absolute monotonic sleep: must keep working
    "    print(time.time(), flush=True)\n"
)
PYTHON_CLOCK_NO_SLEEP = PYTHON_CLOCK.replace("    time.sleep(0.001)\n", "")


@pytest.fixture
def processes() -> Iterator[list[LineProbe]]:
    started: list[LineProbe] = []
    yield started
    for probe in started:
        probe.close()
    preload.remove_stale_faketime_shm()  # what a killed libfaketime process leaves


@pytest.mark.integration
def test_libfaketime_moves_a_running_python(tmp_path: Path, processes: list[LineProbe]) -> None:
    # Python >= 3.11 is steered to the shim because its time.sleep fails under libfaketime;
    # a Python that never sleeps shows that libfaketime itself follows the control file.
    need_libfaketime()
    control = ClockControl(tmp_path / "clock")
    env = control.skew_env("n1", "libfaketime")
    assert env["LD_PRELOAD"].endswith("libfaketime.so.1")
    processes.append(probe := LineProbe([sys.executable, "-c", PYTHON_CLOCK_NO_SLEEP], env))
    skew_and_heal(control, "n1", probe, 42_000)


@pytest.mark.integration
@pytest.mark.parametrize(
    "argv",
    [[sys.executable, "-c", PYTHON_CLOCK], ["bash", "-c", BASH_CLOCK]],
    ids=["python", "bash"],
)
def test_the_shim_moves_a_running_process_backwards(
    argv: list[str], tmp_path: Path, processes: list[LineProbe]
) -> None:
    need_gcc()
    control = ClockControl(tmp_path / "clock")
    env = control.skew_env("n1", method_for(argv[0]))
    assert "SDCONFORM_CLOCK_FILE" in env
    processes.append(probe := LineProbe(argv, env))
    skew_and_heal(control, "n1", probe, -3_600_000)


@pytest.mark.integration
def test_libfaketime_does_not_move_bash(tmp_path: Path, processes: list[LineProbe]) -> None:
    # The measurement behind BREAKS[("getenv", "libfaketime")].
    need_libfaketime()
    control = ClockControl(tmp_path / "clock")
    env = control.skew_env("n1", "libfaketime")
    control.set_offset("n1", 42_000)
    processes.append(probe := LineProbe(["bash", "-c", BASH_CLOCK], env))
    low, high = observe(probe)
    assert low - 0.5 <= 0 <= high + 0.5


def redis_server(address: str, port: int) -> list[str]:
    return [
        "redis-server",
        "--bind",
        address,
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
    ]


@pytest.mark.integration
def test_redis_under_the_shim_starts_and_its_time_moves(run: Run, block: AddressBlock) -> None:
    need("redis-server", "apt-get install redis-server")
    need_gcc()
    redis = pytest.importorskip("redis", reason="redis-py is needed to talk to redis-server")
    address, port = block.node(1), 6379
    control = ClockControl(run.folder / "clock")
    method = method_for("redis-server")
    spec = NodeSpec(
        "n1",
        address,
        redis_server(address, port),
        ready=TcpPort(address, port),
        env=control.skew_env("n1", method),
        ready_timeout=20,
    )
    runtime = LocalRuntime(run)
    try:
        runtime.start([spec])  # under libfaketime it never becomes ready
        client = redis.Redis(address, port, socket_timeout=5)

        def redis_time() -> float:
            seconds, micros = client.time()
            return float(seconds + micros / 1e6)

        client.set("ttl-100s", "v", ex=100)
        fault = ClockSkew(control, {"n1": 300_000}, probes={"n1": redis_time})
        started = fault.start()
        assert started["methods"] == {"n1": "shim"}
        assert abs(started["observed_ms"]["n1"] - 300_000) < 500
        assert client.get("ttl-100s") is None  # 300 s later, in the node's eyes
        stopped = fault.stop()
        assert abs(stopped["observed_ms"]["n1"]) < 500
        assert runtime.nodes["n1"].is_running()
    finally:
        runtime.stop_all()


@pytest.mark.integration
def test_redis_under_libfaketime_hangs(tmp_path: Path, block: AddressBlock) -> None:
    # The measurement behind BREAKS[("jemalloc", "libfaketime")]; kept short, it only waits 3 s.
    need("redis-server", "apt-get install redis-server")
    need_libfaketime()
    address, port = block.node(1), 6379
    env = ClockControl(tmp_path / "clock").skew_env("n1", "libfaketime")
    server = subprocess.Popen(
        redis_server(address, port),
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not TcpPort(address, port)():
            time.sleep(0.1)
        assert server.poll() is None and not TcpPort(address, port)()
    finally:
        server.kill()  # it ignores SIGTERM in this state
        out = server.communicate()[0].decode(errors="replace")
        preload.remove_stale_faketime_shm()
    assert "recursive calls to clock_gettime" in out


@pytest.mark.integration
@pytest.mark.parametrize("method", ["libfaketime", "shim"])
def test_a_node_switched_to_another_user_by_setpriv(method: str) -> None:
    # How LocalNode starts a NodeSpec with a user: setpriv, itself under LD_PRELOAD, execs the
    # server. The measurement behind BREAKS[("other-user", "libfaketime")].
    need("setpriv", "apt-get install util-linux")
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    need_libfaketime() if method == "libfaketime" else need_gcc()
    # Not tmp_path: pytest keeps it private to root, and nobody must reach the control file.
    folder = Path(tempfile.mkdtemp(prefix="sdconform-clock-"))
    try:
        folder.chmod(0o755)
        control = ClockControl(folder / "clock")
        env = control.skew_env("n1", method)
        control.set_offset("n1", 300_000)
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                "date", "+%s"]  # fmt: skip
        done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True)
    finally:
        shutil.rmtree(folder)
        preload.remove_stale_faketime_shm()  # setpriv exec'd: its shared memory is left
    if method == "libfaketime":
        assert done.returncode != 0 and "sem_open failed" in done.stderr
    else:
        assert done.returncode == 0 and abs(int(done.stdout) - time.time() - 300) < 5


JAVA_CLOCK = """
public class Clock {
    public static void main(String[] args) throws Exception {
        Thread.sleep(20);  // timed waits of several kinds: a broken interposer hangs or throws here
        Object lock = new Object();
        synchronized (lock) { lock.wait(20); }
        java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
        System.out.println("ready");
        while (in.readLine() != null) {
            Thread.sleep(1);
            System.out.println(System.currentTimeMillis() + " " + System.nanoTime());
        }
    }
}
"""


@pytest.mark.integration
@pytest.mark.parametrize("method", ["libfaketime", "shim"])
def test_both_methods_move_a_jvm_and_leave_its_nanotime_alone(
    method: str, tmp_path: Path, processes: list[LineProbe]
) -> None:
    need("java", "apt-get install default-jre-headless")
    need("javac", "the probe program is compiled with it (apt-get install default-jdk-headless)")
    if method == "libfaketime":
        need_libfaketime()
    else:
        need_gcc()
    assert "jvm" in binary_traits("java")
    assert method_for("java") == "libfaketime"  # measured: both work, so the first choice
    (tmp_path / "Clock.java").write_text(JAVA_CLOCK)
    subprocess.run(["javac", "-d", str(tmp_path), str(tmp_path / "Clock.java")], check=True)
    control = ClockControl(tmp_path / "clock")
    env = control.skew_env("n1", method_for("java", prefer=method))
    processes.append(probe := LineProbe(["java", "-cp", str(tmp_path), "Clock"], env, 1e-3))
    assert probe.readline(timeout=60) == "ready"  # it starts: no hang
    nano_before, mono_before = int(probe.ask()[1]), time.monotonic()
    skew_and_heal(control, "n1", probe, 300_000)
    nano_after, mono_after = int(probe.ask()[1]), time.monotonic()
    # The JVM's monotonic clock ran with ours through both jumps of its wall clock.
    assert abs((nano_after - nano_before) / 1e9 - (mono_after - mono_before)) < 1.0


GO_CLOCK = """package main

import (
	"fmt"
	"net"
	"time"
)

var _ = net.IPv4len // net makes a cgo build link dynamically, so LD_PRELOAD does load

func main() { fmt.Println(float64(time.Now().UnixMicro()) / 1e6) }
"""


@pytest.mark.integration
def test_go_is_refused_because_neither_library_reaches_its_clock(tmp_path: Path) -> None:
    need("go", "the Go toolchain builds the probe program")
    need_gcc()
    (tmp_path / "main.go").write_text(GO_CLOCK)
    (tmp_path / "go.mod").write_text("module clockprobe\n\ngo 1.20\n")
    built = subprocess.run(
        ["go", "build", "-o", "clock", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "CGO_ENABLED": "1"},
    )
    if built.returncode != 0:
        pytest.skip(f"go build (cgo) failed: {built.stderr.strip()[-300:]}")
    binary = tmp_path / "clock"
    with pytest.raises(FaultUnavailable, match="vDSO"):
        method_for(binary)
    # The measurement behind the refusal: a dynamically linked Go binary loads the shim, and
    # its clock does not move.
    control = ClockControl(tmp_path / "ctl")
    env = control.skew_env("n1", "shim")
    control.set_offset("n1", 300_000)
    shown = float(
        subprocess.run(
            [str(binary)], capture_output=True, text=True, check=True, env={**os.environ, **env}
        ).stdout
    )
    assert abs(shown - time.time()) < 5


def test_the_control_folder_is_absolute_whatever_the_run_folder_was_given_as(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A node starts in its own data folder: a relative control path would name nothing there.
    from pytest_sdconform.faults.clock import ClockControl

    monkeypatch.chdir(tmp_path)
    control = ClockControl(Path("reports") / "run" / "clock")
    assert control.folder.is_absolute()
    assert control.folder == tmp_path / "reports" / "run" / "clock"
