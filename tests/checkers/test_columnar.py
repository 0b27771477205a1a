"""columnar.paired pairs as History.complete does, and gives up where complete() raises."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from random_histories import histories

from pytest_sdconform.checkers.columnar import fault_windows, paired
from pytest_sdconform.history import NEMESIS, History, HistoryError, Operation


def ops(*rows: tuple) -> History:
    return History([Operation(i, i * 10, *row) for i, row in enumerate(rows)])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories("register"))
def test_the_pairs_and_windows_of_complete(h: History) -> None:
    cols = paired(h)
    assert cols is not None and cols.increasing
    pairs = h.complete()
    assert cols.invokes == [c.invoke for c in pairs]
    assert cols.completions == [c.completion for c in pairs]
    assert fault_windows(cols) == h.fault_windows()


@pytest.mark.parametrize(
    "h",
    [
        ops((0, "ok", "write", "x", 1)),
        ops((0, "invoke", "write", "x", 1), (0, "invoke", "read", "x", None)),
    ],
)
def test_irregular_pairing_gives_up(h: History) -> None:
    assert paired(h) is None
    with pytest.raises(HistoryError):
        h.complete()


def test_indices_out_of_file_order_are_noted() -> None:
    h = ops((0, "invoke", "write", "x", 1), (NEMESIS, "info", "kill-start", None, None))
    h.ops[1].index = 0
    cols = paired(h)
    assert cols is not None and not cols.increasing
    assert cols.nemesis == [h.ops[1]] and cols.completions == [None]
