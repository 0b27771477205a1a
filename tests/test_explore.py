"""Exploring fault schedules (explore.py) with a stand-in for the system: refutation is a
function of the schedule, so what Hypothesis finds and shrinks to is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_sdconform.explore import Bounds, database_key, explore, schedules
from pytest_sdconform.faults.schedule import Schedule

FAULTS = ("pause-n2", "kill-n3", "partition-n1")
BOUNDS = Bounds(FAULTS, compose=2, quiet=(0.1, 1.0), duration=(0.2, 2.0), steps=3)


def breaks_under_long_partition(schedule: Schedule, n: int) -> tuple[str, bool, Any]:
    """Refuted when the partition (fault 2) stays on for half a second or more."""
    bad = any(any(i == 2 for i, _ in s.faults) and s.duration >= 0.5 for s in schedule.steps)
    return ("refuted" if bad else "upheld"), bad, n


def run(tmp_path: Path, attempt: Any = breaks_under_long_partition, **kw: Any) -> Any:
    options: dict[str, Any] = dict(examples=50, shrink_budget_s=60.0,
                                   key=database_key("t", FAULTS), database=tmp_path / "db")
    return explore(attempt, BOUNDS, **(options | kw))


def test_finds_and_shrinks_to_the_one_fault_that_matters(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.first is not None and done.minimal is not None
    minimal = done.minimal.schedule
    assert len(minimal.steps) == 1
    step = minimal.steps[0]
    assert step.faults == ((2, "partition-n1"),)
    assert step.duration == 0.5 and step.quiet == 0.1  # the shortest that still refutes
    assert done.minimal.schedule.size <= done.first.schedule.size
    summary = done.summary()
    assert summary["refuted"] and summary["shrink_complete"]
    assert summary["minimal"]["describe"] == "0.1s quiet, partition-n1 0.5s"
    assert summary["runs"] == summary["generated"] + summary["shrink_runs"]


def test_a_schedule_is_run_once(tmp_path: Path) -> None:
    seen: list[str] = []

    def attempt(schedule: Schedule, n: int) -> tuple[str, bool, Any]:
        seen.append(schedule.key())
        return breaks_under_long_partition(schedule, n)

    run(tmp_path, attempt)
    assert len(seen) == len(set(seen))


def test_nothing_refutes_within_the_examples(tmp_path: Path) -> None:
    done = run(tmp_path, lambda s, n: ("upheld", False, n), examples=10)
    assert done.minimal is None and done.first is None
    assert 1 <= len(done.runs) <= 10
    summary = done.summary()
    assert summary["tried"][0] == {"run": 1, "phase": "generate", "outcome": "upheld",
                                   "schedule": done.runs[0].schedule.describe()}
    del summary["tried"]
    assert summary == {"runs": len(done.runs), "generated": len(done.runs), "shrink_runs": 0,
                       "refuted": False}


def test_past_the_budget_no_candidate_runs_and_the_result_says_so(tmp_path: Path) -> None:
    done = run(tmp_path, shrink_budget_s=0.0)
    assert done.minimal is done.first  # nothing smaller was tried
    assert done.budget_spent and done.skipped > 0
    assert done.runs[-1].refuted and all(t.phase == "generate" for t in done.runs)
    assert done.summary()["shrink_complete"] is False


def test_the_next_exploration_tries_the_saved_schedule_first(tmp_path: Path) -> None:
    first = run(tmp_path)
    again = run(tmp_path)
    assert first.minimal is not None
    assert again.runs[0].refuted  # one Hypothesis saved (its own smallest, before our last pass)
    assert again.runs[0].schedule in {t.schedule for t in first.runs if t.refuted}


def test_generated_schedules_stay_within_the_bounds() -> None:
    from hypothesis import given, settings

    @settings(max_examples=200, deadline=None)
    @given(schedules(BOUNDS))
    def within(schedule: Schedule) -> None:
        assert 1 <= len(schedule.steps) <= 3
        for s in schedule.steps:
            assert 1 <= len(s.faults) <= 2
            assert all(FAULTS[i] == name for i, name in s.faults)
            assert 0.1 <= s.quiet <= 1.0 and 0.2 <= s.duration <= 2.0

    within()


def test_bounds_come_from_the_case_spans() -> None:
    b = Bounds.around(["a", "b"], quiet=3.0, duration=5.0, compose=4)
    assert b.compose == 2 and b.quiet == (0.8, 6.0) and b.duration == (5.0, 10.0)
