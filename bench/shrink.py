"""Benchmark: shrinking refutations of 100,000-operation histories to minimal counterexamples.

    .venv/bin/python bench/shrink.py [--ops 100000]

Histories of 100,000 operations (200,000 events) by default:

- lost writes: adds with a fault in the middle, one acknowledged add missing from its final read;
- linearizability: a 64-key register history with one stale read;
- sessions (read-your-writes): the same stream with a client that misses its own write.

Each shrink is given the anomaly the checker reported (as a case does) and the default budget.
One ``name=value`` a line: the seconds each took, the operations left, and whether it is
minimal; the issue's budget is a few seconds per refutation.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

from large_histories import register_history, workload_history

from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.checkers.linearizable import check_linearizable
from pytest_sdconform.checkers.sessions import check_sessions
from pytest_sdconform.checkers.shrink import shrink
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History


def lose_one(history: History) -> History:
    """Take the first acknowledged add out of its key's final read."""
    first = next(op for op in history.ops if op.f == "add" and op.type == "ok")
    ops = [replace(op) for op in history.ops]
    for op in ops:
        if op.get("final") and op.type == "ok" and op.key == first.key:
            op.value = [v for v in op.value if v != first.value]
    return History(ops)


def stale_read(history: History) -> History:
    """Make a read past the middle return an older value of its key: one written by a write
    that finished before another write of the key began, which finished before the read began
    (no order of the operations explains it, as values are unique)."""
    ops = [replace(op) for op in history.ops]
    invoked: dict[object, int] = {}  # process -> time of its open operation's invocation
    done: dict[object, list[tuple[int, int, object]]] = {}  # key -> (invoked, completed, value)
    chosen: dict[object, object] = {}  # process -> the stale value its read returns
    for i, op in enumerate(ops):
        if op.type == "invoke":
            invoked[op.process] = op.time
            writes = done.get(op.key, [])
            if op.f == "read" and i > len(ops) // 2 and writes:
                later = writes[-1]
                older = [w for w in writes if w[1] < later[0]]
                if older:
                    chosen[op.process] = older[-1][2]
        elif op.type == "ok" and op.f == "write":
            done.setdefault(op.key, []).append((invoked[op.process], op.time, op.value))
        elif op.type == "ok" and op.f == "read" and op.process in chosen:
            op.value = chosen[op.process]
            return History(ops)
    raise RuntimeError("no read to make stale")


def misses_own_write(history: History) -> History:
    """Make a read past the middle miss its own client's earlier write (read-your-writes)."""
    ops = [replace(op) for op in history.ops]
    values: dict[object, list[object]] = {}  # key -> values written, in order
    mine: dict[tuple[object, object], object] = {}  # (process, key) -> its last write's value
    for i, op in enumerate(ops):
        if op.type == "ok" and op.f == "write":
            values.setdefault(op.key, []).append(op.value)
            mine[(op.process, op.key)] = op.value
        elif op.type == "ok" and op.f == "read" and i > len(ops) // 2 and not op.get("final"):
            own = mine.get((op.process, op.key))
            older = values.get(op.key, [])
            if own is not None and own in older and older.index(own) > 0:
                op.value = older[older.index(own) - 1]
                return History(ops)
    raise RuntimeError("no read to make miss its write")


def measure(name: str, history: History, check: Callable[[History], Verdict]) -> None:
    verdict = check(history)
    assert verdict.result == "invalid", f"{name}: the history is {verdict.result}"
    kind = verdict.anomalies[0].kind

    def refutes(h: History) -> bool:
        v = check(h)
        return v.result == "invalid" and any(a.kind == kind for a in v.anomalies)

    start = time.perf_counter()
    shrunk = shrink(history, refutes, verdict.anomalies[0].ops)
    took = time.perf_counter() - start
    assert shrunk is not None
    print(f"shrink_{name}_s={took:.3f}")
    print(f"shrink_{name}_ops={shrunk.operations} of={shrunk.of} minimal={shrunk.minimal}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=200_000, help="events (two per operation)")
    n = parser.parse_args().ops
    measure("lost_writes", lose_one(workload_history(n, "add", "read")), check_lost_writes)
    measure("linearizable", stale_read(register_history(n // 2, keys=64)),
            lambda h: check_linearizable(h, "register"))
    measure("sessions", misses_own_write(workload_history(n, "write", "read")), check_sessions)


if __name__ == "__main__":
    main()
