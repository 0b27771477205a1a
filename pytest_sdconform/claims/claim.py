"""Claim and Source: one promise from the seed documents, and the line that makes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Tier = Literal["T1", "T2", "T3"]
Flag = Literal["wrong", "outdated", "contradiction", "vague"]
Outcome = Literal["upheld", "refuted", "inconclusive"]

TIERS: tuple[Tier, ...] = get_args(Tier)
FLAGS: tuple[Flag, ...] = get_args(Flag)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)

# The property classes of the survey (tools/claims.md, "How to read this file"); each names what
# a checker verifies, so a claim's properties say which checkers can decide it.
PROPERTY_CLASSES: tuple[str, ...] = (
    "linearizable",
    "sequential",
    "causal",
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
    "eventual/convergence",
    "durability-no-lost-acked-writes",
    "at-least-once",
    "at-most-once",
    "exactly-once",
    "fifo-ordering",
    "per-partition-ordering",
    "availability-under-partition",
    "failover-time/RTO",
    "data-loss-window/RPO",
    "cache-staleness-bound",
    "load-balancing/health-check-failover",
    "other",
)


@dataclass(frozen=True)
class Source:
    """A verbatim quote and where it is: a seed file and a 1-based physical line."""

    file: str
    line: int
    quote: str


@dataclass(frozen=True, kw_only=True)
class Claim:
    """One promise, with its citations, the test that decides it and the outcome to expect.

    ``tier``: T1 a real open-source stand-in exists, T2 only an emulator's API semantics can be
    checked, T3 documentation only. ``expected`` is what a test of the claim as stated gets under
    the naive/default configuration; ``expected_note`` says when the outcome depends on it.
    """

    id: str
    title: str
    system: str
    seed_system: str = ""
    stand_in: str = ""
    tier: Tier
    sources: tuple[Source, ...]
    properties: tuple[str, ...]
    workload: str = ""
    fault: str = ""
    checker: str = ""
    test_note: str = ""
    criterion: str = ""
    knobs: str = ""
    flags: tuple[Flag, ...] = ()
    flag_reason: str = ""
    expected: Outcome
    expected_note: str = ""

    @property
    def source(self) -> Source:
        """The primary citation (the others are "also" quotes of the same promise)."""
        return self.sources[0]
