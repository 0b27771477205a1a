"""Searching a history's independent partitions on several cores, as Porcupine does with one
goroutine per partition: worth it when there are several large partitions (keys).

Workers are forked, so they share the partitions without copying them through pickles; a fork
is only safe in a process that runs no other thread (a forked child inherits locks held by
threads that do not exist in it), so the check falls back to taking turns otherwise.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import TYPE_CHECKING

from .wgl import MemoryBudget, Partition, SearchResult, search

if TYPE_CHECKING:
    from .models import Model

BIG = 100  # operations: a smaller partition is not worth a process
MIN_TOTAL = 1000  # operations in big partitions before forking pays for itself

_job: tuple[list[Partition], Model, float | None, int, int] | None = None


def usable(parts: list[Partition]) -> bool:
    big = [len(p.ops) for p in parts if len(p.ops) >= BIG]
    return (
        (os.cpu_count() or 1) > 1
        and len(big) > 1
        and sum(big) >= MIN_TOTAL
        and alone()
        and "fork" in multiprocessing.get_all_start_methods()
    )


def alone() -> bool:
    """Whether this process runs one thread. ``threading`` counts only its own threads: those
    started otherwise (``_thread``, as execnet does in a pytest-xdist worker, or by C code) are
    seen in /proc, where there is one; a fork beside them hung the pool's workers for good."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return threading.active_count() == 1


def _work(i: int) -> tuple[int, SearchResult]:
    assert _job is not None
    parts, model, deadline, max_states, worker_bytes = _job
    gen = search(parts[i], model, deadline, max_states, MemoryBudget(worker_bytes))
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return i, stop.value


def run_parallel(
    parts: list[Partition],
    model: Model,
    deadline: float | None,
    max_states: int,
    stop_on_invalid: bool,
    memory: MemoryBudget,
) -> dict[int, SearchResult]:
    """Search every partition in a pool of forked workers, largest first; each worker's
    search may use an equal share of what ``memory`` has left."""
    global _job
    workers = min(os.cpu_count() or 1, len(parts))
    _job = (parts, model, deadline, max_states, max(1, (memory.limit - memory.used) // workers))
    order = sorted(range(len(parts)), key=lambda i: -len(parts[i].ops))
    done: dict[int, SearchResult] = {}
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers) as pool:
            for i, result in pool.imap_unordered(_work, order):
                done[i] = result
                if stop_on_invalid and result.result == "invalid":
                    break  # leaving the block terminates the other workers
    finally:
        _job = None
    return done
