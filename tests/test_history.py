"""History pairing, per-process views and fault windows."""

from __future__ import annotations

import pytest
from compact import history

from pytest_sdconform.history import HistoryError, in_windows, window_lookup


def test_pairing_and_process_views() -> None:
    h = history(
        "1 invoke write x 1",
        "2 invoke read x",
        "2 ok read x null",
        "1 info write x 1",
        "3 invoke read x",
    )
    done = h.complete()
    assert [(c.process, c.f, c.type) for c in done] == [
        (1, "write", "info"),
        (2, "read", "ok"),
        (3, "read", "info"),
    ]
    assert done[0].end is None and done[1].end == 2 and done[2].completion is None
    assert set(h.by_process()) == {1, 2, 3}


def test_double_invocation_is_an_error() -> None:
    with pytest.raises(HistoryError, match="still open"):
        history("1 invoke read x", "1 invoke read x").complete()


def test_fault_windows() -> None:
    h = history(
        "n info partition-start",
        "1 invoke read x",
        "1 ok read x null",
        "n info partition-stop",
        "n info kill-start",
        "2 invoke read x",
    )
    windows = h.fault_windows()
    assert [(w.fault, w.start, w.end) for w in windows] == [("partition", 0, 3), ("kill", 4, None)]
    active = window_lookup(windows)
    assert active(1) and not active(3) and active(99)
    assert in_windows(windows, 1, 2) and not in_windows(windows[:1], 3, 3)
