"""The claims table: one row per case, then every claim of the run's systems that no case tested."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..claims import Claim
from .case import CaseView

NO_TEST = "no test yet"
TIER_NOTES = {
    "T1": "T1: a real open-source system stands in, so the claim is tested for real",
    "T2": "T2: only an emulator's API semantics can be checked",
    "T3": "T3: documentation only; no test can decide it here",
}


@dataclass
class ClaimRow:
    claim_id: str
    title: str
    system: str
    quote: str
    source: str
    more_sources: int
    tier: str
    flags: tuple[str, ...]
    flag_reason: str
    expected: str
    outcome: str = NO_TEST
    outcome_label: str = NO_TEST
    outcome_class: str = "untested"
    passed: bool | None = None
    config: list[tuple[str, str]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    case_anchor: str = ""
    case_id: str = ""
    in_catalogue: bool = True

    @property
    def tier_note(self) -> str:
        return TIER_NOTES.get(self.tier, self.tier)


def claim_row(claim_id: str, claim: Claim | None, fallback_title: str = "") -> ClaimRow:
    if claim is None:
        return ClaimRow(
            claim_id=claim_id,
            title=fallback_title,
            system="",
            quote="",
            source="",
            more_sources=0,
            tier="",
            flags=(),
            flag_reason="",
            expected="",
            in_catalogue=False,
        )
    src = claim.source
    return ClaimRow(
        claim_id=claim.id,
        title=claim.title,
        system=claim.system,
        quote=src.quote,
        source=f"{src.file}:{src.line}",
        more_sources=len(claim.sources) - 1,
        tier=claim.tier,
        flags=tuple(claim.flags),
        flag_reason=claim.flag_reason,
        expected=claim.expected,
    )


def tested_row(case: CaseView) -> ClaimRow:
    row = claim_row(case.claim_id, case.claim, case.title)
    row.expected = case.expected or row.expected
    row.outcome = case.outcome
    row.outcome_label = case.outcome_label
    row.outcome_class = case.outcome_class
    row.passed = case.passed
    row.config = case.config
    row.faults = case.faults
    row.case_anchor = case.anchor
    row.case_id = case.case_id
    return row


def claim_rows(
    cases: Sequence[CaseView],
    systems: Sequence[str],
    catalogue: Mapping[str, Claim],
) -> tuple[list[ClaimRow], list[ClaimRow]]:
    """(rows of the cases, in catalogue order; rows of the systems' claims no case tested)."""
    order = {claim_id: n for n, claim_id in enumerate(catalogue)}
    ranked = sorted(enumerate(cases), key=lambda nc: (order.get(nc[1].claim_id, len(order)), nc[0]))
    tested = [tested_row(case) for _, case in ranked]
    covered = {case.claim_id for case in cases}
    wanted = set(systems)
    untested = [
        claim_row(claim.id, claim)
        for claim in catalogue.values()
        if claim.system in wanted and claim.id not in covered
    ]
    untested.sort(key=lambda row: list(systems).index(row.system))
    return tested, untested
