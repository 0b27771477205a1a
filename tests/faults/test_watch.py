"""Watch: the wrapped fault's records, plus when the watched event was first seen (and last
not seen) in the heal record; a check that raises counts as not yet; ``observed`` reads it."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from pytest_sdconform.faults.watch import Watch, observed
from pytest_sdconform.recorder import Recorder


class Fault:
    name = "kill"

    def __init__(self) -> None:
        self.started = self.stopped = 0

    def start(self) -> dict[str, Any]:
        self.started += 1
        return {"nodes": ["n1"]}

    def stop(self) -> dict[str, Any]:
        self.stopped += 1
        return {"restarted": ["n1"]}


def test_the_first_true_check_is_recorded_at_the_heal() -> None:
    calls = itertools.count()

    def check() -> bool:
        n = next(calls)
        if n == 0:
            raise ConnectionError("not answering yet")
        return n >= 3

    inner = Fault()
    w = Watch(inner, "promoted", check, every_s=0.001)
    assert w.name == "kill"
    assert w.start() == {"nodes": ["n1"]}
    time.sleep(0.2)
    out = w.stop()
    seen = out["observed"]["promoted"]
    assert out["restarted"] == ["n1"] and inner.stopped == 1
    assert seen["polls"] == 4
    assert 0 <= seen["not_before_s"] <= seen["after_s"]


def test_an_event_never_seen_is_none_and_the_history_reader_finds_it() -> None:
    w = Watch(Fault(), "promoted", lambda: False, every_s=0.001)
    rec = Recorder()
    rec.record("nemesis", "invoke", "kill-start")
    rec.record("nemesis", "info", "kill-start", value=w.start())
    time.sleep(0.02)
    rec.record("nemesis", "info", "kill-stop")
    rec.record("nemesis", "info", "kill-healed", value=w.stop())
    [seen] = observed(rec.history(), "kill", "promoted")
    assert seen is not None and seen["after_s"] is None and seen["polls"] >= 1
    assert observed(rec.history(), "kill", "elected") == [None]


def test_a_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="every_s must be positive"):
        Watch(Fault(), "promoted", lambda: True, every_s=0)
