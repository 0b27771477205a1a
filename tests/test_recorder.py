"""The recorder: thread-safe, written per operation, so a killed run keeps what it recorded;
its running counts agree with the history."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_sdconform.formats import read_history
from pytest_sdconform.history import NEMESIS
from pytest_sdconform.recorder import Counts, Recorder


def test_threads_record_a_consistent_history(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    with Recorder(path) as rec:

        def client(p: int) -> None:
            for i in range(200):
                rec.record(p, "invoke", "write", "k", p * 1000 + i)
                rec.record(p, "ok", "write", "k", p * 1000 + i)

        threads = [threading.Thread(target=client, args=(p,)) for p in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    h = read_history(str(path))
    assert len(h) == 3200 and [op.index for op in h] == list(range(3200))
    assert all(a.time <= b.time for a, b in zip(h.ops, h.ops[1:], strict=False))
    assert len(h.complete()) == 1600
    assert len(rec.history()) == 3200


SCRIPT = """
import sys, threading
from pytest_sdconform.recorder import Recorder
rec = Recorder(sys.argv[1])
def client(p):
    i = 0
    while True:
        rec.record(p, "invoke", "add", "s", i)
        rec.record(p, "ok", "add", "s", i)
        i += 1
for p in range(4):
    threading.Thread(target=client, args=(p,), daemon=True).start()
print("running", flush=True)
threading.Event().wait()
"""


def test_a_killed_run_loses_at_most_the_operation_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"running"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    h = read_history(str(path))  # every line that made it is whole
    assert len(h) > 100
    assert [op.index for op in h] == list(range(len(h)))
    open_ops = [c for c in h.complete() if c.completion is None]
    assert len(open_ops) <= 4  # at most one in flight per client thread


KILLED_AT_ONCE = """
import os, signal, sys, threading
from pytest_sdconform.recorder import Recorder
rec = Recorder(sys.argv[1])
def client(p):
    for i in range(500):
        rec.record(p, "invoke", "write", "k", i)
        rec.record(p, "ok", "write", "k", i, "n1", extra_field=[p, i])
threads = [threading.Thread(target=client, args=(p,)) for p in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
rec.record("nemesis", "info", "kill-start", value={"nodes": ["n1"]})
os.kill(os.getpid(), signal.SIGKILL)  # no close, no exit handlers: what record() left
"""


def test_every_operation_recorded_before_a_kill_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    proc = subprocess.run([sys.executable, "-c", KILLED_AT_ONCE, str(path)], check=False)
    assert proc.returncode == -signal.SIGKILL
    h = read_history(str(path))
    assert len(h) == 4 * 500 * 2 + 1  # each one returned from record(), each one in the file
    assert [op.index for op in h] == list(range(len(h)))
    assert all(c.type == "ok" and c.completion is not None and c.completion.get("extra_field")
               == [c.process, c.value] for c in h.complete())
    assert h[-1].f == "kill-start" and h[-1].value == {"nodes": ["n1"]}
    assert path.read_bytes().endswith(b"\n")


def test_counts_are_kept_as_operations_are_recorded(tmp_path: Path) -> None:
    with Recorder(tmp_path / "history.jsonl") as rec:
        assert rec.counts() == Counts()

        def client(p: int) -> None:
            for i in range(300):
                rec.record(p, "invoke", "read", "k")
                rec.record(p, ("ok", "fail", "info")[i % 3], "read", "k", i)

        threads = [threading.Thread(target=client, args=(p,)) for p in range(4)]
        for t in threads:
            t.start()
        rec.record(NEMESIS, "invoke", "kill-start")  # asked for: not yet proven
        rec.record(NEMESIS, "info", "kill-start", value={"nodes": ["n1"]})
        rec.record(NEMESIS, "info", "kill-stop")
        rec.record(NEMESIS, "info", "pause-start")
        for t in threads:
            t.join()
        counts = rec.counts()
    h = rec.history()
    client_ops = [op for op in h if op.process != NEMESIS]
    assert counts == Counts(
        ops=len(h),
        invocations=sum(op.type == "invoke" for op in client_ops),
        ok=sum(op.type == "ok" for op in client_ops),
        fail=sum(op.type == "fail" for op in client_ops),
        info=sum(op.type == "info" for op in client_ops),
        faults_started=len(h.fault_windows()),
    )
    assert counts == Counts(4 * 600 + 4, 1200, 400, 400, 400, 2)


def test_a_value_json_cannot_write_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    with Recorder(path, fsync=True) as rec:
        rec.record(1, "invoke", "write", "k", 1)
        with pytest.raises(TypeError):
            rec.record(1, "ok", "write", "k", {(1, 2): "a tuple key"})
        rec.record(1, "ok", "write", "k", 1)
    assert [op.index for op in rec.history()] == [0, 1] and rec.counts().ops == 2
    assert [op.type for op in read_history(str(path))] == ["invoke", "ok"]


def test_after_close_operations_are_kept_in_memory_only(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    rec = Recorder(path)
    rec.record(1, "invoke", "write", "k", 1)
    rec.close()
    rec.record(1, "ok", "write", "k", 1)
    rec.close()
    assert len(rec.history()) == 2 and len(read_history(str(path))) == 1
