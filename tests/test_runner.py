"""The runner: timeouts become info with a fresh process, the nemesis is recorded and always
healed, final reads close the history, and a run can stop early once a claim is decided.

The first tests drive an in-process register (they test the runner's mechanics); the last ones
run against a real redis-server under real pause and kill faults.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_sdconform.checkers.linearizable import check_linearizable
from pytest_sdconform.faults.process import Kill, Pause
from pytest_sdconform.history import NEMESIS, History
from pytest_sdconform.nodes.addresses import AddressBlock, free_port
from pytest_sdconform.nodes.readiness import Command
from pytest_sdconform.recorder import Recorder
from pytest_sdconform.runner import RunConfig, Runner, RunStopped, run
from pytest_sdconform.runs import Run
from pytest_sdconform.runtimes.local import LocalRuntime, NodeSpec
from pytest_sdconform.workloads import Invocation, Result
from pytest_sdconform.workloads.register import Register


class MemoryClient:
    """An atomic in-process register; ``hang`` makes every call block (a stuck server)."""

    store: dict[str, Any] = {}
    lock = threading.Lock()
    hang = threading.Event()

    def invoke(self, op: Invocation) -> Result:
        while self.hang.is_set():
            time.sleep(0.01)
        with self.lock:
            if op.f == "read":
                return Result("ok", self.store.get(op.key))
            self.store[op.key] = op.value
            return Result("ok")

    def close(self) -> None:
        pass


class Hang:
    """A fault that makes the in-process server stop answering."""

    name = "hang"

    def __init__(self) -> None:
        self.stops = 0

    def start(self) -> dict[str, Any]:
        MemoryClient.hang.set()
        return {}

    def stop(self) -> dict[str, Any]:
        self.stops += 1
        MemoryClient.hang.clear()
        return {}


def fast(**kw: Any) -> RunConfig:
    return RunConfig(
        **{
            "duration": 1.5,
            "concurrency": 3,
            "op_timeout": 0.2,
            "quiet": 0.3,
            "fault_duration": 0.4,
            "settle": 0.1,
            "op_delay": 0.001,
            **kw,
        }
    )


def test_timeouts_are_info_with_a_fresh_process_and_faults_are_recorded(tmp_path: Path) -> None:
    MemoryClient.store = {}
    fault = Hang()
    with Recorder(tmp_path / "history.jsonl") as rec:
        h = run(Register(keys=2), lambda i: MemoryClient(), rec, [fault], fast())
    done = h.complete()
    infos = [c for c in done if c.type == "info"]
    assert infos, "operations hung by the fault must time out as info"
    later = {c.process for c in done if c.invoke.index > infos[0].invoke.index}
    assert infos[0].process not in later  # an info retires its process id
    names = [op.f for op in h if op.process == NEMESIS and op.type == "info"]
    assert names[:3] == ["hang-start", "hang-stop", "hang-healed"]
    # Each start is invoked before the fault acts: the window's onset; proven at its start.
    starts = [op for op in h if op.process == NEMESIS and op.f == "hang-start"]
    assert [op.type for op in starts[:2]] == ["invoke", "info"]
    window = h.fault_windows()[0]
    assert (window.onset, window.start) == (starts[0].time, starts[1].time)
    assert window.value == starts[1].value
    assert names.count("hang-start") == names.count("hang-stop") == names.count("hang-healed")
    finals = [c for c in done if c.invoke.get("final")]
    assert [c.key for c in finals] == ["k0", "k1"] and all(c.type == "ok" for c in finals)
    assert fault.stops >= 2  # healed after each window and once more at the end
    assert not MemoryClient.hang.is_set()
    assert check_linearizable(h, "cas-register").result == "valid"


def test_stop_when_ends_the_run_early(tmp_path: Path) -> None:
    MemoryClient.store = {}
    started = time.monotonic()
    with Recorder() as rec:
        h = run(
            Register(),
            lambda i: MemoryClient(),
            rec,
            (),
            fast(duration=30, decide_every=0.2),
            stop_when=lambda recorder: recorder.counts().ops > 50,
        )
    assert time.monotonic() - started < 10 and len(h) > 50


def test_slow_looks_are_spaced_out_to_a_share_of_the_run(tmp_path: Path) -> None:
    """A look that takes 0.3 s is followed by the next no sooner than 2.7 s later (looks take
    at most DECIDE_SHARE of the time): in 2 s of traffic, one look, not one every 0.1 s."""
    MemoryClient.store = {}
    looks = []

    def slow(recorder: Recorder) -> bool:
        looks.append(recorder.counts().ops)
        time.sleep(0.3)
        return False

    with Recorder() as rec:
        run(Register(), lambda i: MemoryClient(), rec, (), fast(duration=2, decide_every=0.1),
            stop_when=slow)
    assert len(looks) <= 1


def test_the_progress_line_says_what_the_recorder_counted() -> None:
    with Recorder() as rec:
        runner = Runner(Register(), lambda i: MemoryClient(), rec, [Hang()], fast(duration=30))
        for p, outcome in enumerate(["ok", "ok", "fail", "info"]):
            rec.record(p, "invoke", "write", "k", p)
            rec.record(p, outcome, "write", "k", p)
        rec.record(p + 1, "invoke", "read", "k")  # in flight
        rec.record(NEMESIS, "info", "hang-start", value={})
        runner.active.append(runner.faults[0])
        assert runner._status(12.3) == "12s/30s: 2 ok, 1 fail, 1 info; faults: hang"


class Broken:
    name = "broken"

    def start(self) -> dict[str, Any]:
        raise RuntimeError("the probe says the cut did not take effect")

    def stop(self) -> dict[str, Any]:
        return {}


def test_a_fault_that_does_not_take_effect_stops_the_run(tmp_path: Path) -> None:
    with Recorder() as rec, pytest.raises(RunStopped, match="did not take effect"):
        run(Register(), lambda i: MemoryClient(), rec, [Broken()], fast(duration=5))


class ClashingClient(MemoryClient):
    """A client that names a result field after one of the history's own."""

    def invoke(self, op: Invocation) -> Result:
        result = super().invoke(op)
        return Result(result.type, result.value, extra={"type": "mine"})


def test_a_client_field_that_clashes_with_the_historys_stops_the_run_saying_so() -> None:
    with Recorder() as rec, pytest.raises(RunStopped, match=r"a client worker failed: "
                                          r"ValueError: the (read|write) client's result "
                                          r"field.s. type clash with the history's own"):
        run(Register(), lambda i: ClashingClient(), rec, [], fast(duration=2))


# --- a real redis-server ---------------------------------------------------------------------

needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (apt-get install redis-server)",
)


class RedisClient:
    def __init__(self, address: str, port: int):
        import redis

        self.r = redis.Redis(address, port, socket_timeout=0.3, socket_connect_timeout=0.3)

    def invoke(self, op: Invocation) -> Result:
        import redis

        try:
            if op.f == "read":
                raw = self.r.get(op.key)
                return Result("ok", None if raw is None else int(raw))
            self.r.set(op.key, op.value)
            return Result("ok")
        except redis.ConnectionError as e:
            if op.f == "read" or "Connection refused" in str(e):
                return Result("fail", error=str(e))  # nothing was sent: it did not happen
            return Result("info", error=str(e))

    def close(self) -> None:
        self.r.close()


def redis_node(address: str, port: int, durable: bool) -> NodeSpec:
    persistence = (
        ["--appendonly", "yes", "--appendfsync", "always"] if durable else ["--appendonly", "no"]
    )
    return NodeSpec(
        "n1",
        address,
        [
            "redis-server",
            "--bind",
            address,
            "--port",
            str(port),
            "--save",
            "",
            "--protected-mode",
            "no",
            *persistence,
        ],
        ready=Command(["redis-cli", "-h", address, "-p", str(port), "ping"]),
    )


def redis_run(run_: Run, block: AddressBlock, fault: str, durable: bool,
              keys: int = 3) -> History:
    address, port = block.node(1), free_port(block.node(1))
    runtime = LocalRuntime(run_)
    try:
        (node,) = runtime.start([redis_node(address, port, durable)])
        faults = [Pause([node])] if fault == "pause" else [Kill([node])]
        with Recorder(run_.folder / "history.jsonl") as rec:
            return run(
                Register(keys=keys),
                lambda i: RedisClient(address, port),
                rec,
                faults,
                fast(duration=4, quiet=0.5, fault_duration=1.0, op_timeout=0.5),
            )
    finally:
        runtime.stop_all()


@needs_redis
@pytest.mark.integration
def test_single_redis_is_linearizable_under_pause(run: Run, block: AddressBlock) -> None:
    h = redis_run(run, block, "pause", durable=False)
    assert any(op.f == "pause-start" for op in h)
    assert sum(c.type == "ok" for c in h.complete()) > 50
    assert check_linearizable(h, "cas-register").result == "valid"


@needs_redis
@pytest.mark.integration
def test_redis_without_persistence_loses_writes_on_kill(run: Run, block: AddressBlock) -> None:
    # ten keys: the loss shows when some key is read before it is written again after the
    # restart (with three, a loaded machine once wrote all three first: no null read, valid)
    h = redis_run(run, block, "kill", durable=False, keys=10)
    assert any(op.f == "kill-start" for op in h) and any(op.f == "kill-stop" for op in h)
    # After a restart on an empty data set, reads return null for acknowledged writes.
    assert check_linearizable(h, "cas-register").result == "invalid"


def test_a_fault_runs_its_full_course_when_the_duration_ends_during_it(tmp_path: Path) -> None:
    MemoryClient.store = {}
    with Recorder() as rec:
        h = run(Register(keys=1), lambda i: MemoryClient(), rec, [Slow()],
                fast(duration=0.5, quiet=0.3, fault_duration=1.0))
    (window,) = h.fault_windows()
    assert window.end is not None and (window.end - window.start) / 1e9 >= 1.0
    # the clients kept going until the heal, not only until the duration's end (0.2 s into
    # the window): they were still invoking in the window's second half
    last = max(c.invoke.time for c in h.complete() if not c.is_final)
    assert last >= window.start + (window.end - window.start) / 2


class Slow:
    """A fault that breaks nothing: its window is what is measured."""

    name = "slow"

    def start(self) -> dict[str, Any]:
        return {}

    def stop(self) -> dict[str, Any]:
        return {}


class Named(Slow):
    def __init__(self, name: str) -> None:
        self.name = name


def test_a_written_schedule_is_followed_step_by_step_and_nothing_after(tmp_path: Path) -> None:
    from pytest_sdconform.faults.schedule import Schedule, Step

    MemoryClient.store = {}
    faults = [Named("a"), Named("b"), Named("c")]
    schedule = Schedule((Step(((2, "c"),), 0.2, 0.5), Step(((0, "a"), (1, "b")), 0.3, 0.4)))
    with Recorder() as rec:
        h = run(Register(keys=1), lambda i: MemoryClient(), rec, faults,
                fast(duration=0.0, quiet=0.2, schedule=schedule))
    windows = h.fault_windows()
    assert [w.fault for w in windows] == ["c", "a", "b"]
    c, a, b = windows
    assert c.end is not None and (c.end - c.start) / 1e9 >= 0.5
    assert b.end is not None and (a.start - c.end) / 1e9 >= 0.3 and a.start < b.end  # together
    # traffic until the schedule's end and a quiet span after it
    last = max(c.invoke.time for c in h.complete() if not c.is_final)
    assert last > b.end  # invoked after the last heal: during the quiet span that follows
