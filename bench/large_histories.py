"""Benchmark: checkers on large generated histories, against the issue's targets.

    .venv/bin/python bench/large_histories.py [--ops 1000000]

- linearizability on a 10,000-operation, 8-key register history (target: under 1 s);
- sessions, lost writes, delivery and availability on N operations (target: 1 M in under 10 s),
  and on N/10, to show that time grows linearly (``scaling`` near 10 is linear).

Each line ends with ``ratio_vs_target=<seconds / target seconds>``; below 1.0 meets the target.
"""

from __future__ import annotations

import argparse
import random
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


def timed(check: Callable[[History], Verdict], history: History) -> tuple[float, str]:
    start = time.perf_counter()
    verdict = check(history)
    return time.perf_counter() - start, verdict.result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=1_000_000)
    args = p.parse_args()

    from pytest_sdconform.checkers.availability import check_availability
    from pytest_sdconform.checkers.delivery import check_delivery
    from pytest_sdconform.checkers.durability import check_lost_writes
    from pytest_sdconform.checkers.linearizable import check_linearizable
    from pytest_sdconform.checkers.sessions import check_sessions

    h = register_history(10_000, 8)
    secs, result = timed(lambda x: check_linearizable(x, "register"), h)
    print(f"linearizable 10k ops 8 keys: {secs:.3f}s {result} ratio_vs_target={secs / 1.0:.3f}")

    checks: list[tuple[str, str, str, Callable[[History], Verdict]]] = [
        ("sessions", "write", "read", check_sessions),
        ("lost-writes", "add", "read", check_lost_writes),
        ("delivery", "send", "poll", check_delivery),
        ("availability", "write", "read", check_availability),
    ]
    for name, fw, fr, check in checks:
        small = workload_history(args.ops // 10, fw, fr)
        big = workload_history(args.ops, fw, fr)
        t_small, _ = timed(check, small)
        t_big, result = timed(check, big)
        print(
            f"{name} {len(big)} ops: {t_big:.3f}s {result} "
            f"scaling={t_big / max(t_small, 1e-9):.1f} ratio_vs_target={t_big / 10.0:.3f}"
        )


if __name__ == "__main__":
    main()
