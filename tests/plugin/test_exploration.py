"""Prove exploration bites: a deliberately broken stand-in (a register whose reads go stale
while its partition is on) is found by ``--sdconform-explore`` through the plugin, shrunk to a
one-fault schedule, shown in the report, and run again by ``--sdconform-schedule``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE = '''
import threading
import pytest
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads import Result
from pytest_sdconform.runner import RunConfig

class StandIn:
    """A primary and a replica in memory; reads are served by the replica, which stops
    receiving writes while the partition is on (and catches up when it heals)."""
    def __init__(self):
        self.lock = threading.Lock()
        self.primary, self.replica, self.cut = {}, {}, False
    def write(self, key, value):
        with self.lock:
            self.primary[key] = value
            if not self.cut:
                self.replica[key] = value
    def read(self, key):
        with self.lock:
            return self.replica.get(key)

STANDIN = StandIn()

class Client:
    def invoke(self, op):
        if op.f == "read":
            return Result("ok", STANDIN.read(op.key))
        STANDIN.write(op.key, op.value)
        return Result("ok")
    def close(self):
        pass

class Toggle:
    """A fault of the stand-in: ``partition`` cuts the replica off; the others change nothing
    the clients can see."""
    def __init__(self, name):
        self.name = name
    def start(self):
        if self.name == "partition-replica":
            STANDIN.cut = True
        return {}
    def stop(self):
        if self.name == "partition-replica":
            with STANDIN.lock:
                STANDIN.cut = False
                STANDIN.replica.update(STANDIN.primary)
        return {}

def test_standin(sdconform):
    faults = [Toggle("pause-primary"), Toggle("kill-spare"), Toggle("partition-replica")]
    sdconform.run(Register(keys=1), lambda i: Client(), faults, decide_by=["linearizable"],
                  run=RunConfig(quiet=0.4, fault_duration=0.6, compose=2, settle=0.1,
                                op_delay=0.002))

def test_own_schedule(sdconform):
    from pytest_sdconform.faults.schedule import Schedule, Step
    faults = [Toggle("pause-primary"), Toggle("partition-replica")]
    own = Schedule((Step(((1, "partition-replica"),), 0.2, 0.5),))
    sdconform.run(Register(keys=1), lambda i: Client(), faults, decide_by=["linearizable"],
                  run=RunConfig(settle=0.1, op_delay=0.002, schedule=own))
'''


@pytest.fixture
def suite(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> pytest.Pytester:
    monkeypatch.setenv("SDCONFORM_EXPLORE_DB", str(tmp_path / "explore-db"))
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def case_of(report: Path) -> dict:  # type: ignore[type-arg]
    cases = json.loads((report / "verdicts.json").read_text())
    assert len(cases) == 1
    return cases[0]  # type: ignore[no-any-return]


def test_exploration_finds_the_broken_standin_and_shrinks_it_to_one_fault(
        suite: pytest.Pytester) -> None:
    report = suite.path / "run"
    # The seeded run is too short for a fault to start (0.3 s of traffic, 0.4 s quiet first),
    # and if a slow machine lets one start, seed 7 draws pause and kill, not the partition:
    # only the exploration can find it.
    result = suite.runpytest("--sdconform", "--sdconform-duration", "0.3", "--sdconform-seed", "7",
                             "-k", "test_standin",
                             "--sdconform-concurrency", "2", "--sdconform-report", str(report),
                             "--sdconform-explore", "25", "--sdconform-explore-budget", "300")
    result.assert_outcomes(passed=1)
    case = case_of(report)
    assert case["outcome"] == "refuted" and case["checkers"]["linearizable"] == "invalid"
    explored = case["exploration"]
    assert explored["refuted"]
    minimal, original = explored["minimal"]["steps"], explored["original"]["steps"]
    # The partition is what refutes; the schedule shrank (the deterministic shrinking to one
    # step at the lower bounds is tests/test_explore.py's: here a real run that did not refute
    # at a smaller schedule, its clients late on a loaded machine, is not run again).
    assert any([2, "partition-replica"] in s["faults"] for s in minimal)
    for s in minimal:
        assert 0.6 <= s["duration"] <= 1.2 and 0.1 <= s["quiet"] <= 0.8  # within the bounds
    size = [(len(x), sum(len(s["faults"]) for s in x), sum(s["duration"] for s in x))
            for x in (minimal, original)]
    assert size[0] <= size[1] and (explored["shrink_runs"] > 0 or minimal == original)
    # A run under a schedule injects the faults it names: one that upheld says so (it is not
    # inconclusive for the case's other faults, which it never started).
    outcomes = {t["outcome"] for t in explored["tried"]}
    assert {"upheld", "refuted"} <= outcomes
    # The case's evidence is the minimal schedule's run, and its history is shrunk too.
    assert case["history"] == f"{case['case']}/explore/{explored['minimal_run']:03d}/history.jsonl"
    assert (report / case["history"]).exists()
    assert case["minimal_counterexample"]["operations"]
    assert "partition-replica" in [f["name"] for f in case["faults"]]
    page = (report / "index.html").read_text()
    assert "Explored fault schedules" in page and explored["minimal"]["describe"] in page
    assert "Every explored run" in page

    # The minimal schedule, written out, runs again and refutes again.
    schedule = suite.path / "minimal.json"
    schedule.write_text(json.dumps(explored["minimal"]))
    again = suite.path / "again"
    result = suite.runpytest("--sdconform", "--sdconform-duration", "0.3", "--sdconform-report",
                             str(again), "--sdconform-schedule", str(schedule), "-k",
                             "test_standin")
    result.assert_outcomes(passed=1)
    assert case_of(again)["outcome"] == "refuted"
    assert case_of(again)["config"]["schedule"] == explored["minimal"]["describe"]


def test_nothing_found_keeps_the_upheld_outcome_and_says_how_much_was_tried(
        suite: pytest.Pytester) -> None:
    report = suite.path / "run"
    result = suite.runpytest("--sdconform", "--sdconform-duration", "1", "-k", "standin",
                             "--sdconform-faults", "kill-spare",
                             "--sdconform-report", str(report), "--sdconform-explore", "3")
    result.assert_outcomes(passed=1)
    case = case_of(report)
    assert case["outcome"] == "upheld"
    explored = case["exploration"]
    assert [t["outcome"] for t in explored.pop("tried")] == ["upheld"] * 3
    assert explored == {"runs": 3, "generated": 3, "shrink_runs": 0, "refuted": False}


def test_a_schedule_that_does_not_fit_the_case_names_the_file(suite: pytest.Pytester) -> None:
    bad = suite.path / "bad.json"
    bad.write_text(json.dumps({"steps": [{"faults": [[0, "partition-replica"]], "quiet": 0.1,
                                          "duration": 0.2}]}))
    result = suite.runpytest("--sdconform", "--sdconform-duration", "0.3",
                             "--sdconform-report", str(suite.path / "run"),
                             "--sdconform-schedule", str(bad), "-k", "test_standin")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{bad}: step 1 names fault 0 'partition-replica', but this "
                                 "case's faults are 0: pause-primary*"])
    broken = suite.path / "broken.json"
    broken.write_text("{nope")
    result = suite.runpytest("--sdconform", "--sdconform-schedule", str(broken))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--sdconform-schedule {broken}: not JSON*"])


def test_a_case_may_write_its_own_schedule(suite: pytest.Pytester) -> None:
    report = suite.path / "run"
    result = suite.runpytest("--sdconform", "--sdconform-duration", "0.1", "--sdconform-report",
                             str(report), "-k", "test_own_schedule")
    result.assert_outcomes(passed=1)
    case = case_of(report)
    assert case["outcome"] == "refuted"  # the partition it wrote in, not a seeded draw
    assert [f["name"] for f in case["faults"]] == ["partition-replica"]
