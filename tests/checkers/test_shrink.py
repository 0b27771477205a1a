"""Shrinking a refutation: the smallest well-formed sub-history the same checker still refutes."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.checkers.linearizable import check_linearizable
from pytest_sdconform.checkers.shrink import shrink
from pytest_sdconform.history import NEMESIS, History, Operation

MS = 1_000_000


def history(*ops: tuple[Any, ...]) -> History:
    """Rows (start_ms, end_ms | None, process, f, key, invoke value, completion value)."""
    events = []
    for start, end, p, f, key, value, result in ops:
        events.append((start, p, "invoke", f, key, value, None))
        if end is not None:
            events.append((end, p, "ok", f, key, result if f == "read" else value, None))
    events.sort(key=lambda e: e[0])
    return History([Operation(i, t * MS, p, typ, f, key, v, extra=x)
                    for i, (t, p, typ, f, key, v, x) in enumerate(events)])


def noisy_register(seed: int, n: int, stale_at: int | None) -> History:
    """One register written and read by four processes in turn (sequential, so linearizable),
    with one read made stale (it returns the value before the latest write) at ``stale_at``."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    value: int | None = None  # the register starts empty
    previous: int | None = None
    t = 0
    for i in range(n):
        p = i % 4
        if i == stale_at and previous is not None:
            rows.append((t, t + 1, p, "read", "k", None, previous))
        elif rng.random() < 0.5:
            previous, value = value, (value or 0) + 1
            rows.append((t, t + 1, p, "write", "k", value, None))
        else:
            rows.append((t, t + 1, p, "read", "k", None, value))
        t += 2
    return history(*rows)


def nonlinearizable(h: History) -> bool:
    return check_linearizable(h, "register").result == "invalid"


def test_a_stale_read_among_hundreds_shrinks_to_the_read_and_the_two_writes() -> None:
    h = noisy_register(seed=3, n=400, stale_at=250)
    assert nonlinearizable(h)
    verdict = check_linearizable(h, "register")
    shrunk = shrink(h, nonlinearizable, verdict.anomalies[0].ops)
    assert shrunk is not None and shrunk.minimal
    fs = sorted((op.f, op.value) for op in shrunk.ops if op.type == "ok")
    # The stale read, the write of the value it returned, and the write that overwrote it.
    assert shrunk.operations == 3 and shrunk.of == 400
    assert [f for f, _ in fs] == ["read", "write", "write"]
    read_value = next(v for f, v in fs if f == "read")
    assert ("write", read_value) in fs  # the read's value keeps its write
    assert nonlinearizable(History(shrunk.ops))
    indices = [op.index for op in shrunk.ops]
    assert indices == sorted(indices)  # original order and indices


def test_a_lost_write_shrinks_to_the_write_and_the_final_read() -> None:
    rows: list[tuple[Any, ...]] = [(i * 2, i * 2 + 1, i % 3, "add", None, i, None)
                                   for i in range(100)]
    events = []
    for start, end, p, f, key, value, _ in rows:
        events += [(start, p, "invoke", f, key, value, None), (end, p, "ok", f, key, value, None)]
    survivors = [i for i in range(100) if i != 42]
    events += [(300, 9, "invoke", "read", None, None, {"final": True}),
               (301, 9, "ok", "read", None, survivors, {"final": True})]
    h = History([Operation(i, t * MS, p, typ, f, key, v, extra=x)
                 for i, (t, p, typ, f, key, v, x) in enumerate(events)])

    def lost(sub: History) -> bool:
        v = check_lost_writes(sub)
        return v.result == "invalid" and any(a.kind == "lost-write" for a in v.anomalies)

    v = check_lost_writes(h)
    shrunk = shrink(h, lost, v.anomalies[0].ops)
    assert shrunk is not None and shrunk.minimal and shrunk.operations == 2
    assert sorted(op.f for op in shrunk.ops if op.type == "ok") == ["add", "read"]
    assert next(op.value for op in shrunk.ops if op.f == "add") == 42


def test_fault_events_are_always_kept() -> None:
    h = noisy_register(seed=1, n=60, stale_at=40)
    t = h.ops[-1].time
    ops = [*h.ops,
           Operation(len(h.ops), t + MS, NEMESIS, "info", "partition-start"),
           Operation(len(h.ops) + 1, t + 2 * MS, NEMESIS, "info", "partition-stop")]
    shrunk = shrink(History(ops), nonlinearizable)
    assert shrunk is not None
    assert [op.f for op in shrunk.ops if op.process == NEMESIS] == ["partition-start",
                                                                    "partition-stop"]


def test_nothing_to_shrink_when_the_history_is_not_refuted() -> None:
    assert shrink(noisy_register(seed=2, n=50, stale_at=None), nonlinearizable) is None


def test_out_of_budget_it_returns_what_it_reached_marked_not_minimal() -> None:
    h = noisy_register(seed=3, n=400, stale_at=250)
    shrunk = shrink(h, nonlinearizable, budget_s=0.0)
    assert shrunk is not None and not shrunk.minimal
    assert nonlinearizable(History(shrunk.ops))


def test_a_judge_that_fails_on_a_sub_history_does_not_count_as_refuting() -> None:
    h = noisy_register(seed=3, n=40, stale_at=30)

    def fragile(sub: History) -> bool:
        if len(sub.ops) < len(h.ops):
            raise KeyError("needs the whole history")
        return True

    shrunk = shrink(h, fragile)
    assert shrunk is not None and shrunk.operations == 40


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(20, 120), at=st.integers(5, 119))
def test_every_shrunk_history_is_refuted_and_no_larger(seed: int, n: int, at: int) -> None:
    h = noisy_register(seed, n, at % n)
    if not nonlinearizable(h):
        return  # the chosen read had no earlier write to be stale about
    shrunk = shrink(h, nonlinearizable)
    assert shrunk is not None and shrunk.operations <= n
    assert nonlinearizable(History(shrunk.ops))
    if shrunk.minimal:
        assert shrunk.operations <= 3
