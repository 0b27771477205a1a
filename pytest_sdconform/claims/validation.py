"""Reading catalogue TOML into Claims, refusing anything malformed with the claim's id."""

from __future__ import annotations

import re
import tomllib
from typing import Any, TypeVar, cast

from .claim import FLAGS, OUTCOMES, PROPERTY_CLASSES, TIERS, Claim, Flag, Outcome, Source, Tier

KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED = ("id", "title", "system", "tier", "sources", "properties", "expected")
TEXTS = (
    "seed_system",
    "stand_in",
    "workload",
    "fault",
    "checker",
    "test_note",
    "criterion",
    "knobs",
    "flag_reason",
    "expected_note",
)
KNOWN = {*REQUIRED, *TEXTS, "flags"}

T = TypeVar("T", bound=str)


class CatalogueError(ValueError):
    """The catalogue is malformed; the message names the file and the claim."""


def parse_catalogue(text: str, origin: str = "catalogue.toml") -> dict[str, Claim]:
    """Every claim of a catalogue by id, in file order."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CatalogueError(f"{origin}: not valid TOML: {e}") from e
    tables = data.get("claim")
    if not isinstance(tables, list) or not tables:
        raise CatalogueError(f"{origin}: no [[claim]] tables")
    claims: dict[str, Claim] = {}
    for number, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise CatalogueError(f"{origin}: claim #{number} is not a table")
        name = repr(table["id"]) if "id" in table else f"#{number}"
        where = f"{origin}: claim {name}"
        try:
            claim = claim_from_table(table)
        except ValueError as e:
            raise CatalogueError(f"{where}: {e}") from None
        if claim.id in claims:
            raise CatalogueError(f"{where}: duplicate id")
        claims[claim.id] = claim
    return claims


def claim_from_table(table: dict[str, Any]) -> Claim:
    """One ``[[claim]]`` table as a Claim; ValueError says what is wrong with it."""
    missing = [key for key in REQUIRED if key not in table]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    unknown = sorted(set(table) - KNOWN)
    if unknown:
        raise ValueError(f"unknown field {', '.join(unknown)}")
    claim_id = text(table, "id")
    if not KEBAB.match(claim_id):
        raise ValueError("id is not kebab-case")
    if not KEBAB.match(text(table, "system")):
        raise ValueError("system is not kebab-case")
    properties = strings(table, "properties")
    if not properties:
        raise ValueError("no properties")
    for prop in properties:
        choice(prop, "property", PROPERTY_CLASSES)
    return Claim(
        id=claim_id,
        title=text(table, "title"),
        system=text(table, "system"),
        tier=cast(Tier, choice(text(table, "tier"), "tier", TIERS)),
        sources=sources(table["sources"]),
        properties=properties,
        flags=tuple(cast(Flag, choice(f, "flag", FLAGS)) for f in strings(table, "flags")),
        expected=cast(Outcome, choice(text(table, "expected"), "expected", OUTCOMES)),
        seed_system=text(table, "seed_system"),
        stand_in=text(table, "stand_in"),
        workload=text(table, "workload"),
        fault=text(table, "fault"),
        checker=text(table, "checker"),
        test_note=text(table, "test_note"),
        criterion=text(table, "criterion"),
        knobs=text(table, "knobs"),
        flag_reason=text(table, "flag_reason"),
        expected_note=text(table, "expected_note"),
    )


def sources(value: object) -> tuple[Source, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("sources must be a non-empty array")
    out = []
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict) or set(item) != {"file", "line", "quote"}:
            raise ValueError(f"source {n} must have exactly file, line and quote")
        file, line, quote = item["file"], item["line"], item["quote"]
        if not isinstance(file, str) or not file:
            raise ValueError(f"source {n}: file must be a non-empty string")
        if not isinstance(line, int) or isinstance(line, bool) or line < 1:
            raise ValueError(f"source {n}: line must be an integer >= 1, not {line!r}")
        if not isinstance(quote, str) or not quote.strip():
            raise ValueError(f"source {n}: empty quote")
        out.append(Source(file=file, line=line, quote=quote))
    return tuple(out)


def text(table: dict[str, Any], key: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {value!r}")
    if key in REQUIRED and not value:
        raise ValueError(f"{key} is empty")
    return value


def strings(table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be an array of strings")
    return tuple(value)


def choice(value: T, what: str, allowed: tuple[str, ...]) -> T:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r} (known: {', '.join(allowed)})")
    return value
