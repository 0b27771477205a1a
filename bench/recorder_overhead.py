"""Benchmark: what the recorder costs the client loop, one ``name=value`` a line.

    .venv/bin/python bench/recorder_overhead.py [--seconds 1] [--workers 4] [--rounds 10]

Starts a redis-server of its own (a loopback port, no persistence; stopped at the end) and runs
the runner's client loop (``runner._Worker.call``: the register workload's next operation,
the client's call through the worker's one-thread pool with its timeout) with ``--workers``
threads, each with its own ``RedisClient``: once bare, once recording every invocation and
completion through a ``Recorder`` into a history.jsonl (each line written before ``record``
returns, as in a run). Each round runs both, one after the other (bare first in even rounds,
recorded first in odd ones); each figure is the best round. Many short rounds, as the load of
a shared machine comes and goes within seconds: two rounds of 5 s gave ratios from 0.66 to
1.08 for the same code at load 4-7.

- ``bare_ops_per_s``, ``recorded_ops_per_s``: operations completed per second;
- ``record_us``: the recorder's own CPU time per operation (two lines), timed apart;
- ``ratio_median``: the median over rounds of recorded over bare in the same round;
- ``ratio_vs_bare``: recorded over bare, best rounds (the issue's target: at least 0.9).
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pytest_sdconform.recorder import Recorder, client_fields
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.register import Register


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        print("error=redis-server is not installed (sdconform provision redis)")
        sys.exit(1)
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    print("error=redis-server did not answer within 10 s")
    sys.exit(1)


def client_loop(
    port: int, index: int, recorder: Recorder | None, stop: threading.Event, counts: list[int]
) -> None:
    """``runner._Worker.loop`` and ``call`` without faults: the same steps, the recorder's
    two calls left out when ``recorder`` is None."""
    from pytest_sdconform.backends.redis.client import RedisClient

    workload = Register(keys=8)
    rng = random.Random(index)
    client = RedisClient(lambda: "127.0.0.1", lambda: "127.0.0.1", port=port)
    pool = ThreadPoolExecutor(1)
    done = 0
    try:
        while not stop.is_set():
            op: Invocation = workload.next_op(rng)
            if recorder is not None:
                recorder.record(index, "invoke", op.f, op.key, op.value)
            result = pool.submit(client.invoke, op).result(1.0)
            if recorder is not None:
                reads = op.f in ("read", "poll", "dequeue")
                ok = result.type == "ok"
                value = result.value if ok and (reads or result.value is not None) else op.value
                recorder.record(
                    index,
                    result.type,
                    op.f,
                    op.key,
                    value,
                    result.node,
                    result.error,
                    **(client_fields(op.f, result.extra) if result.extra else {}),
                )
            done += 1
    finally:
        pool.shutdown()
        client.close()
        counts[index] = done


def rate(port: int, workers: int, seconds: float, recorder: Recorder | None) -> float:
    stop = threading.Event()
    counts = [0] * workers
    threads = [
        threading.Thread(target=client_loop, args=(port, i, recorder, stop, counts))
        for i in range(workers)
    ]
    began = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


def record_cost(folder: Path, n: int = 20_000, repeats: int = 5) -> float:
    """Microseconds of the thread's CPU time (the system calls' included; time it waited
    for a core left out, so that other load on the machine barely moves it) the recorder
    takes for one operation's two lines, alone: the best of ``repeats``."""
    best = float("inf")
    for r in range(repeats):
        with Recorder(folder / f"alone-{r}.jsonl") as rec:
            began = time.thread_time()
            for i in range(n):
                rec.record(i % 4, "invoke", "write", "k1", i)
                rec.record(i % 4, "ok", "write", "k1", i, "127.0.0.1")
            best = min(best, time.thread_time() - began)
    return best / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1.0, help="per round and variant")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="sdconform-bench-") as tmp:
        folder = Path(tmp)
        proc, port = start_redis(folder)
        try:
            bare, recorded = [], []
            for r in range(args.rounds):
                if r % 2 == 0:
                    bare.append(rate(port, args.workers, args.seconds, None))
                with Recorder(folder / f"history-{r}.jsonl") as rec:
                    recorded.append(rate(port, args.workers, args.seconds, rec))
                if r % 2 == 1:
                    bare.append(rate(port, args.workers, args.seconds, None))
        finally:
            proc.kill()
            proc.wait()
        pairs = [x / y for x, y in zip(recorded, bare, strict=True) if y > 0]
        print(f"bare_ops_per_s={max(bare):.0f}")
        print(f"recorded_ops_per_s={max(recorded):.0f}")
        print(f"record_us={record_cost(folder):.2f}")
        print(f"ratio_median={statistics.median(pairs) if pairs else 0.0:.3f}")
        print(f"ratio_vs_bare={max(recorded) / max(bare):.3f}")


if __name__ == "__main__":
    main()
