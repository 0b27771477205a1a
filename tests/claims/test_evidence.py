"""The generic claims are decided by cases of other claims: the catalogue's evidence file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_sdconform.claims import CatalogueError, load_catalogue
from pytest_sdconform.claims import coverage as cov
from pytest_sdconform.claims.evidence import (
    Evidence,
    PerOutcome,
    Reading,
    evidence,
    evidence_for,
    parse,
)

SUITES = Path(__file__).resolve().parents[2] / "suites"
CLAIMS = {"gen-cap", "gen-read-latest", "redis-persistence-no-loss"}
ROW = ('[[decided_by]]\nclaim = "gen-cap"\ncase = "suites/x/test_a.py::test_b"\n'
       'system = "x"\nreads = "same"\nexpected = "upheld"\nwhy = "because"\n')


def entry(claim: str = "gen-cap", reads: Reading | PerOutcome = "same", expected: str = "upheld",
          case: str = "suites/x/test_a.py::test_b") -> Evidence:
    return Evidence(claim, case, "x", reads, expected, "because", "evidence.toml: decided_by 1")


def test_an_entry_is_read_with_every_field() -> None:
    [e] = parse(ROW, "e.toml", CLAIMS)
    assert (e.claim, e.case, e.system, e.reads, e.expected) == (
        "gen-cap", "suites/x/test_a.py::test_b", "x", "same", "upheld")


@pytest.mark.parametrize("old, new, message", [
    ('claim = "gen-cap"', 'claim = "gen-nope"', "unknown claim 'gen-nope'"),
    ('reads = "same"', 'reads = "inverse"', "reads must be one of"),
    ('expected = "upheld"', 'expected = "maybe"', "expected must be one of"),
    ('case = "suites/x/test_a.py::test_b"', 'case = "test_b"', "case must be a test id"),
    ('why = "because"\n', "", "missing ['why']"),
    ('why = "because"', 'why = "  "', "why must be a non-empty string"),
    ("[[decided_by]]", "[[decided]]", "unknown tables"),
    ("[[decided_by]]", "[[decided_by]", "not valid TOML"),
    ('why = "because"', 'why = "because"\none_sided = "yes"', "one_sided must be true or false"),
    ('why = "because"', 'why = "because"\nsided = true', "unknown ['sided']"),
])
def test_a_malformed_entry_is_refused_with_its_place(old: str, new: str, message: str) -> None:
    with pytest.raises(CatalogueError) as e:
        parse(ROW.replace(old, new), "e.toml", CLAIMS)
    assert str(e.value).startswith("e.toml") and message in str(e.value)


def test_a_case_cannot_decide_one_claim_twice() -> None:
    with pytest.raises(CatalogueError, match="already decides 'gen-cap'"):
        parse(ROW + ROW, "e.toml", CLAIMS)


def test_an_opposite_reading_swaps_upheld_and_refuted_and_keeps_inconclusive() -> None:
    same, opposite = entry(), entry(reads="opposite")
    assert [same.outcome(o) for o in ("upheld", "refuted", "inconclusive")] == [
        "upheld", "refuted", "inconclusive"]
    assert [opposite.outcome(o) for o in ("upheld", "refuted", "inconclusive")] == [
        "refuted", "upheld", "inconclusive"]
    assert same.outcome("error") == "inconclusive"


def test_one_sided_evidence_counts_only_its_expected_outcome() -> None:
    """A control-like case: upheld, it refutes the claim; had it come out the other way, it
    would prove nothing, so that outcome is inconclusive, never the claim's upholding."""
    refutes = Evidence("gen-cap", "suites/x/test_a.py::test_b", "x", "same", "refuted", "w",
                       "o", one_sided=True)
    assert [refutes.outcome(o) for o in ("upheld", "refuted", "inconclusive", "error")] == [
        "inconclusive", "refuted", "inconclusive", "inconclusive"]
    upholds = Evidence("gen-cap", "suites/x/test_a.py::test_b", "x", "opposite", "upheld", "w",
                       "o", one_sided=True)
    assert [upholds.outcome(o) for o in ("upheld", "refuted")] == ["inconclusive", "upheld"]


def test_a_reading_per_outcome_maps_each_decided_outcome_and_leaves_the_rest_inconclusive() -> None:
    """The aurora case refutes "a region's loss leaves the customer unaffected" both ways: upheld
    (only the lag lost) and refuted (more lost); 'same' or 'opposite' gets one of them wrong."""
    both = entry(reads=PerOutcome(upheld="refuted", refuted="refuted"), expected="refuted")
    assert [both.outcome(o) for o in ("upheld", "refuted", "inconclusive", "error")] == [
        "refuted", "refuted", "inconclusive", "inconclusive"]
    only = entry(reads=PerOutcome(refuted="upheld"), expected="upheld")
    assert [only.outcome(o) for o in ("upheld", "refuted")] == ["inconclusive", "upheld"]
    assert str(both.reads) == "upheld reads refuted, refuted reads refuted"


def test_a_reading_per_outcome_is_read_from_a_table_and_checked() -> None:
    table = 'reads = { upheld = "refuted", refuted = "refuted" }'
    [e] = parse(ROW.replace('reads = "same"', table), "e.toml", CLAIMS)
    assert e.reads == PerOutcome(upheld="refuted", refuted="refuted")
    assert e.outcome("upheld") == "refuted"
    for bad, message in [('reads = { upheld = "maybe" }', "reads.upheld must be one of"),
                         ('reads = { inconclusive = "refuted" }', "'inconclusive' is no decided"),
                         ("reads = {}", "a reads table needs an outcome of the case"),
                         ('reads = { upheld = 1 }', "reads.upheld must be one of")]:
        with pytest.raises(CatalogueError) as raised:
            parse(ROW.replace('reads = "same"', bad), "e.toml", CLAIMS)
        assert str(raised.value).startswith("e.toml: decided_by 1") and message in str(raised.value)


def test_the_catalogue_reads_the_aurora_case_per_outcome_for_multi_region_failover() -> None:
    [e] = [e for e in evidence_for("multi-region-failover") if "region" in e.case]
    assert e.reads == PerOutcome(upheld="refuted", refuted="refuted")
    assert [e.outcome(o) for o in ("upheld", "refuted", "inconclusive")] == [
        "refuted", "refuted", "inconclusive"]


def test_one_sided_is_read_from_the_file() -> None:
    [e] = parse(ROW.replace('why = "because"', 'why = "because"\none_sided = true'), "e.toml",
                CLAIMS)
    assert e.one_sided and e.outcome("refuted") == "inconclusive"
    [e] = parse(ROW, "e.toml", CLAIMS)
    assert not e.one_sided and e.outcome("refuted") == "refuted"


def write_suite(tmp_path: Path) -> Path:
    suites = tmp_path / "suites"
    (suites / "x").mkdir(parents=True)
    (suites / "x" / "test_a.py").write_text(
        "import pytest\n\n@pytest.mark.claim('redis-persistence-no-loss')\n"
        "def test_b(sdconform):\n    pass\n")
    return suites


def test_a_case_that_exists_makes_its_generic_claim_tested(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suites = write_suite(tmp_path)
    monkeypatch.setattr(cov, "evidence", lambda: [
        entry("gen-cap", reads="opposite"),  # redis-persistence-no-loss expects refuted
        entry("gen-read-latest", case="suites/x/test_a.py::test_gone", expected="refuted")])
    tested = cov.claim_markers(suites)
    assert tested["gen-cap"] == ["suites/x/test_a.py::test_b"]
    assert "gen-read-latest" not in tested  # its case does not exist


@pytest.mark.parametrize("body", [
    "    sdconform.run(judge=None, emulator_limit='moto ignores it')\n",
    "    helper(sdconform)\n\ndef helper(sdconform):\n    sdconform.run(emulator_limit='x')\n",
])
def test_evidence_from_an_emulator_limited_case_does_not_make_a_claim_tested(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """On an emulator such a case is inconclusive by construction: it decides nothing there."""
    suites = tmp_path / "suites"
    (suites / "x").mkdir(parents=True)
    (suites / "x" / "test_a.py").write_text(
        "import pytest\n\n@pytest.mark.claim('redis-persistence-no-loss')\n"
        "def test_b(sdconform):\n" + body)
    monkeypatch.setattr(cov, "evidence", lambda: [entry("gen-cap", reads="opposite")])
    tested = cov.claim_markers(suites)
    assert "gen-cap" not in tested
    assert tested["redis-persistence-no-loss"]  # its own marker still counts


def test_problems_name_a_missing_case_and_an_expectation_the_case_does_not_imply(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suites = write_suite(tmp_path)
    monkeypatch.setattr(cov, "evidence", lambda: [
        entry("gen-cap", reads="same", expected="upheld"),  # the case expects refuted
        entry("gen-read-latest", case="suites/x/test_a.py::test_gone")])
    found = cov.problems(suites)
    assert any("suites/x/test_a.py::test_gone is no claim-marked test" in p for p in found)
    assert any("expected upheld for gen-cap, but the case expects refuted, which reads "
               "(same) as refuted" in p for p in found)


def test_a_generic_claim_whose_evidence_never_expects_its_documented_outcome_is_a_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suites = write_suite(tmp_path)
    # gen-cap is documented upheld; this entry (consistent with its case) expects refuted.
    monkeypatch.setattr(cov, "evidence", lambda: [entry("gen-cap", expected="refuted")])
    assert any(p.startswith("gen-cap: no test checks its documented outcome (upheld)")
               for p in cov.problems(suites))


def test_the_catalogue_evidence_names_real_cases_on_several_systems() -> None:
    assert cov.problems(SUITES) == []
    catalogue = load_catalogue()
    assert all(e.claim in catalogue for e in evidence())
    assert {e.system for e in evidence_for("gen-cap")} >= {"cassandra", "postgres", "redis"}
    tested = cov.claim_markers(SUITES)
    assert all(e.case in tested[e.claim] for e in evidence())


def test_the_catalogue_reads_classifications_and_definitions_one_sided() -> None:
    """A CAP classification or an RTO measurement decides its generic claim one way only, and
    no control case (one that shows the opposite setting failing) decides a claim at all."""
    # A slow failover still has a switch-over delay; a run that lost nothing (or more than the
    # lag) does not show that a leader's failure cannot lose what it had not replicated.
    for claim in ("gen-cap", "gen-cap-2of3", "gen-rto-def", "gen-failover-delay",
                  "gen-active-passive-loss"):
        entries = evidence_for(claim)
        assert entries and all(e.one_sided for e in entries), claim
    assert not any("replica_reads_miss_own_writes" in e.case
                   for e in evidence_for("gen-ryw-leader-pinning"))


def test_the_catalogue_maps_no_restore_to_rpo_and_reads_single_leader_failover_as_a_gap() -> None:
    """A point-in-time restore judges the restore, not what a lost primary loses; a
    single-leader failover (writes stop until a promotion) never upholds a seamless redirect."""
    assert not any("point_in_time_restore" in e.case for e in evidence_for("gen-rpo-checkpoint"))
    for e in evidence_for("gen-replication-seamless"):
        assert e.one_sided
        if e.system in ("postgres", "redis"):
            assert e.expected == "refuted", e.case


def test_no_operator_repair_or_half_exercised_pattern_decides_a_generic_claim() -> None:
    """Convergence an operator's repair forced is not eventual consistency; a breaker and a
    retry budget alone (no rate limiter, no backoff, no control) do not uphold the three
    patterns together."""
    assert not any("repair" in e.case for e in evidence_for("gen-eventual"))
    assert any("converge" in e.case for e in evidence_for("gen-eventual"))
    assert evidence_for("gen-resilience-patterns") == []
