"""The outbox checker: golden histories, violating ones, and the unknown case."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sdconform.checkers.outbox import check_outbox
from pytest_sdconform.history import History
from tests.compact import event


def outbox(writes: list[str], table: Any, topic: Any) -> History:
    """``writes`` in compact notation, then the two final reads."""
    ops = [event(i, w) for i, w in enumerate(writes)]
    n = len(ops)
    finals = [event(n, "9 invoke read table"), event(n + 1, "9 ok read table"),
              event(n + 2, "9 invoke poll topic"), event(n + 3, "9 ok poll topic")]
    finals[1].value, finals[3].value = table, topic
    for op in finals:
        op.extra = {"final": True}
    return History(ops + finals)


TWO = ["1 invoke write a 1", "1 ok write a 1", "2 invoke write a 2", "2 ok write a 2"]


def test_every_committed_row_published_once_is_valid() -> None:
    v = check_outbox(outbox(TWO, [["a", 1], ["a", 2]], [["a", 1, 0], ["a", 2, 1]]))
    assert v.result == "valid"
    assert v.details["duplicates"] == 0


def test_duplicates_are_allowed_and_counted() -> None:
    topic = [["a", 1, 0], ["a", 1, 1], ["a", 2, 2], ["a", 1, 3]]
    v = check_outbox(outbox(TWO, [["a", 1], ["a", 2]], topic))
    assert v.result == "valid"
    assert (v.details["duplicates"], v.details["duplicated_values"]) == (2, 1)


def test_a_committed_row_never_published_is_lost() -> None:
    v = check_outbox(outbox(TWO, [["a", 1], ["a", 2]], [["a", 1, 0]]))
    assert v.result == "invalid"
    assert v.anomaly_kinds == ["lost-message"]
    assert "value 2" in v.anomalies[0].explanation


def test_a_row_marked_sent_but_never_published_is_lost() -> None:
    v = check_outbox(outbox(TWO, [["a", 1, True], ["a", 2, True]], [["a", 1, 0]]))
    assert v.anomaly_kinds == ["lost-message"]


def test_a_row_still_unsent_is_pending_and_unknown_never_valid() -> None:
    v = check_outbox(outbox(TWO, [["a", 1, True], ["a", 2, False]], [["a", 1, 0]]))
    assert v.result == "unknown"
    assert v.details["pending"] == 1
    assert "not caught up" in v.reason


def test_an_acknowledged_write_missing_from_table_and_log_is_lost() -> None:
    v = check_outbox(outbox(TWO, [["a", 1]], [["a", 1, 0]]))
    assert v.anomaly_kinds == ["lost-message"]
    assert "acknowledged" in v.anomalies[0].explanation


def test_a_message_of_a_failed_transaction_is_a_phantom() -> None:
    writes = [*TWO, "3 invoke write a 3", "3 fail write a 3"]
    v = check_outbox(outbox(writes, [["a", 1], ["a", 2]],
                            [["a", 1, 0], ["a", 2, 1], ["a", 3, 2]]))
    assert v.anomaly_kinds == ["phantom-message"]
    assert "fail" in v.anomalies[0].explanation


def test_an_unknown_write_that_committed_is_not_a_phantom() -> None:
    writes = [*TWO, "3 invoke write a 3", "3 info write a 3"]
    v = check_outbox(outbox(writes, [["a", 1], ["a", 2], ["a", 3]],
                            [["a", 1, 0], ["a", 2, 1], ["a", 3, 2]]))
    assert v.result == "valid"


def test_messages_out_of_commit_order_within_an_aggregate() -> None:
    v = check_outbox(outbox(TWO, [["a", 1], ["a", 2]], [["a", 2, 0], ["a", 1, 1]]))
    assert v.anomaly_kinds == ["aggregate-order"]


def test_concurrent_transactions_may_be_published_in_either_order() -> None:
    writes = ["1 invoke write a 1", "2 invoke write a 2", "1 ok write a 1", "2 ok write a 2"]
    v = check_outbox(outbox(writes, [["a", 1], ["a", 2]], [["a", 2, 0], ["a", 1, 1]]))
    assert v.result == "valid"


def test_a_redelivered_earlier_message_keeps_the_first_copies_order() -> None:
    v = check_outbox(outbox(TWO, [["a", 1], ["a", 2]], [["a", 1, 0], ["a", 2, 1], ["a", 1, 2]]))
    assert v.result == "valid"


def test_no_final_read_is_unknown() -> None:
    h = History([event(i, w) for i, w in enumerate(TWO)])
    v = check_outbox(h)
    assert v.result == "unknown"
    assert "table and topic" in v.reason


def test_nothing_committed_is_unknown() -> None:
    assert check_outbox(outbox([], [], [])).result == "unknown"


def test_a_malformed_final_read_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="final topic read must be a list of 3-item"):
        check_outbox(outbox(TWO, [["a", 1], ["a", 2]], [["a", 1]]))


@given(st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=12),
       st.data())
def test_any_log_holding_every_row_in_order_with_redeliveries_is_valid(
        aggregates: list[int], data: st.DataObject) -> None:
    rows = [[f"g{a}", v] for v, a in enumerate(aggregates, start=1)]
    topic: list[list[Any]] = []
    for row in rows:  # each published once or more, a redelivery of anything earlier
        topic.append([*row, len(topic)])
        for _ in range(data.draw(st.integers(0, 2))):
            again = data.draw(st.sampled_from(rows[: rows.index(row) + 1]))
            topic.append([*again, len(topic)])
    writes = [w for v, a in enumerate(aggregates, start=1)
              for w in (f"{v} invoke write g{a} {v}", f"{v} ok write g{a} {v}")]
    assert check_outbox(outbox(writes, rows, topic)).result == "valid"
