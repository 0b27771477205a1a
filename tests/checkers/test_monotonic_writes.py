"""Monotonic writes as readers see them: golden histories, a single-copy register as a Hypothesis
property, the unknown cases and the budget."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from register_sim import NodeRegister, node_register_runs

from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.monotonic_writes import (
    MonotonicWritesChecker,
    check_monotonic_writes,
)
from pytest_sdconform.checkers.sessions import MW
from pytest_sdconform.history import History, HistoryError, Operation

Row = tuple[Any, ...]  # (process, type, f, key, value[, node])


def history(*rows: Row, **meta: Any) -> History:
    ops = [Operation(i, i, p, t, f, k, v, rest[0] if rest else None)
           for i, (p, t, f, k, v, *rest) in enumerate(rows)]
    return History(ops, meta=meta)


def w(p: Any, k: str, v: Any, node: str | None = None) -> list[Row]:
    return [(p, "invoke", "write", k, v, node), (p, "ok", "write", k, v, node)]


def r(p: Any, k: str, v: Any, node: str | None = None) -> list[Row]:
    return [(p, "invoke", "read", k, None, node), (p, "ok", "read", k, v, node)]


def test_a_node_that_returned_the_later_write_and_then_the_earlier_one() -> None:
    h = history(*w(1, "x", 1, "n1"), *w(1, "x", 2, "n1"),
                *r(2, "x", 2, "n2"), *r(3, "x", 1, "n2"))
    v = check_monotonic_writes(h)
    assert v.result == "invalid"
    (a,) = v.anomalies
    assert (a.kind, a.key, a.ops) == (MW, "x", list(range(8)))
    assert a.explanation == ("process 1 wrote 1 and later 2 to 'x'; node n2 returned 2 (to "
                             "process 2) and, after that, 1 (to process 3)")


def test_another_replica_may_still_lag_behind() -> None:
    h = history(*w(1, "x", 1, "n1"), *w(1, "x", 2, "n1"),
                *r(2, "x", 2, "n2"), *r(3, "x", 1, "n3"))
    assert check_monotonic_writes(h).result == "valid"
    v = check_monotonic_writes(h, scope="history")  # one copy: no replica may lag
    assert v.anomaly_kinds == [MW]
    assert "the store returned 2" in v.anomalies[0].explanation


def test_only_reads_invoked_after_the_observation_completed_count() -> None:
    # p3's read began before p2's read of 2 completed: they overlap, nothing is proven.
    h = history(*w(1, "x", 1), *w(1, "x", 2), (2, "invoke", "read", "x", None),
                (3, "invoke", "read", "x", None), (2, "ok", "read", "x", 2),
                (3, "ok", "read", "x", 1))
    assert check_monotonic_writes(h, scope="history").result == "valid"


def test_writes_of_different_sessions_are_not_ordered() -> None:
    h = history(*w(1, "x", 1), *w(2, "x", 2), *r(3, "x", 2), *r(3, "x", 1))
    v = check_monotonic_writes(h, scope="history")
    assert v.result == "unknown"  # no session wrote x twice: nothing could go back
    assert "second or later write" in v.reason


def test_each_key_and_session_alone() -> None:
    h = history(*w(1, "x", 1), *w(1, "y", 2), *r(2, "y", 2), *r(2, "x", 1))
    assert check_monotonic_writes(h, scope="history").result == "unknown"


def test_cas_and_info_writes_are_session_writes() -> None:
    h = history(*w(1, "x", 1), (1, "invoke", "cas", "x", [1, 2]), (1, "info", "cas", "x", [1, 2]),
                *r(2, "x", 2), *r(3, "x", 1))
    assert check_monotonic_writes(h, scope="history").anomaly_kinds == [MW]


def test_failed_writes_never_happened() -> None:
    h = history(*w(1, "x", 1), (1, "invoke", "write", "x", 2), (1, "fail", "write", "x", 2),
                *w(1, "x", 3), *r(2, "x", 3), *r(3, "x", 1))
    v = check_monotonic_writes(h, scope="history")
    assert v.anomaly_kinds == [MW]
    assert "wrote 1 and later 3" in v.anomalies[0].explanation


def test_reads_it_cannot_attribute_are_skipped_and_counted() -> None:
    h = history(*w(1, "x", 1, "n1"), *w(2, "x", 1, "n1"), *r(3, "x", 1, "n1"),
                *r(3, "x", None, "n1"), *r(3, "x", 9, "n1"), *r(3, "x", 1))
    v = check_monotonic_writes(h)
    assert v.result == "unknown"
    assert v.details["reads_skipped"] == {"ambiguous": 1, "initial": 1, "unattributed": 1,
                                          "no node": 1}


def test_budget_and_bad_input() -> None:
    h = history(*w(1, "x", 1), *w(1, "x", 2), *r(2, "x", 2))
    v = check_monotonic_writes(h, scope="history", time_limit=0)
    assert v.result == "unknown" and "time limit" in v.reason
    with pytest.raises(ValueError, match="scope"):
        check_monotonic_writes(h, scope="replica")
    h.ops[1].index = 0
    with pytest.raises(HistoryError, match="increase"):
        check_monotonic_writes(h)


def test_checker_protocol() -> None:
    checker: Checker = MonotonicWritesChecker(scope="history")
    assert checker.name == "monotonic-writes"
    h = history(*w(1, "x", 1), *w(1, "x", 2), *r(2, "x", 2), *r(2, "x", 2))
    assert checker.check(h).valid


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(node_register_runs(), st.sampled_from(["node", "history"]))
def test_a_single_copy_register_keeps_monotonic_writes(reg: NodeRegister, scope: str) -> None:
    v = check_monotonic_writes(reg.history(), scope=scope)
    assert v.result in ("valid", "unknown"), [a.to_json() for a in v.anomalies]


@settings(max_examples=300, deadline=None)
@given(node_register_runs(), st.data())
def test_a_session_s_earlier_write_read_after_its_later_one_is_found(
    reg: NodeRegister, data: st.DataObject
) -> None:
    k, node = data.draw(st.sampled_from(reg.keys)), data.draw(st.sampled_from(["n1", "n2"]))
    pairs = _session_pairs(reg.ops, k)
    if not pairs:  # one fresh session writes twice
        p = 10_000
        for v in (10_000, 10_001):
            reg.add(p, "invoke", "write", k, v, "n1")
            reg.add(p, "ok", "write", k, v, "n1")
        pairs = [(10_000, 10_001)]
    w1, w2 = data.draw(st.sampled_from(pairs))
    reg.read(k, w2, node)
    stale = reg.read(k, w1, node)
    v = check_monotonic_writes(reg.history(), scope=data.draw(st.sampled_from(["node",
                                                                                "history"])))
    assert v.result == "invalid"
    assert any(set(stale) <= set(a.ops) for a in v.anomalies)


def _session_pairs(ops: list[Operation], key: str) -> list[tuple[Any, Any]]:
    """(w1, w2) values: one session's ok write followed by a later write that did not fail."""
    by_process: dict[Any, list[Any]] = {}
    invoked: dict[Any, Any] = {}
    for op in ops:
        if op.f != "write" or op.key != key:
            continue
        if op.type == "invoke":
            invoked[op.process] = op.value
        elif op.type != "fail":
            by_process.setdefault(op.process, []).append((op.type, invoked[op.process]))
    return [(a, b) for ws in by_process.values() for i, (t, a) in enumerate(ws) if t == "ok"
            for _, b in ws[i + 1:]]
