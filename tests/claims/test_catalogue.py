"""The claims catalogue: counts, invariants, spot checks against the survey, and that the committed
TOML is exactly what the converter makes of tools/claims.md."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from collections import Counter
from functools import cache
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from pytest_sdconform.claims import (
    CatalogueError,
    Source,
    UnknownClaim,
    UnknownSystem,
    claims_for,
    get_claim,
    load_catalogue,
    parse_catalogue,
)

ROOT = Path(__file__).resolve().parents[2]
SURVEY = ROOT / "tools" / "claims.md"
CONVERTER = ROOT / "tools" / "claims_from_markdown.py"
SHARED_SURVEY = Path("/work/shared/claims.md")  # where the survey is written; absent in CI
SEEDS = {
    "000_6b5c79aa005efb1b.txt",
    "001_c051825a3b3d92f5.txt",
    "002_ab49e6dac0d0bb5c.txt",
    "003_f466db1fbad1ca74.txt",
    "004_7b4e52f9abffff7d.txt",
}
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
needs_survey = pytest.mark.skipif(not SURVEY.exists(), reason=f"{SURVEY} is not in this checkout")


def catalogue_text() -> str:
    return resources.files("pytest_sdconform.claims").joinpath("catalogue.toml").read_text("utf-8")


@cache
def converter() -> ModuleType:
    """tools/ is not a package: load the script as a module (registered, for its dataclasses)."""
    spec = importlib.util.spec_from_file_location("claims_from_markdown", CONVERTER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --- the survey's own totals ------------------------------------------------------------------


def test_every_claim_of_the_survey_is_there() -> None:
    assert len(load_catalogue()) == 225


def test_tier_counts() -> None:
    tiers = Counter(c.tier for c in load_catalogue().values())
    assert tiers == {"T1": 134, "T2": 46, "T3": 45}


def test_flag_counts() -> None:
    flags = Counter(f for c in load_catalogue().values() for f in c.flags)
    assert flags == {"wrong": 28, "outdated": 9, "contradiction": 5, "vague": 68}


def test_claims_per_system_match_the_contents() -> None:
    systems = Counter(c.system for c in load_catalogue().values())
    assert systems == {
        "generic": 25,
        "postgres": 27,
        "mongodb": 9,
        "cassandra": 17,
        "dynamodb": 19,
        "redis": 22,
        "caching": 11,
        "kafka": 17,
        "kinesis": 7,
        "sqs": 14,
        "sns": 7,
        "stepfunctions": 5,
        "s3": 7,
        "loadbalancer": 19,
        "protocols": 4,
        "out-of-scope": 15,
    }


# --- invariants -------------------------------------------------------------------------------


def test_ids_are_unique_and_kebab_case() -> None:
    ids = [table["id"] for table in tomllib.loads(catalogue_text())["claim"]]
    assert len(ids) == len(set(ids)) == 225
    assert [i for i in ids if not KEBAB.match(i)] == []


def test_claims_flagged_wrong_or_outdated_expect_refutation() -> None:
    for claim in load_catalogue().values():
        refuting = {"wrong", "outdated"} & set(claim.flags) or (
            "contradiction" in claim.flags and "claim false" in claim.criterion.lower())
        assert claim.expected == ("refuted" if refuting else "upheld"), claim.id


def test_a_contradiction_whose_criterion_calls_the_claim_false_expects_refutation() -> None:
    """The crawler's "strong consistency over the indexes" contradicts the GSI lines and its
    Pass/fail says "Claim false for GSIs": refuted. A contradiction that does not say which
    side is false (the other line may be the wrong one) keeps the default."""
    claims = load_catalogue()
    assert claims["ddb-gsi-strong-crawler"].expected == "refuted"
    assert claims["docstore-any-node-writes"].expected == "refuted"
    assert claims["http-idempotent-methods"].expected == "upheld"
    survey = converter().SurveyClaim
    case = survey(id="x", title="t", system="s", line=1, flags=["contradiction"],
                  criterion="Both arrive in order.")
    assert case.expected == "upheld"
    case.criterion = "Claim is false as stated."
    assert case.expected == "refuted"


def test_vague_claims_say_what_they_depend_on() -> None:
    vague = [c for c in load_catalogue().values() if "vague" in c.flags]
    assert [c.id for c in vague if not c.expected_note] == []


def test_every_source_is_a_seed_line_with_a_quote() -> None:
    for claim in load_catalogue().values():
        assert claim.sources, claim.id
        for source in claim.sources:
            assert source.file in SEEDS, claim.id
            assert source.line >= 1 and source.quote.strip(), claim.id


def test_a_test_is_described_either_as_workload_fault_checker_or_as_a_note() -> None:
    for claim in load_catalogue().values():
        structured = bool(claim.workload and claim.fault and claim.checker)
        assert structured != bool(claim.test_note), claim.id


# --- spot checks against tools/claims.md ------------------------------------------------------


def test_redis_persistence_no_loss() -> None:
    claim = get_claim("redis-persistence-no-loss")
    assert claim.system == "redis" and claim.tier == "T1"
    assert claim.title == "RDB/AOF persistence ensures no data loss on restarts or crashes"
    assert claim.source.file == "001_c051825a3b3d92f5.txt" and claim.source.line == 2583
    assert claim.flags == ("wrong",) and claim.expected == "refuted"
    assert claim.flag_reason.startswith("Only appendfsync=always approaches no-loss")
    assert claim.criterion.startswith("appendfsync always: zero loss (kill and power loss).")
    assert claim.expected_note == claim.criterion  # the outcome depends on appendfsync


def test_s3_eventually_consistent() -> None:
    claim = get_claim("s3-eventually-consistent")
    assert claim.title == '"S3 is eventually consistent"'
    assert claim.system == "s3" and claim.tier == "T2"
    assert claim.sources == (
        Source(
            file="004_7b4e52f9abffff7d.txt", line=396, quote="Finally S3 is eventually consistent."
        ),
    )
    assert claim.properties == ("linearizable", "read-your-writes")
    assert claim.flags == ("outdated",) and claim.expected == "refuted"
    assert "since December 2020" in claim.flag_reason


def test_kafka_at_most_once_default() -> None:
    claim = get_claim("kafka-at-most-once-default")
    assert claim.system == "kafka" and claim.tier == "T1"
    assert (claim.source.file, claim.source.line) == ("001_c051825a3b3d92f5.txt", 4810)
    assert claim.properties == ("at-most-once",)
    assert claim.flags == ("outdated",) and claim.expected == "refuted"
    assert claim.criterion == "At-most-once config: zero duplicates, losses allowed."


@needs_survey
@pytest.mark.parametrize(
    "claim_id",
    ["redis-persistence-no-loss", "s3-eventually-consistent", "kafka-at-most-once-default"],
)
def test_quotes_are_verbatim_from_the_survey(claim_id: str) -> None:
    survey = SURVEY.read_text(encoding="utf-8")
    claim = get_claim(claim_id)
    assert f"#### `{claim_id}` — {claim.title}\n" in survey
    for s in claim.sources:
        assert f'"{s.quote}" — `{s.file}` L{s.line}\n' in survey


# --- lookup -----------------------------------------------------------------------------------


def test_an_unknown_id_suggests_a_close_one() -> None:
    with pytest.raises(UnknownClaim) as info:
        get_claim("redis-persistance-no-loss")
    assert isinstance(info.value, KeyError)
    assert "redis-persistence-no-loss" in info.value.suggestions
    assert "did you mean 'redis-persistence-no-loss'" in str(info.value)


def test_an_id_like_nothing_gets_no_suggestion() -> None:
    with pytest.raises(UnknownClaim, match=r"^unknown claim 'zzzz'$"):
        get_claim("zzzz")


def test_claims_for_a_system_in_catalogue_order() -> None:
    ids = [c.id for c in claims_for("s3")]
    assert len(ids) == 7 and ids[0] == "s3-eventually-consistent"
    with pytest.raises(UnknownSystem, match="did you mean 'cassandra'"):
        claims_for("cassandr")


def test_the_catalogue_is_read_once_and_callers_cannot_change_it() -> None:
    first = load_catalogue()
    first.clear()
    again = load_catalogue()
    assert len(again) == 225
    assert again["kafka-eos"] is get_claim("kafka-eos")


# --- a malformed catalogue is refused, naming the claim ----------------------------------------

GOOD = """
[[claim]]
id = "x-claim"
title = "t"
system = "generic"
tier = "T1"
sources = [{ file = "f.txt", line = 3, quote = "q" }]
properties = ["linearizable"]
expected = "upheld"
"""


def test_a_minimal_claim_parses() -> None:
    claim = parse_catalogue(GOOD)["x-claim"]
    assert claim.sources == (Source("f.txt", 3, "q"),) and claim.flags == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('tier = "T1"', 'tier = "T4"'), "unknown tier 'T4'"),
        (('expected = "upheld"', 'expected = "holds"'), "unknown expected 'holds'"),
        (('expected = "upheld"', 'expected = "upheld"\nflags = ["wrongish"]'), "unknown flag"),
        (("line = 3", "line = 0"), "line must be an integer >= 1"),
        (('quote = "q"', 'quote = " "'), "empty quote"),
        (('properties = ["linearizable"]', "properties = []"), "no properties"),
        (('properties = ["linearizable"]', 'properties = ["strong"]'), "unknown property"),
        (('title = "t"', 'title = "t"\ncolour = "red"'), "unknown field colour"),
        (('title = "t"\n', ""), "missing title"),
    ],
)
def test_a_bad_claim_is_refused_with_its_id(change: tuple[str, str], message: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(message)) as info:
        parse_catalogue(GOOD.replace(*change), "cat.toml")
    assert "cat.toml: claim 'x-claim'" in str(info.value)


def test_a_duplicate_id_is_refused() -> None:
    with pytest.raises(CatalogueError, match="claim 'x-claim': duplicate id"):
        parse_catalogue(GOOD + GOOD)


def test_an_id_that_is_not_kebab_case_is_refused() -> None:
    with pytest.raises(CatalogueError, match="id is not kebab-case"):
        parse_catalogue(GOOD.replace('"x-claim"', '"X_claim"'))


# --- the converter ----------------------------------------------------------------------------


@needs_survey
def test_the_converter_reproduces_the_committed_catalogue() -> None:
    module = converter()
    survey = SURVEY.read_text(encoding="utf-8")
    assert module.convert(survey) == catalogue_text(), (
        "catalogue.toml and tools/claims.md disagree: run python tools/claims_from_markdown.py"
    )


@needs_survey
def test_the_survey_agrees_with_its_own_indexes() -> None:
    module = converter()
    survey = SURVEY.read_text(encoding="utf-8")
    assert module.cross_check(survey, module.parse_claims(survey)) == []


@pytest.mark.skipif(not SHARED_SURVEY.exists(), reason=f"{SHARED_SURVEY} is not on this machine")
def test_the_copy_in_tools_is_the_current_survey() -> None:
    assert SURVEY.read_bytes() == SHARED_SURVEY.read_bytes(), (
        f"copy {SHARED_SURVEY} to tools/claims.md and rerun tools/claims_from_markdown.py"
    )


def test_the_converter_names_the_line_it_cannot_read() -> None:
    module = converter()
    survey = "## 1. Generic models\n\n#### `a-claim` — A title\n\n- **Bogus:** x\n"
    with pytest.raises(ValueError, match=r"claims\.md:5: a-claim: unrecognised line"):
        module.parse_claims(survey)
