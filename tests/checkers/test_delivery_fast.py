"""The columnar fast path of the delivery checker agrees with the reference path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from random_histories import histories

from pytest_sdconform.checkers import delivery, delivery_fast
from pytest_sdconform.checkers.delivery import check_delivery
from pytest_sdconform.checkers.traffic import gather
from pytest_sdconform.history import History, HistoryError, Operation


def ops(*rows: tuple[Any, ...]) -> History:
    return History(
        [
            Operation(i, i * 10, p, typ, f, k, v, extra=rest[0] if rest else None)
            for i, (p, typ, f, k, v, *rest) in enumerate(rows)
        ]
    )


FINAL = {"final": True}
DELIVERED = ops(
    (0, "invoke", "send", "q", 1),
    (0, "ok", "send", "q", 1),
    (1, "invoke", "send", "q", 2),
    (1, "fail", "send", "q", 2),
    (2, "invoke", "poll", "q", None, FINAL),
    (2, "ok", "poll", "q", [["q", 0, 1]], FINAL),
)
LOST = ops(
    (0, "invoke", "send", "q", 1),
    (0, "ok", "send", "q", 1),
    (2, "invoke", "poll", "q", None, FINAL),
    (2, "ok", "poll", "q", [], FINAL),
)
TWICE = ops(
    (0, "invoke", "send", "q", 1),
    (0, "ok", "send", "q", 1),
    (2, "invoke", "poll", "q", None, FINAL),
    (2, "ok", "poll", "q", [["q", 0, 1], ["q", 0, 1]], FINAL),
)
STRAY = ops(
    (2, "invoke", "dequeue", "q", None, FINAL),
    (2, "ok", "dequeue", "q", 5, FINAL),
)


def reference(h: History, guarantees: Any = ("at-least-once", "at-most-once")) -> Any:
    """The reference path alone: the fast path made to hand every history over."""
    saved = delivery.scan
    delivery.scan = lambda cols: None
    try:
        return check_delivery(h, guarantees=guarantees)
    finally:
        delivery.scan = saved


def test_a_valid_history_is_decided_without_the_reference_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = reference(DELIVERED)
    monkeypatch.setattr(delivery, "gather", None)  # calling it would fail
    assert check_delivery(DELIVERED) == expected
    assert expected.result == "valid"


def test_a_lost_message_is_worded_by_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = reference(LOST)
    monkeypatch.setattr(delivery, "gather", None)  # calling it would fail
    assert check_delivery(LOST) == expected
    assert expected.result == "invalid" and expected.anomaly_kinds == ["lost-message"]


@pytest.mark.parametrize(("h", "kind"), [(TWICE, "duplicate"), (STRAY, "unexpected-message")])
def test_an_anomaly_is_worded_by_the_reference_path(h: History, kind: str) -> None:
    assert delivery_fast.scan(delivery.paired(h)) is None  # type: ignore[arg-type]
    v = check_delivery(h)
    assert v == reference(h)
    assert v.result == "invalid" and v.anomaly_kinds == [kind]


def test_a_malformed_poll_raises_as_before() -> None:
    h = ops((2, "invoke", "poll", "q", None), (2, "ok", "poll", "q", [["q", 1]]))
    with pytest.raises(HistoryError, match="triples"):
        check_delivery(h)
    with pytest.raises(HistoryError, match="triples"):
        gather(h)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    histories("queue"),
    st.sampled_from(
        [("at-least-once", "at-most-once"), ("exactly-once",), ("at-most-once",), ("fifo",)]
    ),
)
def test_both_paths_agree(h: History, guarantees: tuple[str, ...]) -> None:
    try:
        expected = reference(h, guarantees)
    except HistoryError as e:
        with pytest.raises(HistoryError, match=re.escape(str(e))):
            check_delivery(h, guarantees=guarantees)
        return
    assert check_delivery(h, guarantees=guarantees) == expected
