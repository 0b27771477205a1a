"""The claims catalogue: what the seed documents promise, one cited row per claim.

The rows live in ``catalogue.toml`` beside this module, generated from the survey by
``tools/claims_from_markdown.py``; a suite names its claim by id (``get_claim("kafka-eos")``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

from .claim import (
    FLAGS,
    OUTCOMES,
    PROPERTY_CLASSES,
    TIERS,
    Claim,
    Flag,
    Outcome,
    Source,
    Tier,
)
from .validation import CatalogueError, parse_catalogue

__all__ = [
    "FLAGS",
    "OUTCOMES",
    "PROPERTY_CLASSES",
    "TIERS",
    "CatalogueError",
    "Claim",
    "Flag",
    "Outcome",
    "Source",
    "Tier",
    "UnknownClaim",
    "UnknownSystem",
    "claims_for",
    "get_claim",
    "load_catalogue",
    "parse_catalogue",
    "systems",
]

CATALOGUE = "catalogue.toml"


class UnknownClaim(KeyError):
    """No claim has this id; the message suggests the closest ids."""

    def __init__(self, claim_id: str, known: Iterable[str]) -> None:
        self.claim_id = claim_id
        self.suggestions = difflib.get_close_matches(claim_id, list(known), n=3, cutoff=0.6)
        super().__init__(claim_id)

    def __str__(self) -> str:  # KeyError's own str() is the repr of its argument
        return unknown_message("claim", self.claim_id, self.suggestions)


class UnknownSystem(KeyError):
    """No claim belongs to this system; the message suggests the closest systems."""

    def __init__(self, system: str, known: Iterable[str]) -> None:
        self.system = system
        self.suggestions = difflib.get_close_matches(system, list(known), n=3, cutoff=0.6)
        super().__init__(system)

    def __str__(self) -> str:
        return unknown_message("system", self.system, self.suggestions)


def unknown_message(kind: str, name: str, suggestions: list[str]) -> str:
    if not suggestions:
        return f"unknown {kind} {name!r}"
    return f"unknown {kind} {name!r}; did you mean {', '.join(map(repr, suggestions))}?"


@cache
def _catalogue() -> Mapping[str, Claim]:
    text = resources.files(__name__).joinpath(CATALOGUE).read_text(encoding="utf-8")
    return MappingProxyType(parse_catalogue(text, f"{__name__}/{CATALOGUE}"))


def load_catalogue() -> dict[str, Claim]:
    """Every claim by id, in catalogue order (a fresh dict; the claims themselves are frozen).

    The file is read and validated once; a malformed one raises CatalogueError naming the claim.
    """
    return dict(_catalogue())


def get_claim(claim_id: str) -> Claim:
    """The claim with this id; UnknownClaim (a KeyError) suggests the closest ids otherwise."""
    claims = _catalogue()
    try:
        return claims[claim_id]
    except KeyError:
        raise UnknownClaim(claim_id, claims) from None


def systems() -> list[str]:
    """The systems that have claims, in catalogue order."""
    return list(dict.fromkeys(claim.system for claim in _catalogue().values()))


def claims_for(system: str) -> list[Claim]:
    """The claims about one system (``"cassandra"``, ``"generic"``...), in catalogue order."""
    found = [claim for claim in _catalogue().values() if claim.system == system]
    if not found:
        raise UnknownSystem(system, systems())
    return found
