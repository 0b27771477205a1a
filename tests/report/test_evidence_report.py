"""The report shows each generic claim with its per-system evidence: the cases that decide it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_sdconform.claims import load_catalogue
from pytest_sdconform.claims.evidence import Evidence
from pytest_sdconform.report import write_report
from pytest_sdconform.report.data import load_report
from pytest_sdconform.report.evidence import generic_views

PINNED = ("suites/redis/test_redis.py::"
          "test_primary_reads_keep_read_your_writes_while_a_replica_is_cut")
SENTINEL = "suites/redis/test_redis.py::test_a_sentinel_failover_loses_acknowledged_writes"
CASSANDRA_ONE = "suites/cassandra/test_cassandra.py::test_reads_at_one_go_stale_under_partition"


def verdict(number: int, test: str, claim: str, outcome: str, expected: str,
            backend: str = "redis") -> dict[str, Any]:
    return {"case": f"case-{number:03d}", "test": test, "claim": claim, "outcome": outcome,
            "expected": expected, "backend": backend, "runtime": "local", "anomalies": []}


def run_folder(tmp_path: Path, cases: list[dict[str, Any]]) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps(
        {"run_id": "r", "systems": ["redis", "cassandra", "generic"], "seed": 1}))
    (folder / "verdicts.json").write_text(json.dumps(cases))
    return folder


def test_each_case_of_the_run_shows_under_the_generic_claims_it_decides(tmp_path: Path) -> None:
    folder = run_folder(tmp_path, [
        verdict(1, PINNED, "redis-sticky-primary-ryw", "upheld", "upheld"),
        verdict(2, SENTINEL + "[seed]", "elasticache-multiaz", "refuted", "refuted"),
        verdict(3, CASSANDRA_ONE, "cass-quorum-intersection", "refuted", "refuted", "cassandra"),
    ])
    report = load_report(folder)
    views = {v.row.claim_id: v for v in report.generic}
    pinning = views["gen-ryw-leader-pinning"]
    assert [(e.system, e.case_id, e.outcome, e.passed) for e in pinning.evidence] == [
        ("redis", "case-001", "upheld", True)]
    cap = views["gen-cap"]
    # The sentinel case (a parametrized id) refutes its own claim: read the opposite way, it
    # upholds CAP (availability kept, acknowledged writes lost).
    assert {(e.system, e.case_outcome, e.outcome, e.reads) for e in cap.evidence} == {
        ("redis", "refuted", "upheld", "opposite"), ("cassandra", "refuted", "upheld", "opposite")}
    # In the catalogue's order, each system with the case's claim (and configuration).
    assert cap.summary == ("upheld on cassandra (cass-quorum-intersection), "
                           "redis (elasticache-multiaz)")
    assert "gen-cap" not in {row.claim_id for row in report.untested}
    assert "gen-causal" in {row.claim_id for row in report.untested}
    html = write_report(folder).read_text(encoding="utf-8")
    assert "Generic claims, decided from cases on several systems" in html
    assert "read the opposite way" in html and pinning.evidence[0].why in html


def test_evidence_against_its_expectation_fails_and_an_inconclusive_case_stays_so() -> None:
    catalogue = load_catalogue()
    entries = [
        Evidence("gen-read-latest", "suites/x/test_a.py::test_lin", "x", "same", "upheld", "w",
                 "o"),
        Evidence("gen-nosql-no-compromise", "suites/x/test_a.py::test_cap", "x", "opposite",
                 "refuted", "w", "o"),
    ]
    from pytest_sdconform.report.case import case_view

    cases = [case_view(verdict(1, "suites/x/test_a.py::test_lin", "c", "refuted", "upheld"), 1,
                       Path("/nonexistent"), catalogue),
             case_view(verdict(2, "suites/x/test_a.py::test_cap", "c", "inconclusive",
                               "upheld"), 2, Path("/nonexistent"), catalogue),
             case_view(verdict(3, "suites/x/test_a.py::test_other", "c", "upheld", "upheld"), 3,
                       Path("/nonexistent"), catalogue)]
    views = generic_views(cases, catalogue, entries)
    assert [v.row.claim_id for v in views] == ["gen-read-latest", "gen-nosql-no-compromise"]
    [lin], [cap] = views[0].evidence, views[1].evidence
    assert (lin.outcome, lin.passed) == ("refuted", False)
    assert (cap.outcome, cap.passed) == ("inconclusive", False)
    assert views[0].summary == "refuted on x (c)"


def test_a_case_run_from_another_rootdir_still_decides_its_generic_claims() -> None:
    """pytest names a test from its rootdir: run from /work, the id starts "main/suites/"."""
    catalogue = load_catalogue()
    entries = [Evidence("gen-read-latest", "suites/x/test_a.py::test_lin", "x", "same",
                        "upheld", "w", "o")]
    from pytest_sdconform.report.case import case_view

    for test in ("main/suites/x/test_a.py::test_lin[1]", "/abs/main/suites/x/test_a.py::test_lin",
                 "suites\\x\\test_a.py::test_lin"):
        case = case_view(verdict(1, test, "c", "upheld", "upheld"), 1, Path("/nonexistent"),
                         catalogue)
        [view] = generic_views([case], catalogue, entries)
        assert [e.outcome for e in view.evidence] == ["upheld"], test
    other = case_view(verdict(1, "other/x/test_a.py::test_lin", "c", "upheld", "upheld"), 1,
                      Path("/nonexistent"), catalogue)
    assert generic_views([other], catalogue, entries) == []


def test_the_summary_tells_two_configurations_of_one_system_apart() -> None:
    """"upheld on cassandra; refuted on cassandra" says nothing: each label carries the case's
    claim and its catalogue configuration."""
    catalogue = load_catalogue()
    entries = [Evidence("gen-base-available", "suites/x/test_a.py::test_one", "cassandra",
                        "same", "upheld", "w", "o"),
               Evidence("gen-base-available", "suites/x/test_a.py::test_quorum", "cassandra",
                        "same", "refuted", "w", "o")]
    from pytest_sdconform.report.case import case_view

    one = verdict(1, "suites/x/test_a.py::test_one", "cass-leaderless-available", "upheld",
                  "upheld", "cassandra")
    quorum = {**verdict(2, "suites/x/test_a.py::test_quorum", "cass-leaderless-available",
                        "refuted", "refuted", "cassandra"), "configuration": "quorum"}
    cases = [case_view(v, n, Path("/nonexistent"), catalogue)
             for n, v in enumerate((one, quorum), 1)]
    [view] = generic_views(cases, catalogue, entries)
    assert view.summary == ("upheld on cassandra (cass-leaderless-available); "
                            "refuted on cassandra (cass-leaderless-available, quorum)")


def test_a_run_without_such_cases_has_no_generic_section(tmp_path: Path) -> None:
    folder = run_folder(tmp_path, [verdict(1, "suites/x/test_a.py::test_b", "redis-single-threaded",
                                           "upheld", "upheld")])
    assert load_report(folder).generic == []
    assert "Generic claims, decided" not in write_report(folder).read_text(encoding="utf-8")
