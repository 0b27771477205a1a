"""The loss-window judge on synthetic histories: a write lost although a snapshot completed
before the crash covered it refutes (with that write as evidence), a run with no snapshot
before the crash is inconclusive through ``outcome.decide``, a loss after the last snapshot
is upheld."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.checkers.judge import NS
from pytest_sdconform.checkers.loss_window import LossWindow, SafePoint
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed


def h(*events: str) -> History:
    """``timed`` events with suffixes: ``#final`` marks a final read's line."""
    return timed(*events)


def verdicts(history: History) -> dict[str, Verdict]:
    return {"lost-writes": check_lost_writes(history)}


def at(reported: float, covers: float, *ops: int) -> Any:
    """Safe points: one reported at ``reported`` s covering acks before ``covers`` s."""
    return lambda history: [SafePoint(int(reported * NS), int(covers * NS), "snapshot", ops)]


# Positions: adds of 1 and 2 (0-3), a snapshot covering them reported at 1.0 s, an add of 3
# (4-5) after it, the kill (6-7), the final read (8-9).
BEFORE_CRASH = (
    "0.1 1 invoke add - 1", "0.2 1 ok add - 1",
    "0.3 1 invoke add - 2", "0.4 1 ok add - 2",
    "1.2 1 invoke add - 3", "1.3 1 ok add - 3",
    "2.0 n info kill-start", "3.0 n info kill-stop",
)


def run(final_value: str, points: Any = None, *extra: str) -> Any:
    history = h(*BEFORE_CRASH, *extra, "4.0 2 invoke read - #final",
                f"4.1 2 ok read - {final_value} #final")
    judge = LossWindow(points or at(1.0, 0.5, 3))
    v = verdicts(history)
    return judge, history, v, decide(history, v, judge, faults=["kill"])


def test_a_loss_after_the_last_snapshot_is_upheld() -> None:
    _, _, v, d = run("[1,2]")
    assert v["lost-writes"].result == "invalid"
    assert d.outcome == "upheld", d.reason
    assert "1 acknowledged adds lost" in d.reason and "0.70s" in d.reason
    assert d.exercised


def test_no_loss_at_all_is_upheld() -> None:
    _, _, _, d = run("[1,2,3]")
    assert d.outcome == "upheld" and "no acknowledged add was lost" in d.reason


def test_a_write_lost_although_a_completed_snapshot_covered_it_refutes() -> None:
    _, _, _, d = run("[2,3]")
    assert d.outcome == "refuted" and d.attributed
    assert "lost-before-safe-point" in d.reason
    [a] = d.anomalies
    assert a["kind"] == "lost-before-safe-point"
    assert {0, 1, 3} <= set(a["ops"])  # the lost write, and the call that showed the snapshot
    assert a["relative_to_faults"] == "during"  # from the write to the final read after it


def test_a_snapshot_reported_only_after_the_crash_began_does_not_count() -> None:
    judge, history, v, d = run("[2,3]", at(2.5, 0.5))
    # 1 was covered, but by nothing reported before the kill: an allowed loss...
    assert judge.rule(history, v).outcome == "upheld"
    # ...and no snapshot came before the kill: never put to the test.
    assert d.outcome == "inconclusive" and "not exercised" in d.reason


def test_a_loss_with_no_crash_after_it_refutes() -> None:
    _, _, _, d = run("[1,2,3]", None, "3.5 1 invoke add - 4", "3.6 1 ok add - 4")
    assert d.outcome == "refuted"
    assert d.anomalies[0]["kind"] == "lost-without-crash"


def test_no_snapshot_before_the_crash_is_not_exercised() -> None:
    _, _, _, d = run("[1,2]", lambda history: [])
    assert d.outcome == "inconclusive"
    assert d.reason.startswith("not exercised") and "no completed snapshot" in d.reason


def test_a_snapshot_that_covers_no_write_is_not_exercised() -> None:
    _, _, _, d = run("[1,2]", at(1.0, 0.05))  # covers only before the first ack
    assert d.outcome == "inconclusive" and "not exercised" in d.reason


def test_no_final_read_is_not_exercised() -> None:
    history = h(*BEFORE_CRASH)
    d = decide(history, verdicts(history), LossWindow(at(1.0, 0.5)), faults=["kill"])
    assert d.outcome == "inconclusive"


def test_an_unknown_lost_writes_verdict_is_inconclusive() -> None:
    history = h(*BEFORE_CRASH)
    v = {"lost-writes": Verdict("lost-writes", "unknown", reason="no final read")}
    d = decide(history, v, LossWindow(at(1.0, 0.5)), faults=["kill"])
    assert d.outcome == "inconclusive" and "no final read" in d.reason


@pytest.mark.parametrize("final_value, outcome", [("[1,2]", "upheld"), ("[1]", "refuted")])
def test_each_crash_is_judged_by_the_snapshots_before_it(final_value: str, outcome: str
                                                         ) -> None:
    """Two crashes: 2 is acked after the first; a snapshot between the crashes covers it."""
    history = h(
        "0.1 1 invoke add - 1", "0.2 1 ok add - 1",
        "1.0 n info kill-start", "1.5 n info kill-stop",
        "2.0 1 invoke add - 2", "2.1 1 ok add - 2",
        "3.0 1 invoke add - 3", "3.1 1 ok add - 3",
        "4.0 n info kill-start", "4.5 n info kill-stop",
        "5.0 2 invoke read - #final", f"5.1 2 ok read - {final_value} #final",
    )
    points = [SafePoint(int(0.5 * NS), int(0.25 * NS)), SafePoint(int(2.8 * NS), int(2.5 * NS))]
    d = decide(history, verdicts(history), LossWindow(lambda _: points), faults=["kill"])
    assert d.outcome == outcome, d.reason


def test_a_phantom_refutes_whatever_the_snapshots() -> None:
    _, _, _, d = run("[1,2,3,7]")
    assert d.outcome == "refuted" and d.anomalies[0]["kind"] == "phantom"


def test_a_reply_recorded_after_the_crash_was_recorded_belongs_to_that_crash() -> None:
    """The kill is recorded once proven; a reply the server sent just before dying may be
    recorded after that: its write was still the kill's to lose."""
    history = h(*BEFORE_CRASH[:6], "1.9 3 invoke add - 4", "2.0 n info kill-start",
                "2.01 3 ok add - 4", "3.0 n info kill-stop",
                "4.0 2 invoke read - #final", "4.1 2 ok read - [1,2] #final")
    d = decide(history, verdicts(history), LossWindow(at(1.0, 0.5, 3)), faults=["kill"])
    assert d.outcome == "upheld", d.reason
    assert "2 acknowledged adds lost" in d.reason
