"""The columnar fast path of the session guarantees agrees with the reference path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from random_histories import histories

from pytest_sdconform.checkers import sessions
from pytest_sdconform.checkers.sessions import GUARANTEES, check_sessions
from pytest_sdconform.history import History, HistoryError, Operation


def ops(*rows: tuple[Any, ...]) -> History:
    return History(
        [
            Operation(i, i * 10, p, typ, f, k, v, extra=rest[0] if rest else None)
            for i, (p, typ, f, k, v, *rest) in enumerate(rows)
        ]
    )


VALID = ops(
    (0, "invoke", "write", "x", 1),
    (0, "ok", "write", "x", 1),
    (1, "invoke", "read", "x", None),
    (1, "ok", "read", "x", 1),
    (0, "invoke", "read", "x", None),
    (0, "ok", "read", "x", 1),
)
STALE = ops(
    (0, "invoke", "write", "x", 1),
    (0, "ok", "write", "x", 1),
    (0, "invoke", "write", "x", 2),
    (0, "ok", "write", "x", 2),
    (0, "invoke", "read", "x", None),
    (0, "ok", "read", "x", 1),
)


def reference(h: History, guarantees: Any = GUARANTEES, order: str = "auto") -> Any:
    return sessions._check_reference(h, guarantees, order, 1000)


def test_a_valid_history_is_decided_without_the_reference_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = reference(VALID)
    monkeypatch.setattr(sessions, "_check_reference", None)  # calling it would fail
    assert check_sessions(VALID) == expected
    assert expected.result == "valid"


def test_an_anomaly_is_worded_by_the_reference_path_on_its_key_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = ops(
        (5, "invoke", "write", "y", 7),
        (5, "ok", "write", "y", 7),
        *(op_row(op) for op in STALE.ops),
        (5, "invoke", "read", "y", None),
        (5, "ok", "read", "y", 7),
    )
    expected = reference(h)
    monkeypatch.setattr(sessions, "_check_reference", None)
    checked: list[Any] = []
    real = sessions._check_key

    def spy(events: Any, *rest: Any) -> None:
        checked.append(events[0].key)
        real(events, *rest)

    monkeypatch.setattr(sessions, "_check_key", spy)
    v = check_sessions(h)
    assert v == expected and checked == ["x"]
    assert v.result == "invalid" and v.anomaly_kinds == ["read-your-writes"]
    assert v.details["reads"] == 2 and v.details["keys_by_order"] == {"realtime": 2}


def op_row(op: Operation) -> tuple[Any, ...]:
    return (op.process, op.type, op.f, op.key, op.value)


def test_an_unwanted_kind_does_not_hand_over(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = reference(STALE, ["monotonic-reads"])
    monkeypatch.setattr(sessions, "_check_reference", None)
    assert check_sessions(STALE, guarantees=["monotonic-reads"]) == expected


def test_bad_pairing_raises_as_before() -> None:
    h = ops((0, "ok", "write", "x", 1))
    with pytest.raises(HistoryError, match="has no invocation"):
        check_sessions(h)
    h = ops((0, "invoke", "write", "x", 1), (0, "invoke", "write", "x", 1))
    with pytest.raises(HistoryError, match="still open"):
        check_sessions(h)


def test_decreasing_indices_raise_as_before() -> None:
    h = ops((0, "invoke", "write", "x", 1), (0, "ok", "write", "x", 1))
    h.ops[1].index = 0
    with pytest.raises(HistoryError, match="indices must increase"):
        check_sessions(h)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    histories("register"),
    st.sampled_from(["auto", "realtime", "version", "value"]),
    st.sampled_from(
        [GUARANTEES, ("read-your-writes",), ("monotonic-reads", "writes-follow-reads")]
    ),
    st.sampled_from([None, 0, 3]),
)
def test_both_paths_agree(h: History, order: str, guarantees: Any, initial: Any) -> None:
    if initial is not None:
        h.meta["initial"] = initial
    assert check_sessions(h, guarantees=guarantees, order=order, max_anomalies=2) == (
        sessions._check_reference(h, guarantees, order, 2)
    )
