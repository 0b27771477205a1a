"""The generic claims of a run: each one's per-system evidence, from the cases that decide it.

A generic claim (a definition: "read-latest", CAP) has no case of its own; the catalogue's
``evidence.toml`` names the cases whose histories decide it. The page shows, under the claim,
one line per such case of the run: its system, its own claim and outcome, and what that outcome
makes of the generic claim there (the same, or the opposite when the case's claim negates it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..claims import CatalogueError, Claim
from ..claims.evidence import Evidence, evidence
from .case import CaseView
from .claims_table import ClaimRow, claim_row

PARAMS = re.compile(r"\[.*\]$")  # a parametrized test id's "[...]" suffix


@dataclass
class EvidenceRow:
    system: str
    case_id: str
    case_anchor: str
    case_claim: str
    case_outcome: str
    outcome: str  # the generic claim's, on this evidence
    expected: str
    reads: str
    why: str
    case_configuration: str = ""  # the case's catalogue configuration of its own claim

    @property
    def label(self) -> str:
        """The system with the case's claim and configuration: "cassandra (cass-tunable)",
        "cassandra (cass-leaderless-available, quorum)"; two settings of one system differ."""
        setting = ", ".join(x for x in (self.case_claim, self.case_configuration) if x)
        return f"{self.system} ({setting})" if setting else self.system

    @property
    def passed(self) -> bool | None:
        if self.case_outcome not in ("upheld", "refuted", "inconclusive"):
            return None
        return self.outcome == self.expected

    @property
    def outcome_class(self) -> str:
        return self.outcome if self.outcome in ("upheld", "refuted", "inconclusive") else "other"


@dataclass
class GenericClaimView:
    row: ClaimRow
    evidence: list[EvidenceRow] = field(default_factory=list)

    @property
    def systems(self) -> list[str]:
        return list(dict.fromkeys(e.system for e in self.evidence))

    @property
    def summary(self) -> str:
        """"upheld on redis (x), cassandra (y, quorum); refuted on postgres (z)" (in order of
        first evidence; each system labelled with the case's claim and configuration)."""
        parts = []
        for outcome in ("upheld", "refuted", "inconclusive"):
            on = list(dict.fromkeys(e.label for e in self.evidence if e.outcome == outcome))
            if on:
                parts.append(f"{outcome} on {', '.join(on)}")
        return "; ".join(parts)


def test_of(case: CaseView) -> str:
    """The case's test id as the evidence names it ("suites/<system>/test_x.py::test_y"):
    without its parameters, and from the last "suites" folder of its path, whatever rootdir
    the run had (as ``claims.coverage`` reads the markers)."""
    path, sep, name = PARAMS.sub("", case.test).partition("::")
    parts = path.replace("\\", "/").split("/")
    if "suites" in parts:
        parts = parts[len(parts) - 1 - parts[::-1].index("suites"):]
    return "/".join(parts) + sep + name


def generic_views(cases: Sequence[CaseView], catalogue: Mapping[str, Claim],
                  entries: Sequence[Evidence] | None = None,
                  notes: list[str] | None = None) -> list[GenericClaimView]:
    """A view per claim that some case of the run decides besides its own, in catalogue order."""
    if entries is None:
        try:
            entries = evidence()
        except CatalogueError as error:
            if notes is not None:
                notes.append(f"the catalogue's evidence file could not be read: {error}")
            return []
    by_test: dict[str, list[CaseView]] = {}
    for case in cases:
        by_test.setdefault(test_of(case), []).append(case)
    views: dict[str, GenericClaimView] = {}
    for e in entries:
        for case in by_test.get(e.case, []):
            view = views.get(e.claim)
            if view is None:
                view = views[e.claim] = GenericClaimView(claim_row(e.claim, catalogue.get(e.claim)))
            view.evidence.append(EvidenceRow(
                system=e.system, case_id=case.case_id, case_anchor=case.anchor,
                case_claim=case.claim_id, case_outcome=case.outcome,
                outcome=e.outcome(case.outcome), expected=e.expected, reads=str(e.reads), why=e.why,
                case_configuration=case.configuration))
    order = {claim_id: n for n, claim_id in enumerate(catalogue)}
    return sorted(views.values(), key=lambda v: order.get(v.row.claim_id, len(order)))
