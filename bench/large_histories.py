"""Benchmark: the checkers on large generated histories, one ``name=value`` a line.

    .venv/bin/python bench/large_histories.py [--ops 1000000] [--txns 100000] [--repeat 3]

- ``txn_per_s``: transactions per second through ``checkers/txn.py`` (serializable, its
  default) on an Elle-style list-append history of ``--txns`` transactions: 10 clients, 1 to 4
  micro-ops each, half reads, 10 keys in use at a time, each retired after 32 appends (as
  Jepsen's append workload does, so that read lists stay short); ``txn_strict_per_s``: the
  same at strict-serializable with real-time edges (the issue's target: 100 k/s);
- ``sessions_1m_s``, ``lost_writes_1m_s``, ``delivery_1m_s``, ``availability_1m_s``: seconds
  to check ``--ops`` history lines (an invocation and a completion are two, as in Jepsen's
  histories) of 8 clients on 64 keys with a partition in the middle and final reads (target
  for the first three: under 1 s for 1 M); these valid histories take the checkers' columnar
  fast paths (``checkers/columnar.py``: no object per operation), as any history does that
  shows no anomaly (a lost write or message too; other anomalies go through the reference path);
- ``register_1m_s``: linearizability (register model) on a history of ``--ops`` lines, 64
  keys, 10 clients whose operations overlap;
- ``linearizable_10k_s``: the same on 10,000 operations (20,000 lines) of 8 keys;
- ``..._cpu_s``, ``txn_per_cpu_s``: the same figures in this process's CPU time, which a
  machine shared with other work disturbs less than the wall clock (the targets are wall
  clock on an idle machine).

Each figure is the best of ``--repeat`` runs on one history (the machines are shared), the
history's generation not counted. Every check must end ``valid`` (the histories are); any other
verdict is printed as ``error=`` and the script exits 1. A value of ``--ops`` other than 1 M
renames the ``_1m_`` figures (``_100k_``...).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import NEMESIS, History, Operation


def register_history(n_ops: int, keys: int, procs: int = 10, seed: int = 1) -> History:
    """Clients on an atomic register per key: each op takes effect between invoke and ok."""
    rnd = random.Random(seed)
    events: list[tuple[float, int, int, str, str, str, Any]] = []
    free = [0.0] * procs
    planned = []
    for j in range(n_ops):
        p = rnd.randrange(procs)
        start = free[p] + rnd.random()
        point = start + rnd.random()
        end = point + rnd.random()
        free[p] = end
        f = "read" if rnd.random() < 0.5 else "write"
        planned.append((point, start, end, p, f, f"k{rnd.randrange(keys)}", j))
    state: dict[str, Any] = {}
    for _point, start, end, p, f, key, j in sorted(planned):
        if f == "write":
            state[key] = j
        value = state.get(key) if f == "read" else j
        events.append((start, 0, p, "invoke", f, key, None if f == "read" else j))
        events.append((end, 1, p, "ok", f, key, value))
    events.sort()
    return History(
        [Operation(i, int(e[0] * 1e6), e[2], e[3], e[4], e[5], e[6]) for i, e in enumerate(events)]
    )


def list_append_history(
    n_txns: int, procs: int = 10, active: int = 10, per_key: int = 32, seed: int = 3
) -> History:
    """Serializable list-append transactions by overlapping clients: each takes effect at one
    instant between its invocation and completion; keys retire after ``per_key`` appends."""
    rnd = random.Random(seed)
    free = [0.0] * procs
    pool = list(range(active))
    fresh, value = active, 0
    appends: dict[int, int] = {}
    planned = []
    for _ in range(n_txns):
        p = rnd.randrange(procs)
        start = free[p] + rnd.random()
        point = start + rnd.random()
        end = point + rnd.random()
        free[p] = end
        asked: list[list[Any]] = []
        for _ in range(rnd.randint(1, 4)):
            slot = rnd.randrange(active)
            k = pool[slot]
            if rnd.random() < 0.5:
                asked.append(["r", k, None])
                continue
            value += 1
            asked.append(["append", k, value])
            appends[k] = appends.get(k, 0) + 1
            if appends[k] >= per_key:
                pool[slot], fresh = fresh, fresh + 1
        planned.append((point, start, end, p, asked))
    state: dict[int, list[int]] = {}
    events: list[tuple[float, int, str, list[Any]]] = []
    for _point, start, end, p, asked in sorted(planned, key=lambda t: t[0]):
        done = []
        for f, k, v in asked:
            if f == "append":
                state.setdefault(k, []).append(v)
                done.append([f, k, v])
            else:
                done.append([f, k, list(state.get(k, ()))])
        events.append((start, p, "invoke", asked))
        events.append((end, p, "ok", done))
    events.sort(key=lambda e: e[0])
    return History(
        [
            Operation(i, int(t * 1e6), p, typ, "txn", None, mops)
            for i, (t, p, typ, mops) in enumerate(events)
        ]
    )


def workload_history(n_ops: int, f_write: str, f_read: str, seed: int = 2) -> History:
    """A sequential-enough stream of writes and reads by 8 clients with a fault in the middle,
    ending in a final read per key; roughly ``n_ops`` events."""
    rnd = random.Random(seed)
    ops: list[Operation] = []
    t = 0

    def add(process: int | str, typ: str, f: str, key: Any, value: Any, **extra: Any) -> None:
        nonlocal t
        t += 1000
        ops.append(Operation(len(ops), t, process, typ, f, key, value, extra=extra or None))

    written: dict[str, list[int]] = {}
    cursor: dict[str, int] = {}
    pairs = n_ops // 2
    for j in range(pairs):
        if j == pairs // 3:
            add(NEMESIS, "info", "partition-start", None, None)
        if j == 2 * pairs // 3:
            add(NEMESIS, "info", "partition-stop", None, None)
        p, key = j % 8, f"k{rnd.randrange(64)}"
        if rnd.random() < 0.5:
            add(p, "invoke", f_write, key, j)
            add(p, "ok", f_write, key, j)
            written.setdefault(key, []).append(j)
        else:
            add(p, "invoke", f_read, key, None)
            seen = written.get(key, [])
            if f_read == "poll":  # the messages not yet consumed: [partition, offset, value]
                batch, cursor[key] = seen[cursor.get(key, 0) :], len(seen)
                add(p, "ok", f_read, key, [[key, None, v] for v in batch])
            else:
                add(p, "ok", f_read, key, seen[-1] if seen else None)
    for key, values in written.items():  # drain / final reads
        if f_read == "poll":
            rest = values[cursor.get(key, 0) :]
            add(100, "invoke", "poll", key, None, final=True)
            add(100, "ok", "poll", key, [[key, None, v] for v in rest], final=True)
        else:
            add(100, "invoke", "read", key, None, final=True)
            add(100, "ok", "read", key, values if f_write == "add" else values[-1], final=True)
    return History(ops)


CPU: dict[str, float] = {}  # the last best_of's CPU seconds (this process only)


def best_of(repeat: int, check: Callable[[History], Verdict], history: History) -> float:
    """The shortest of ``repeat`` runs; exits when a verdict is not ``valid``. The shortest
    CPU time is left in ``CPU["s"]``: on a shared machine it moves less than the wall clock."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        verdict = check(history)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if verdict.result != "valid":
            print(f"error={verdict.checker} gave {verdict.result}: {verdict.reason}")
            sys.exit(1)
    CPU["s"] = min(cpu)
    return min(times)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=1_000_000, help="history lines (default 1 M)")
    p.add_argument("--txns", type=int, default=100_000, help="list-append transactions")
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is shown")
    args = p.parse_args()

    from pytest_sdconform.checkers.availability import check_availability
    from pytest_sdconform.checkers.delivery import check_delivery
    from pytest_sdconform.checkers.durability import check_lost_writes
    from pytest_sdconform.checkers.linearizable import check_linearizable
    from pytest_sdconform.checkers.sessions import check_sessions
    from pytest_sdconform.checkers.txn import check_txn

    h = list_append_history(args.txns)
    secs = best_of(args.repeat, check_txn, h)
    print(f"txn_per_s={args.txns / secs:.0f}", flush=True)
    print(f"txn_per_cpu_s={args.txns / CPU['s']:.0f}", flush=True)
    secs = best_of(args.repeat, lambda x: check_txn(x, "strict-serializable", realtime=True), h)
    print(f"txn_strict_per_s={args.txns / secs:.0f}", flush=True)

    size = size_label(args.ops)
    checks: list[tuple[str, str, str, Callable[[History], Verdict]]] = [
        ("sessions", "write", "read", check_sessions),
        ("lost_writes", "add", "read", check_lost_writes),
        ("delivery", "send", "poll", check_delivery),
        ("availability", "write", "read", check_availability),
    ]
    for name, fw, fr, check in checks:
        h = workload_history(args.ops, fw, fr)
        print(f"{name}_{size}_s={best_of(args.repeat, check, h):.3f}", flush=True)
        print(f"{name}_{size}_cpu_s={CPU['s']:.3f}", flush=True)

    h = register_history(args.ops // 2, 64)
    secs = best_of(args.repeat, lambda x: check_linearizable(x, "register"), h)
    print(f"register_{size}_s={secs:.3f}", flush=True)
    h = register_history(10_000, 8)
    secs = best_of(args.repeat, lambda x: check_linearizable(x, "register"), h)
    print(f"linearizable_10k_s={secs:.3f}", flush=True)


if __name__ == "__main__":
    main()
