"""PrefixSurvives: a crash may cost a log its tail, never its middle, nor a torn value."""

from __future__ import annotations

import json

from pytest_sdconform.checkers.prefix import PrefixSurvives
from pytest_sdconform.history import History
from tests.compact import history

TORN = json.dumps({"nodes": ["n1"], "dropped": {"n1": {"files": 1, "writes": 1, "torn": 1}}})
CLEAN = json.dumps({"nodes": ["n1"], "dropped": {"n1": {"files": 1, "writes": 2, "torn": 0}}})


def run(final: list[int], cut: str = TORN, extra: tuple[str, ...] = ()) -> History:
    """Adds 1, 2, 3 acknowledged one after another, a power cut, add 4 after it, final read."""
    h = history(
        "1 invoke add - 1", "1 ok add - 1", "1 invoke add - 2", "1 ok add - 2",
        "1 invoke add - 3", "1 ok add - 3",
        "n invoke power-loss-start", f"n info power-loss-start - {cut}",
        "n info power-loss-stop", "n info power-loss-healed",
        "1 invoke add - 4", "1 ok add - 4", *extra,
        "2 invoke read -", f"2 ok read - {json.dumps(final)}",
    )
    for op in h.ops[-2:]:
        op.extra = {"final": True}
    return h


def test_a_lost_tail_is_a_prefix() -> None:
    judge = PrefixSurvives()
    h = run([1, 4])
    assert judge.exercised(h, {}).done
    ruling = judge.rule(h, {})
    assert ruling.outcome == "upheld" and "2 acknowledged adds lost" in ruling.reason


def test_a_lost_middle_is_a_hole() -> None:
    ruling = PrefixSurvives().rule(run([1, 3, 4]), {})
    assert ruling.outcome == "refuted"
    assert [a.kind for a in ruling.anomalies] == ["hole"]
    assert "2" in ruling.anomalies[0].explanation


def test_a_loss_after_the_last_crash_is_a_hole() -> None:
    ruling = PrefixSurvives().rule(run([1, 2, 3]), {})
    assert ruling.outcome == "refuted" and "after the last crash" in ruling.anomalies[0].explanation


def test_a_value_nobody_wrote_is_a_phantom() -> None:
    ruling = PrefixSurvives().rule(run([1, 2, 3, 4, 17]), {})
    assert [a.kind for a in ruling.anomalies] == ["phantom"]


def test_a_cut_that_tore_nothing_is_not_exercised() -> None:
    exercise = PrefixSurvives().exercised(run([1, 4], cut=CLEAN), {})
    assert not exercise.done and "tore" in exercise.why
