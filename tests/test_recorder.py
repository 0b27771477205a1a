"""The recorder: thread-safe, flushed per operation, so a killed run keeps what it recorded."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pytest_sdconform.formats import read_history
from pytest_sdconform.recorder import Recorder


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
