"""Expected outcomes per configuration live in the catalogue, and every suite follows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_sdconform.claims import CatalogueError
from pytest_sdconform.claims.configurations import (
    UnknownConfiguration,
    configurations,
    get_configuration,
    parse,
)
from pytest_sdconform.claims.coverage import claim_markers, problems

SUITES = Path(__file__).resolve().parents[2] / "suites"
CLAIMS = {"redis-persistence-no-loss"}


def test_a_configuration_has_an_expected_outcome_and_a_reason() -> None:
    c = get_configuration("redis-persistence-no-loss", "appendfsync-always")
    assert c.expected == "upheld" and "fsync" in c.why
    assert all(c.why.strip() for c in configurations())


def test_an_unknown_configuration_names_the_known_ones() -> None:
    with pytest.raises(UnknownConfiguration) as e:
        get_configuration("redis-persistence-no-loss", "appendfsync-alway")
    assert "did you mean 'appendfsync-always'" in str(e.value)


@pytest.mark.parametrize("text, message", [
    ('[[configuration]]\nclaim = "nope"\nname = "a"\nexpected = "upheld"\nwhy = "b"',
     "unknown claim 'nope'"),
    ('[[configuration]]\nclaim = "redis-persistence-no-loss"\nname = "a"\nexpected = "maybe"\n'
     'why = "b"', "expected must be one of"),
    ('[[configuration]]\nclaim = "redis-persistence-no-loss"\nname = "a"\nexpected = "upheld"',
     "missing ['why']"),
    ("[[configuration]\n", "not valid TOML"),
])
def test_a_malformed_file_is_refused_with_its_name(text: str, message: str) -> None:
    with pytest.raises(CatalogueError) as e:
        parse(text, "x.toml", CLAIMS)
    assert str(e.value).startswith("x.toml") and message in str(e.value)


def test_the_suites_follow_the_catalogue() -> None:
    """No free expected=, no unknown configuration, and every tested claim's documented
    outcome is expected by at least one of its tests."""
    assert problems(SUITES) == []


def test_untestable_claims_do_not_count_as_tested() -> None:
    from pytest_sdconform.claims.configurations import untestable

    tested = claim_markers(SUITES)
    assert not set(untestable()) & set(tested)
