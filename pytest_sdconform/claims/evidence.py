"""Cases that decide claims other than their own: the evidence of the generic claims.

A generic claim ("every read returns the most recent write", "CAP") is a definition, not a
product's promise, so it is decided from cases run on several systems. A case keeps its one
``@pytest.mark.claim``; ``evidence.toml`` beside this module says which other claims its
history decides, on which system, and why::

    [[decided_by]]
    claim = "gen-read-latest"
    case = "suites/redis/test_redis.py::test_single_node_is_linearizable_under_client_latency"
    system = "redis"
    reads = "same"        # the claim's outcome is the case's ("opposite": upheld <-> refuted)
    expected = "upheld"   # the claim's outcome there, as the case's own expectation implies
    why = "a single Redis server: the linearizability check is the definition's operational form"

``one_sided = true`` (optional) is for evidence that can only go one way: a case whose own
outcome, had it come out the other way, would say nothing about the generic claim (an upheld
classification cannot show "only CA, CP or AP exist", a slow failover does not refute the
definition of RTO). Then only the outcome ``expected`` counts; the other one reads as
``inconclusive``.

``reads`` is there because a case's claim may be the generic one's negation: a case that upholds
"at ONE both sides of a partition answer" refutes "NoSQL keeps integrity and accessibility" only
together with its stale reads, so it says which way its outcome counts. An inconclusive case is
inconclusive evidence either way.

Where neither way fits, ``reads`` is a table, a reading per decided outcome of the case (an
outcome it leaves out reads ``inconclusive``): a case that upholds "a region's loss loses only
the replica's lag" and refutes it with a loss beyond the lag refutes "a region's loss leaves the
customer unaffected" either way::

    reads = { upheld = "refuted", refuted = "refuted" }
 ``coverage.problems`` checks that each entry's case exists and
that ``expected`` is what ``reads`` makes of the case's own expected outcome.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from .claim import OUTCOMES
from .validation import CatalogueError

EVIDENCE = "evidence.toml"
Reading = Literal["same", "opposite"]
READINGS: tuple[Reading, ...] = ("same", "opposite")
DECIDED = ("upheld", "refuted")  # the case's outcomes a reading maps
FIELDS = {"claim", "case", "system", "reads", "expected", "why"}
OPTIONAL = {"one_sided"}


@dataclass(frozen=True)
class PerOutcome:
    """A reading per decided outcome of the case: the claim's outcome when the case is upheld,
    and when it is refuted (None: that outcome says nothing, it reads ``inconclusive``)."""

    upheld: str | None = None
    refuted: str | None = None

    def __str__(self) -> str:
        return ", ".join(f"{case} reads {claim}" for case, claim in
                         (("upheld", self.upheld), ("refuted", self.refuted)) if claim)


def _per_outcome(table: dict[str, object], where: str) -> PerOutcome:
    """A ``reads`` table; CatalogueError on a key or a value that is no outcome."""
    if not table:
        raise CatalogueError(f"{where}: a reads table needs an outcome of the case "
                             f"({' or '.join(DECIDED)})")
    for case, claim in table.items():
        if case not in DECIDED:
            raise CatalogueError(f"{where}: reads: {case!r} is no decided outcome of the case "
                                 f"(one of {DECIDED})")
        if claim not in OUTCOMES:
            raise CatalogueError(f"{where}: reads.{case} must be one of {OUTCOMES}")
    return PerOutcome(**{k: str(v) for k, v in table.items()})


@dataclass(frozen=True)
class Evidence:
    """One case's history deciding one (generic) claim on one system."""

    claim: str
    case: str  # "suites/x/test_y.py::test_z", as a claim marker's test
    system: str
    reads: Reading | PerOutcome
    expected: str
    why: str
    origin: str
    one_sided: bool = False  # only ``expected`` counts; the other decided outcome: inconclusive

    def outcome(self, case_outcome: str) -> str:
        """The claim's outcome on this evidence, from the case's own outcome."""
        if case_outcome not in ("upheld", "refuted"):
            return case_outcome if case_outcome in OUTCOMES else "inconclusive"
        if self.reads == "same":
            read = case_outcome
        elif self.reads == "opposite":
            read = "refuted" if case_outcome == "upheld" else "upheld"
        else:
            mapped = self.reads.upheld if case_outcome == "upheld" else self.reads.refuted
            read = mapped or "inconclusive"
        if self.one_sided and read != self.expected:
            return "inconclusive"
        return read


def parse(text: str, origin: str, claims: set[str]) -> list[Evidence]:
    """The entries of an evidence file; CatalogueError names the entry on bad input."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CatalogueError(f"{origin}: not valid TOML: {e}") from e
    if set(data) - {"decided_by"}:
        raise CatalogueError(f"{origin}: unknown tables {sorted(set(data) - {'decided_by'})}")
    out: list[Evidence] = []
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(data.get("decided_by", []), 1):
        where = f"{origin}: decided_by {i}"
        if not isinstance(row, dict):
            raise CatalogueError(f"{where}: not a table")
        missing, extra = FIELDS - set(row), set(row) - FIELDS - OPTIONAL
        if missing or extra:
            raise CatalogueError(f"{where}: missing {sorted(missing)}, unknown {sorted(extra)}")
        one_sided = row.get("one_sided", False)
        if not isinstance(one_sided, bool):
            raise CatalogueError(f"{where}: one_sided must be true or false")
        reads = row["reads"]
        for k in FIELDS - ({"reads"} if isinstance(reads, dict) else set()):
            if not isinstance(row[k], str) or not row[k].strip():
                raise CatalogueError(f"{where}: {k} must be a non-empty string")
        if row["claim"] not in claims:
            raise CatalogueError(f"{where}: unknown claim {row['claim']!r}")
        if isinstance(reads, dict):
            reads = _per_outcome(reads, where)
        elif reads not in READINGS:
            raise CatalogueError(f"{where}: reads must be one of {READINGS}, or a table of "
                                 f"readings per outcome ({', '.join(DECIDED)})")
        if row["expected"] not in OUTCOMES:
            raise CatalogueError(f"{where}: expected must be one of {OUTCOMES}")
        if not row["case"].startswith("suites/") or "::" not in row["case"]:
            raise CatalogueError(f"{where}: case must be a test id, "
                                 "suites/<system>/test_x.py::test_y")
        if (row["claim"], row["case"]) in seen:
            raise CatalogueError(f"{where}: {row['case']} already decides {row['claim']!r}")
        seen.add((row["claim"], row["case"]))
        out.append(Evidence(row["claim"], row["case"], row["system"], reads,
                            row["expected"], row["why"], where, one_sided))
    return out


@cache
def _load() -> tuple[Evidence, ...]:
    from . import load_catalogue

    text = resources.files(__package__).joinpath(EVIDENCE).read_text(encoding="utf-8")
    return tuple(parse(text, f"pytest_sdconform/claims/{EVIDENCE}", set(load_catalogue())))


def evidence() -> list[Evidence]:
    """Every entry of the catalogue's evidence file, in file order."""
    return list(_load())


def evidence_for(claim_id: str) -> list[Evidence]:
    return [e for e in _load() if e.claim == claim_id]


def by_case() -> dict[str, list[Evidence]]:
    """{case test id: the claims its history decides besides its own}."""
    out: dict[str, list[Evidence]] = {}
    for e in _load():
        out.setdefault(e.case, []).append(e)
    return out
