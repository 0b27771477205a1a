"""The columnar fast path of the lost-writes checker agrees with the reference path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from random_histories import histories

from pytest_sdconform.checkers import durability
from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.history import History, HistoryError, Operation


def ops(*rows: tuple[Any, ...]) -> History:
    return History(
        [
            Operation(i, i * 10, p, typ, f, k, v, extra=rest[0] if rest else None)
            for i, (p, typ, f, k, v, *rest) in enumerate(rows)
        ]
    )


FINAL = {"final": True}
KEPT = ops(
    (0, "invoke", "add", "s", 1),
    (0, "ok", "add", "s", 1),
    (1, "invoke", "add", "s", 2),
    (1, "info", "add", "s", 2),
    (2, "invoke", "read", "s", None, FINAL),
    (2, "ok", "read", "s", [1], FINAL),
)
LOST = ops(
    (0, "invoke", "add", "s", 1),
    (0, "ok", "add", "s", 1),
    (2, "invoke", "read", "s", None, FINAL),
    (2, "ok", "read", "s", [], FINAL),
)
PHANTOM = ops(
    (0, "invoke", "add", "s", 1),
    (0, "ok", "add", "s", 1),
    (2, "invoke", "read", "s", None),
    (2, "ok", "read", "s", [1, 9]),
)


def test_a_valid_history_is_decided_without_the_reference_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = durability._check_reference(KEPT, frozenset(("add", "append")))
    monkeypatch.setattr(durability, "_check_reference", None)  # calling it would fail
    assert check_lost_writes(KEPT) == expected
    assert expected.result == "valid" and expected.details["recovered"] == 0
    assert expected.details["unknown_absent"] == 1


def test_a_lost_write_is_worded_by_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = durability._check_reference(LOST, frozenset(("add", "append")))
    monkeypatch.setattr(durability, "_check_reference", None)
    assert check_lost_writes(LOST) == expected
    assert expected.result == "invalid" and expected.anomaly_kinds == ["lost-write"]


def test_a_phantom_is_worded_by_the_reference_path() -> None:
    v = check_lost_writes(PHANTOM)
    assert v == durability._check_reference(PHANTOM, frozenset(("add", "append")))
    assert v.result == "invalid" and v.anomaly_kinds == ["phantom"]


def test_bad_pairing_raises_as_before() -> None:
    with pytest.raises(HistoryError, match="has no invocation"):
        check_lost_writes(ops((0, "ok", "add", "s", 1)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    histories("set"),
    st.sampled_from([("add", "append"), ("add",), ("write", "add"), ("read", "add")]),
)
def test_both_paths_agree(h: History, fs: tuple[str, ...]) -> None:
    assert check_lost_writes(h, fs=fs) == durability._check_reference(h, frozenset(fs))
