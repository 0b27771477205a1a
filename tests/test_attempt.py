"""The early stop of a case expected to be refuted: decided on a counterexample during or after a
fault, the history copied and checked only once a fault is on and only when something is new."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.attempt import Attempt
from pytest_sdconform.checkers.judge import Checkers
from pytest_sdconform.checkers.linearizable import LinearizabilityChecker
from pytest_sdconform.history import NEMESIS, History
from pytest_sdconform.recorder import Recorder
from pytest_sdconform.workloads import Client
from pytest_sdconform.workloads.register import Register


class Watched(Recorder):
    """A recorder that counts the copies of its history."""

    copies = 0

    def history(self) -> History:
        self.copies += 1
        return super().history()


def no_client(index: int) -> Client:
    raise AssertionError("the early stop runs no client")


def attempt(judge: Any) -> Attempt:
    return Attempt(Register(), no_client, (), [LinearizabilityChecker()], judge, None, None, None)


def write(rec: Recorder, p: int, value: int) -> None:
    rec.record(p, "invoke", "write", "x", value)
    rec.record(p, "ok", "write", "x", value)


def read(rec: Recorder, p: int, value: int) -> None:
    rec.record(p, "invoke", "read", "x")
    rec.record(p, "ok", "read", "x", value)


def test_a_stale_read_during_a_fault_stops_the_run_copies_taken_only_when_needed() -> None:
    decided = attempt(Checkers(["linearizable"]))._stop_when_refuted()
    assert decided is not None
    rec = Watched()
    write(rec, 0, 1)
    read(rec, 1, 1)
    assert not decided(rec) and rec.copies == 0  # no fault: the history is not even copied
    rec.record(NEMESIS, "invoke", "partition-start")
    assert not decided(rec) and rec.copies == 0  # asked for, not yet proven on
    rec.record(NEMESIS, "info", "partition-start", value={})
    assert not decided(rec) and rec.copies == 1
    assert not decided(rec) and rec.copies == 1  # nothing new: not looked at again
    write(rec, 0, 2)
    read(rec, 1, 1)  # stale: 2 was acknowledged before the read began
    assert decided(rec) and rec.copies == 2


def test_a_stale_read_before_any_fault_does_not_stop_the_run() -> None:
    decided = attempt(Checkers(["linearizable"]))._stop_when_refuted()
    assert decided is not None
    rec = Watched()
    write(rec, 0, 1)
    write(rec, 0, 2)
    read(rec, 1, 1)  # stale, with no fault to account for it
    assert not decided(rec) and rec.copies == 0
    rec.record(NEMESIS, "info", "partition-start", value={})
    assert not decided(rec) and rec.copies == 1  # checked: the anomaly is before the fault


def test_a_history_that_stays_linearizable_under_the_fault_does_not_stop_it() -> None:
    decided = attempt(Checkers(["linearizable"]))._stop_when_refuted()
    assert decided is not None
    rec = Watched()
    rec.record(NEMESIS, "info", "partition-start", value={})
    for v in range(5):
        write(rec, 0, v)
        read(rec, 1, v)
        assert not decided(rec)
    assert rec.copies == 5


def test_no_early_stop_for_a_judge_that_is_not_the_checkers_alone() -> None:
    class Other:
        name = "other"

    assert attempt(Other())._stop_when_refuted() is None
