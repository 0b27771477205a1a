"""The document's "monotonic write consistency" (per-replica read-after-ack): golden histories,
a single-copy register as a Hypothesis property, the unknown cases and the budget."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from register_sim import NodeRegister, node_register_runs

from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.read_after_ack import (
    STALE,
    ReadAfterAckChecker,
    check_read_after_ack,
)
from pytest_sdconform.history import History, Operation

Row = tuple[Any, ...]  # (process, type, f, key, value, node[, extra])


def history(*rows: Row, **meta: Any) -> History:
    ops = [Operation(i, i, p, t, f, k, v, node, extra=rest[0] if rest else None)
           for i, (p, t, f, k, v, node, *rest) in enumerate(rows)]
    return History(ops, meta=meta)


def w(p: Any, k: str, v: Any, node: str | None, **extra: Any) -> list[Row]:
    return [(p, "invoke", "write", k, v, None), (p, "ok", "write", k, v, node, extra or None)]


def r(p: Any, k: str, v: Any, node: str | None, **extra: Any) -> list[Row]:
    return [(p, "invoke", "read", k, None, None), (p, "ok", "read", k, v, node, extra or None)]


def test_the_acknowledging_node_serves_an_older_value() -> None:
    h = history(*w(1, "x", 1, "n1"), *w(1, "x", 2, "n1"), *r(2, "x", 1, "n1"))
    v = check_read_after_ack(h)
    assert v.result == "invalid"
    (a,) = v.anomalies
    assert (a.kind, a.key, a.ops) == (STALE, "x", list(range(6)))
    assert a.explanation == ("node n1 acknowledged the write of 2 to 'x', then answered a read "
                             "of it with 1, which is older")


def test_the_initial_value_after_an_ack() -> None:
    v = check_read_after_ack(history(*w(1, "x", 1, "n1"), *r(2, "x", None, "n1")))
    assert v.anomaly_kinds == [STALE]
    assert "initial value None" in v.anomalies[0].explanation


def test_other_nodes_are_not_bound_by_it() -> None:
    # Stale reads from n2 break read-your-writes, not this property: n2 acknowledged nothing.
    h = history(*w(1, "x", 1, "n1"), *w(1, "x", 2, "n1"), *r(1, "x", 1, "n2"),
                *r(2, "x", 2, "n1"))
    assert check_read_after_ack(h).result == "valid"


def test_a_later_or_concurrent_write_may_replace_the_acknowledged_one() -> None:
    h = history(*w(1, "x", 1, "n1"), *w(2, "x", 2, "n1"), *r(3, "x", 2, "n1"),
                (4, "invoke", "write", "x", 3, None), (5, "invoke", "read", "x", None, None),
                (5, "ok", "read", "x", 3, "n1"), (4, "ok", "write", "x", 3, "n1"))
    v = check_read_after_ack(h)
    assert v.result == "valid"  # 3, still in flight, is not older than 2
    h = history(*w(1, "x", 1, "n1"), (2, "invoke", "write", "x", 2, None),
                *r(3, "x", 1, "n1"), (2, "ok", "write", "x", 2, "n1"))
    assert check_read_after_ack(h).result == "valid"


def test_versions_order_what_real_time_cannot() -> None:
    h = history((1, "invoke", "write", "x", 1, None), (2, "invoke", "write", "x", 2, None),
                (1, "ok", "write", "x", 1, "n1", {"version": 2}),
                (2, "ok", "write", "x", 2, "n1", {"version": 1}),
                *r(3, "x", 2, "n1", version=1))
    v = check_read_after_ack(h)
    assert v.anomaly_kinds == [STALE]
    assert "write of 1" in v.anomalies[0].explanation


def test_unacknowledged_writes_bind_nobody() -> None:
    h = history((1, "invoke", "write", "x", 1, None), (1, "info", "write", "x", 1, "n1"),
                *r(2, "x", None, "n1"))
    v = check_read_after_ack(h)
    assert v.result == "unknown" and "acknowledged" in v.reason


def test_operations_without_a_node_are_not_checked() -> None:
    h = history(*w(1, "x", 1, None), *w(1, "x", 2, None), *r(2, "x", 1, None))
    assert check_read_after_ack(h).result == "unknown"


def test_budget() -> None:
    h = history(*w(1, "x", 1, "n1"), *r(2, "x", 1, "n1"))
    assert check_read_after_ack(h).result == "valid"
    v = check_read_after_ack(h, time_limit=0)
    assert v.result == "unknown" and "time limit" in v.reason


def test_anomalies_are_capped_but_counted() -> None:
    rows = [row for i in range(4) for row in (*w(i, f"k{i}", i + 1, "n1"),
                                              *r(10 + i, f"k{i}", None, "n1"))]
    v = check_read_after_ack(history(*rows), max_anomalies=1)
    assert len(v.anomalies) == 1 and v.details["anomalies_truncated"] == 3


def test_checker_protocol() -> None:
    checker: Checker = ReadAfterAckChecker(time_limit=10)
    assert checker.name == "read-after-ack"
    assert checker.check(history(*w(1, "x", 1, "n1"), *r(2, "x", 1, "n1"))).valid


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(node_register_runs())
def test_a_single_copy_register_keeps_it(reg: NodeRegister) -> None:
    v = check_read_after_ack(reg.history())
    assert v.result in ("valid", "unknown"), [a.to_json() for a in v.anomalies]


@settings(max_examples=300, deadline=None)
@given(node_register_runs(), st.data())
def test_an_older_value_after_the_ack_is_found(reg: NodeRegister, data: st.DataObject) -> None:
    k, node = data.draw(st.sampled_from(reg.keys)), data.draw(st.sampled_from(["n1", "n2"]))
    acked = [op for op in reg.ops if op.f == "write" and op.type == "ok" and op.key == k
             and op.node == node]
    if not acked or data.draw(st.booleans()):
        reg.write(k, node)
        acked = [reg.ops[-1]]
    ack = data.draw(st.sampled_from(acked))
    started = next(op.index for op in reversed(reg.ops[: ack.index])
                   if op.process == ack.process and op.type == "invoke")
    older = [None] + [op.value for op in reg.ops if op.f == "write" and op.type == "ok"
                      and op.key == k and op.index < started]
    stale = reg.read(k, data.draw(st.sampled_from(older)), node)
    v = check_read_after_ack(reg.history())
    assert v.result == "invalid"
    assert any(set(stale) <= set(a.ops) for a in v.anomalies)
