"""The pytest plugin, end to end with pytester: suites run in-process against an in-memory
register (the plugin's glue is what is tested here, not a database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE = '''
import threading
import pytest
from pytest_sdconform.workloads import Invocation, Result
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.runner import RunConfig

STORE, LOCK = {}, threading.Lock()

@pytest.fixture(autouse=True)
def fresh_store():
    STORE.clear()

class Memory:
    """An atomic register; ``stale`` makes reads return the first value ever written."""
    def __init__(self, stale=False):
        self.stale = stale
    def invoke(self, op):
        with LOCK:
            if op.f == "read":
                if self.stale:
                    return Result("ok", STORE.get(("first", op.key)))
                return Result("ok", STORE.get(op.key))
            STORE.setdefault(("first", op.key), op.value)
            STORE[op.key] = op.value
            return Result("ok")
    def close(self):
        pass

@pytest.mark.claim("redis-single-threaded")
def test_upheld(sdconform):
    sdconform.run(Register(keys=1), lambda i: Memory(), decide_by=["linearizable"],
                  run=RunConfig(op_delay=0.001))

@pytest.mark.claim("redis-single-threaded")
def test_refuted_but_expected_upheld(sdconform):
    sdconform.run(Register(keys=1), lambda i: Memory(stale=True), decide_by=["linearizable"],
                  run=RunConfig(op_delay=0.001))

@pytest.mark.claim("redis-ha-replica-failover", config="reads-from-replicas")
def test_refuted_as_expected(sdconform):
    sdconform.run(Register(keys=1), lambda i: Memory(stale=True), decide_by=["linearizable"],
                  run=RunConfig(op_delay=0.001))

class Refusing:
    def invoke(self, op):
        return Result("fail", error="refused")
    def close(self):
        pass

class Breaks:
    name = "breaks"
    def start(self):
        return {}
    def stop(self):
        return {}

@pytest.mark.claim("redis-single-threaded")
def test_inconclusive(sdconform):
    # A fault during which no operation succeeded (every one fails): inconclusive.
    sdconform.run(Register(keys=1), lambda i: Refusing(), [Breaks()], decide_by=["linearizable"],
                  run=RunConfig(duration=1.0, quiet=0.1, fault_duration=0.2, op_delay=0.01))

@pytest.mark.claim("redis-persistance-no-loss")
def test_typo(sdconform):
    pass

def test_not_a_suite():
    assert True
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_without_the_flag_suites_skip_with_a_reason(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=5)
    result.stdout.fnmatch_lines(["*run with --sdconform (starts real servers)*"])


def test_a_run_decides_each_claim_and_writes_verdicts(suite: pytest.Pytester) -> None:
    report = suite.path / "run"
    result = suite.runpytest("--sdconform", "--sdconform-duration", "1", "--sdconform-seed",
                             "7", "--sdconform-concurrency", "2", "--sdconform-report",
                             str(report), "-rs")
    result.stdout.fnmatch_lines([f"sdconform: seed 7, runtime local, 1s per case, report {report}"])
    result.assert_outcomes(passed=3, failed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*unknown claim 'redis-persistance-no-loss'; did you mean*redis-persistence-no-loss*",
        "*redis-single-threaded: refuted, expected upheld: linearizable: 1 anomaly*",
        "*sdconform claims*",
        "ok   redis-single-threaded: upheld (expected upheld)*",
        "FAIL redis-single-threaded: refuted (expected upheld)*",
        "ok   redis-ha-replica-failover: refuted (expected refuted)*",
        "skip redis-single-threaded: inconclusive (expected upheld)*",
        "*redis-single-threaded: inconclusive: not exercised: no operation succeeded during*",
    ])
    cases = json.loads((report / "verdicts.json").read_text())
    assert [c["outcome"] for c in cases] == ["upheld", "refuted", "refuted", "inconclusive"]
    assert [c["passed"] for c in cases] == [True, False, True, False]
    refuted = cases[1]
    assert cases[2]["configuration"] == "reads-from-replicas" and cases[2]["expected_why"]
    assert cases[0]["exercised"] is True and cases[0]["faults"] == []
    inconclusive = cases[3]
    assert not inconclusive["exercised"] and "no operation succeeded" in inconclusive[
        "exercised_why"]
    assert {f["name"] for f in inconclusive["faults"]} == {"breaks"}
    assert all(set(f) == {"name", "start_s", "stop_s", "proven"} and f["proven"]
               for f in inconclusive["faults"])
    assert refuted["anomalies"][0]["relative_to_faults"] == "none"
    assert refuted["anomalies"] and refuted["anomalies"][0]["kind"] == "nonlinearizable"
    assert refuted["checkers"]["linearizable"] == "invalid" and refuted["seed"] == 7
    history = report / refuted["history"]
    assert history.exists() and len(history.read_text().splitlines()) > 10
    run = json.loads((report / "run.json").read_text())
    assert run["seed"] == 7 and run["systems"] == ["redis"]


def test_junit_xml_carries_claim_outcome_and_expected(suite: pytest.Pytester) -> None:
    import xml.etree.ElementTree as ET

    xml = suite.path / "junit.xml"
    suite.runpytest("--sdconform", "--sdconform-duration", "1", "--sdconform-report",
                    str(suite.path / "run"), f"--junitxml={xml}", "-k", "refuted")
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(xml).getroot().iter("testcase")
    }
    failed = props["test_refuted_but_expected_upheld"]
    assert failed["sdconform.claim"] == "redis-single-threaded"
    assert (failed["sdconform.outcome"], failed["sdconform.expected"]) == ("refuted", "upheld")
    assert failed["sdconform.passed"] == "False" and "#case-" in failed["sdconform.report"]
    kept = props["test_refuted_as_expected"]
    assert kept["sdconform.configuration"] == "reads-from-replicas"
    assert (kept["sdconform.outcome"], kept["sdconform.passed"]) == ("refuted", "True")


BAD_MARKERS = '''
import pytest

@pytest.mark.claim("redis-ha-replica-failover", expected="refuted")
def test_free_expected(sdconform):
    pass

@pytest.mark.claim("redis-ha-replica-failover", config="no-such-setup")
def test_unknown_configuration(sdconform):
    pass
'''


def test_expectations_come_from_the_catalogue(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad=BAD_MARKERS)
    result = pytester.runpytest("--sdconform", "--sdconform-report", str(pytester.path / "r"))
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*test_free_expected: expected= is not allowed*",
        "*claim 'redis-ha-replica-failover' has no configuration 'no-such-setup'*",
    ])


def test_a_case_whose_faults_are_all_filtered_out_skips(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--sdconform", "--sdconform-faults", "partition", "-k",
                             "inconclusive", "-rs", "--sdconform-report", str(suite.path / "r"))
    result.assert_outcomes(skipped=1, deselected=5)
    result.stdout.fnmatch_lines(["*every fault of this case (breaks) is filtered out by "
                                 "--sdconform-faults partition*"])


def test_strict_makes_inconclusive_fail(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--sdconform", "--sdconform-strict", "--sdconform-duration", "1",
                             "-k", "inconclusive", "--sdconform-report", str(suite.path / "r"))
    result.assert_outcomes(failed=1, deselected=5)
    result.stdout.fnmatch_lines(["*inconclusive, expected upheld*"])


def test_verdicts_survive_an_interrupted_run(suite: pytest.Pytester, tmp_path: Path) -> None:
    # verdicts.json is rewritten after every case, so a run stopped after the first case keeps it.
    report = tmp_path / "run"
    suite.runpytest("--sdconform", "--sdconform-duration", "1", "-x", "-k", "refuted_but",
                    "--sdconform-report", str(report))
    assert len(json.loads((report / "verdicts.json").read_text())) == 1


def test_xdist_workers_write_their_own_verdicts_and_the_controller_merges(
    suite: pytest.Pytester,
) -> None:
    result = suite.runpytest("--sdconform", "--sdconform-duration", "1", "-n", "2", "-p",
                             "xdist", "-k", "upheld or refuted")
    result.assert_outcomes(passed=2, failed=1)
    (report,) = (suite.path / "reports").iterdir()  # one run folder for all workers
    cases = json.loads((report / "verdicts.json").read_text())
    assert sorted(c["outcome"] for c in cases) == ["refuted", "refuted", "upheld"]
    assert len({c["case"] for c in cases}) == 3  # worker-prefixed case folders never collide
    assert all((report / c["history"]).exists() for c in cases)
    assert sorted(p.name for p in report.glob("verdicts.gw*.json"))
