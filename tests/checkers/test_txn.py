"""The list-append isolation checker: one constructed history per anomaly kind, properties;
each under both engines (the compiled one skipped when it is not built)."""

from __future__ import annotations

import itertools
import random
import time
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers import native
from pytest_sdconform.checkers.txn import TxnChecker
from pytest_sdconform.checkers.txn import check_txn as _check_txn
from pytest_sdconform.history import History, Operation

ENGINES = [
    "python",
    pytest.param("native", marks=pytest.mark.skipif(
        not native.available(), reason="sdconform_native not built")),
]
each_engine = pytest.mark.parametrize("engine", ENGINES)


def txns(*rows: tuple[Any, ...]) -> History:
    """Rows are (process, type, mops) events in order; an ``ok`` row carries the reads."""
    return History(
        [Operation(i, i, p, typ, "txn", None, mops) for i, (p, typ, mops) in enumerate(rows)]
    )


def serial(*done: tuple[str, list[Any]]) -> list[tuple[Any, ...]]:
    """Transactions one after another (type, completed mops), each by its own process."""
    rows: list[tuple[Any, ...]] = []
    for p, (typ, mops) in enumerate(done):
        asked = [[f, k, None if f == "r" else v] for f, k, v in mops]
        rows += [(p, "invoke", asked), (p, typ, mops)]
    return rows


def concurrent(*done: tuple[str, list[Any]]) -> list[tuple[Any, ...]]:
    """All transactions invoked, then all completed: no real-time order between them."""
    rows: list[tuple[Any, ...]] = []
    for p, (_, mops) in enumerate(done):
        rows.append((p, "invoke", [[f, k, None if f == "r" else v] for f, k, v in mops]))
    for p, (typ, mops) in enumerate(done):
        rows.append((p, typ, mops))
    return rows


def kinds(h: History, engine: str, **kw: Any) -> set[str]:
    return set(_check_txn(h, engine=engine, **kw).details["anomaly_counts"])


@each_engine
def test_a_serial_history_is_serializable(engine: str) -> None:
    h = txns(
        *serial(
            ("ok", [["append", "x", 1], ["r", "y", []]]),
            ("ok", [["r", "x", [1]], ["append", "y", 2]]),
            ("ok", [["r", "x", [1]], ["r", "y", [2]]]),
        )
    )
    v = _check_txn(h, engine=engine)
    assert v.result == "valid", v.reason
    assert v.details["strongest_level"] == "serializable"


@each_engine
def test_nothing_committed_is_unknown(engine: str) -> None:
    h = txns((0, "invoke", [["append", "x", 1]]), (0, "fail", [["append", "x", 1]]))
    assert _check_txn(h, engine=engine).result == "unknown"


@each_engine
def test_g0_write_cycle(engine: str) -> None:
    # T1 appended x then y, T2 likewise; x shows T1 before T2, y shows T2 before T1.
    h = txns(
        *concurrent(
            ("ok", [["append", "x", 1], ["append", "y", 1]]),
            ("ok", [["append", "x", 2], ["append", "y", 2]]),
        ),
        *serial(("ok", [["r", "x", [1, 2]], ["r", "y", [2, 1]]])),
    )
    v = _check_txn(h, engine=engine)
    assert v.result == "invalid"
    assert "G0" in v.anomaly_kinds
    assert v.details["strongest_level"] == "none"
    cycle = v.details["cycles"][0]
    assert {e[2] for e in cycle["edges"]} == {"ww"}


@each_engine
def test_g1a_aborted_read(engine: str) -> None:
    h = txns(*serial(("fail", [["append", "x", 1]]), ("ok", [["r", "x", [1]]])))
    v = _check_txn(h, engine=engine)
    assert v.anomaly_kinds == ["G1a"]
    assert v.details["strongest_level"] == "read-uncommitted"


@each_engine
def test_g1b_intermediate_read(engine: str) -> None:
    h = txns(
        *concurrent(("ok", [["append", "x", 1], ["append", "x", 2]]), ("ok", [["r", "x", [1]]]))
    )
    assert "G1b" in kinds(h, engine)


@each_engine
def test_g1c_circular_information_flow(engine: str) -> None:
    # T1 reads T2's append to y, T2 reads T1's append to x: wr both ways.
    h = txns(
        *concurrent(
            ("ok", [["append", "x", 1], ["r", "y", [2]]]),
            ("ok", [["append", "y", 2], ["r", "x", [1]]]),
        )
    )
    v = _check_txn(h, engine=engine)
    assert "G1c" in v.anomaly_kinds
    assert v.details["strongest_level"] == "read-uncommitted"


@each_engine
def test_g_single_read_skew(engine: str) -> None:
    # T1 reads x before T2's append, then y after it: rw(x) T1->T2, wr(y) T2->T1.
    h = txns(
        *concurrent(
            ("ok", [["r", "x", []], ["r", "y", [2]]]),
            ("ok", [["append", "x", 1], ["append", "y", 2]]),
        ),
        *serial(("ok", [["r", "x", [1]]])),
    )
    v = _check_txn(h, engine=engine)
    assert v.anomaly_kinds == ["G-single"]
    assert v.details["strongest_level"] == "read-committed"
    assert _check_txn(h, engine=engine, level="read-committed").result == "valid"
    assert _check_txn(h, engine=engine, level="repeatable-read").result == "invalid"
    edges = v.details["cycles"][0]["edges"]
    assert sorted(e[2] for e in edges) == ["rw", "wr"]


@each_engine
def test_g2_write_skew(engine: str) -> None:
    # Each reads the key the other appends to, before the other's append: two rw edges.
    h = txns(
        *concurrent(
            ("ok", [["r", "x", []], ["append", "y", 1]]),
            ("ok", [["r", "y", []], ["append", "x", 2]]),
        ),
        *serial(("ok", [["r", "x", [2]], ["r", "y", [1]]])),
    )
    v = _check_txn(h, engine=engine)
    assert v.anomaly_kinds == ["G2"]
    assert v.details["strongest_level"] == "repeatable-read"
    assert _check_txn(h, engine=engine, level="repeatable-read").result == "valid"


@each_engine
def test_incompatible_order(engine: str) -> None:
    h = txns(
        *concurrent(("ok", [["append", "x", 1]]), ("ok", [["append", "x", 2]])),
        *serial(("ok", [["r", "x", [1, 2]]]), ("ok", [["r", "x", [2]]])),
    )
    assert "incompatible-order" in kinds(h, engine)


@each_engine
def test_internal_and_garbage_reads(engine: str) -> None:
    h = txns(*serial(("ok", [["append", "x", 1], ["r", "x", []]]), ("ok", [["r", "y", [99]]])))
    assert {"internal", "garbage"} <= kinds(h, engine)


@each_engine
def test_realtime_order_finds_a_stale_serializable_read(engine: str) -> None:
    # T2 begins after T1 committed but does not see its append: serializable (T2 first),
    # not strict serializable.
    h = txns(*serial(("ok", [["append", "x", 1]]), ("ok", [["r", "x", []]])))
    assert _check_txn(h, engine=engine).result == "valid"
    v = _check_txn(h, engine=engine, level="strict-serializable", realtime=True)
    assert v.result == "invalid"
    assert v.anomaly_kinds == ["G-single-realtime"]


@each_engine
def test_info_transactions_count_once_seen(engine: str) -> None:
    h = txns(
        (0, "invoke", [["append", "x", 1]]),
        (0, "info", [["append", "x", 1]]),
        *serial(("ok", [["r", "x", [1]]])),
    )
    assert _check_txn(h, engine=engine).result == "valid"


def serial_history(rng: random.Random, n: int, keys: int) -> History:
    state: dict[int, list[int]] = {}
    rows: list[tuple[Any, ...]] = []
    value = 0
    for t in range(n):
        asked, done = [], []
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(keys)
            if rng.random() < 0.5:
                asked.append(["r", k, None])
                done.append(["r", k, list(state.get(k, []))])
            else:
                value += 1
                state.setdefault(k, []).append(value)
                asked.append(["append", k, value])
                done.append(["append", k, value])
        p = t % 5
        rows += [(p, "invoke", asked), (p, "ok", done)]
    return txns(*rows)


@given(st.integers(0, 10_000), st.integers(1, 60), st.integers(1, 5))
@settings(max_examples=60, deadline=None)
@each_engine
def test_every_serial_execution_is_strict_serializable(
    engine: str, seed: int, n: int, keys: int
) -> None:
    h = serial_history(random.Random(seed), n, keys)
    v = _check_txn(
        h, engine=engine, level="strict-serializable", realtime=True, process_order=True
    )
    assert v.result == "valid", v.reason


@given(st.integers(0, 10_000), st.integers(5, 40))
@settings(max_examples=40, deadline=None)
@each_engine
def test_one_stale_read_in_a_serial_history_is_caught(engine: str, seed: int, n: int) -> None:
    rng = random.Random(seed)
    h = serial_history(rng, n, 2)
    reads = [op for op in h if op.type == "ok" for m in op.value if m[0] == "r" and len(m[2]) >= 2]
    if not reads:
        return
    op = rng.choice(reads)
    m = next(m for m in op.value if m[0] == "r" and len(m[2]) >= 2)
    m[2] = m[2][:-1]  # this read misses the last append before it: it happened earlier
    v = _check_txn(h, engine=engine, level="strict-serializable", realtime=True)
    assert v.result == "invalid"


@each_engine
def test_ten_thousand_transactions_in_seconds(engine: str) -> None:
    h = serial_history(random.Random(1), 10_000, 20)
    began = time.monotonic()
    v = TxnChecker("strict-serializable", realtime=True, engine=engine).check(h)
    assert v.result == "valid"
    assert v.details["committed"] == 10_000
    assert time.monotonic() - began >= 0  # speed itself lives in bench/


def test_isolation_table_is_nested_and_names_each_anomalys_weakest_level() -> None:
    from pytest_sdconform.checkers.isolation import (
        LEVELS,
        PROSCRIBES,
        forbidden_from,
        proscribed,
        strongest_level,
    )

    for weaker, stronger in itertools.pairwise(LEVELS):
        assert PROSCRIBES[weaker] < PROSCRIBES[stronger], (weaker, stronger)
    assert forbidden_from("G0") == "read-uncommitted"
    assert {forbidden_from(k) for k in ("G1a", "G1b", "G1c")} == {"read-committed"}
    assert forbidden_from("G-single") == "repeatable-read"
    assert forbidden_from("G2") == "serializable"
    assert forbidden_from("G2-realtime") == forbidden_from("G0-process") == "strict-serializable"
    assert forbidden_from("garbage") == "read-uncommitted"
    assert proscribed("G-single", "serializable") and not proscribed("G2", "repeatable-read")
    assert strongest_level([], "serializable") == "serializable"
    assert strongest_level([], "strict-serializable") == "strict-serializable"
    assert strongest_level(["G2", "G1b"], "serializable") == "read-uncommitted"
    assert strongest_level(["G-single-realtime"], "strict-serializable") == "serializable"
    assert strongest_level(["incompatible-order"], "serializable") == "none"


def test_the_engine_choice_for_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    h = txns(*serial(("ok", [["append", "x", 1]]), ("ok", [["r", "x", [1]]])))
    old = types.SimpleNamespace(search_many=1, check_ops=1, check_multi_register=1)
    assert native.usable(old) is None  # a build without the txn checker is not used
    monkeypatch.setattr(native, "_core", native.usable(old))
    assert native.choose(None) == "python"
    with pytest.raises(ValueError, match="not built"):
        _check_txn(h, engine="native")
    with pytest.raises(ValueError, match="unknown engine"):
        _check_txn(h, engine="rust")
    assert _check_txn(h, engine="python").result == "valid"
