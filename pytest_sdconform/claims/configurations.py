"""Expected outcomes per configuration: where a claim's answer depends on how the system is set up.

A claim's own ``expected`` is its outcome as the documents state it (the naive or default
configuration). A test that checks it under another configuration names that configuration in
its marker, ``@pytest.mark.claim("redis-persistence-no-loss", config="appendfsync-always")``,
and the expected outcome there, with the reason, comes from ``configurations/<suite>.toml``
beside this module::

    [[configuration]]
    claim = "redis-persistence-no-loss"
    name = "appendfsync-always"
    expected = "upheld"
    why = "each write is fsynced before it is acknowledged"

A claim that no test here can decide (an emulator cannot show it, and on the real service the
fault cannot be made) is listed as ``[[untestable]]`` with ``claim`` and ``why``: the coverage
report says so instead of counting it as tested.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from .claim import OUTCOMES
from .validation import CatalogueError

FOLDER = "configurations"


@dataclass(frozen=True)
class Configuration:
    claim: str
    name: str
    expected: str
    why: str
    origin: str  # file:entry, for messages


@dataclass(frozen=True)
class Untestable:
    claim: str
    why: str


class UnknownConfiguration(KeyError):
    """No catalogue entry for this claim under this configuration."""

    def __init__(self, claim_id: str, name: str, known: list[str]) -> None:
        self.claim_id, self.name, self.known = claim_id, name, known
        super().__init__(name)

    def __str__(self) -> str:
        close = difflib.get_close_matches(self.name, self.known, n=3, cutoff=0.5)
        hint = (f"; did you mean {', '.join(map(repr, close))}?" if close else
                f"; known: {', '.join(self.known)}" if self.known else "")
        return (f"claim {self.claim_id!r} has no configuration {self.name!r} in the catalogue "
                f"(pytest_sdconform/claims/{FOLDER}/*.toml){hint}")


def parse(text: str, origin: str, claims: set[str]
          ) -> tuple[list[Configuration], list[Untestable]]:
    """The entries of one file; CatalogueError names the file and the entry on bad input."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CatalogueError(f"{origin}: not valid TOML: {e}") from e
    unknown = set(data) - {"configuration", "untestable"}
    if unknown:
        raise CatalogueError(f"{origin}: unknown tables {sorted(unknown)}")
    configs, untestable = [], []
    for i, row in enumerate(data.get("configuration", []), 1):
        where = f"{origin}: configuration {i}"
        _fields(row, {"claim", "name", "expected", "why"}, where)
        if row["claim"] not in claims:
            raise CatalogueError(f"{where}: unknown claim {row['claim']!r}")
        if row["expected"] not in OUTCOMES:
            raise CatalogueError(f"{where}: expected must be one of {OUTCOMES}")
        configs.append(Configuration(row["claim"], row["name"], row["expected"], row["why"],
                                     f"{where} ({row['name']})"))
    for i, row in enumerate(data.get("untestable", []), 1):
        where = f"{origin}: untestable {i}"
        _fields(row, {"claim", "why"}, where)
        if row["claim"] not in claims:
            raise CatalogueError(f"{where}: unknown claim {row['claim']!r}")
        untestable.append(Untestable(row["claim"], row["why"]))
    return configs, untestable


def _fields(row: Any, wanted: set[str], where: str) -> None:
    if not isinstance(row, dict):
        raise CatalogueError(f"{where}: not a table")
    missing, extra = wanted - set(row), set(row) - wanted
    if missing or extra:
        raise CatalogueError(f"{where}: missing {sorted(missing)}, unknown {sorted(extra)}")
    for k in wanted:
        if not isinstance(row[k], str) or not row[k].strip():
            raise CatalogueError(f"{where}: {k} must be a non-empty string")


@cache
def _load() -> tuple[MappingProxyType[tuple[str, str], Configuration],
                     MappingProxyType[str, Untestable]]:
    from . import load_catalogue

    claims = set(load_catalogue())
    configs: dict[tuple[str, str], Configuration] = {}
    untestable: dict[str, Untestable] = {}
    folder = resources.files(__package__).joinpath(FOLDER)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        origin = f"pytest_sdconform/claims/{FOLDER}/{entry.name}"
        cs, us = parse(entry.read_text(encoding="utf-8"), origin, claims)
        for c in cs:
            if (c.claim, c.name) in configs:
                raise CatalogueError(f"{c.origin}: configuration {c.name!r} of {c.claim!r} "
                                     f"is also {configs[c.claim, c.name].origin}")
            configs[c.claim, c.name] = c
        for u in us:
            untestable[u.claim] = u
    return MappingProxyType(configs), MappingProxyType(untestable)


def get_configuration(claim_id: str, name: str) -> Configuration:
    configs, _ = _load()
    try:
        return configs[claim_id, name]
    except KeyError:
        known = sorted(n for c, n in configs if c == claim_id)
        raise UnknownConfiguration(claim_id, name, known) from None


def configurations() -> list[Configuration]:
    return list(_load()[0].values())


def untestable() -> dict[str, Untestable]:
    return dict(_load()[1])
