"""Runs side by side: which systems, in which versions and configurations, keep which guarantees.

``sdconform compare RUN_DIR...`` reads the ``verdicts.json`` of any number of run folders (any
suites, any machines) and builds one matrix: a row per system, version and configuration (the
catalogue's configuration a case ran under, ``default`` otherwise), a column per guarantee (the
property classes of the claims tested: linearizable, read-your-writes, no acknowledged write
lost...). A cell holds every case of that row whose claim is about that guarantee: its outcome
(upheld, refuted, inconclusive; several cases: refuted if any refuted, upheld if all upheld),
whether each was the outcome expected there, and a link to the case in its run's report. A
second view groups the same cases by claim, so a reader sees what the documents promise and
which systems keep it.

With ``--baseline``, every case that passed there (its outcome was the one expected) and does
not now is a regression: what a nightly job fails on. Cases are matched by claim,
configuration, system, version and test; where the version differs (an upgrade, or a baseline
made before its backend recorded one) by the rest, when only one case now has it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .claims import Claim
from .history import HistoryError

DEFAULT = "default"
OUTCOMES = ("upheld", "refuted", "inconclusive")  # the order of a cell's counts
WARN = "⚠"  # a case whose outcome is not the one expected there


@dataclass(frozen=True, order=True)
class Row:
    system: str
    version: str
    configuration: str

    def label(self) -> str:
        return " · ".join(p for p in (self.system, self.version, self.configuration) if p)


@dataclass(frozen=True)
class CaseRef:
    """One case of one run, as the matrix shows it."""

    run: str  # the run folder, as given
    case: str
    test: str
    claim: str
    row: Row
    outcome: str
    expected: str
    passed: bool
    reason: str
    link: str  # the case in its run's report

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """What matches a case across runs."""
        return (self.claim, self.row.configuration, self.row.system, self.row.version,
                self.test)

    @property
    def unversioned_key(self) -> tuple[str, str, str, str]:
        """The same case in another version of its system."""
        return (self.claim, self.row.configuration, self.row.system, self.test)


@dataclass
class Cell:
    cases: list[CaseRef] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Cases per outcome, upheld, refuted, inconclusive first (an unknown word after)."""
        found = [c.outcome for c in self.cases]
        order = [*OUTCOMES, *sorted(set(found) - set(OUTCOMES))]
        return {o: found.count(o) for o in order if o in found}

    def by_outcome(self) -> list[tuple[str, list[CaseRef]]]:
        """The cases grouped by outcome, in the order of ``counts``."""
        return [(o, [c for c in self.cases if c.outcome == o]) for o in self.counts]

    @property
    def unexpected(self) -> int:
        """How many cases did not have the outcome expected there."""
        return sum(not c.passed for c in self.cases)

    @property
    def as_expected(self) -> bool:
        return self.unexpected == 0

    def summary(self) -> str:
        """``"3 upheld · 1 refuted"``; one case: its outcome."""
        if len(self.cases) == 1:
            return self.cases[0].outcome
        return " · ".join(f"{n} {o}" for o, n in self.counts.items())


@dataclass
class Matrix:
    rows: list[Row]
    columns: list[str]
    cells: dict[tuple[Row, str], Cell]
    by_claim: dict[str, list[CaseRef]]
    claims: dict[str, Claim]
    runs: list[str]

    def cell(self, row: Row, column: str) -> Cell | None:
        return self.cells.get((row, column))


def version_of(config: dict[str, Any]) -> str:
    """The system's version as the case recorded it (backends fetched by version say so)."""
    for key in ("version", "kafka", "redis", "postgres", "cassandra"):
        value = config.get(key)
        if isinstance(value, str | int | float) and str(value)[:1].isdigit():
            return str(value)
    return ""


def read_run(folder: Path) -> list[CaseRef]:
    """The cases of one run folder; HistoryError naming the file when it is not one."""
    path = folder / "verdicts.json"
    try:
        cases = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise HistoryError("not a run folder (no verdicts.json)", str(folder)) from e
    except (OSError, ValueError) as e:
        raise HistoryError(f"unreadable verdicts: {e}", str(path)) from e
    if not isinstance(cases, list):
        raise HistoryError("verdicts.json holds no list of cases", str(path))
    refs = []
    for n, c in enumerate(cases, 1):
        if not isinstance(c, dict) or "claim" not in c or "outcome" not in c:
            raise HistoryError(f"case {n} has no claim or outcome", str(path))
        raw = c.get("config")
        config: dict[str, Any] = raw if isinstance(raw, dict) else {}
        row = Row(str(c.get("backend") or "?"), version_of(config),
                  str(c.get("configuration") or DEFAULT))
        case = str(c.get("case", f"case-{n:03d}"))
        refs.append(CaseRef(str(folder), case, str(c.get("test", "")), str(c["claim"]), row,
                            str(c["outcome"]), str(c.get("expected") or ""),
                            bool(c.get("passed")), str(c.get("reason", "")),
                            f"{folder}/index.html#{case}"))
    return refs


def build(folders: Sequence[Path], claims: dict[str, Claim]) -> Matrix:
    cases = [ref for folder in folders for ref in read_run(folder)]
    cells: dict[tuple[Row, str], Cell] = {}
    by_claim: dict[str, list[CaseRef]] = {}
    for ref in cases:
        claim = claims.get(ref.claim)
        for prop in (claim.properties if claim else ("other",)):
            cells.setdefault((ref.row, prop), Cell()).cases.append(ref)
        by_claim.setdefault(ref.claim, []).append(ref)
    columns = sorted({col for _, col in cells}, key=column_order)
    rows = sorted({row for row, _ in cells})
    return Matrix(rows, columns, cells, dict(sorted(by_claim.items())), claims,
                  [str(f) for f in folders])


def column_order(column: str) -> tuple[int, str]:
    from .claims.claim import PROPERTY_CLASSES

    return (PROPERTY_CLASSES.index(column) if column in PROPERTY_CLASSES else 99, column)


@dataclass(frozen=True)
class Regression:
    before: CaseRef
    now: CaseRef | None  # None: the case is gone

    def describe(self) -> str:
        now = f"{self.now.outcome} ({self.now.link})" if self.now else "not run any more"
        if self.now and self.now.row.version != self.before.row.version:
            now += f" in version {self.now.row.version or '(unrecorded)'}"
        return (f"{self.before.claim} [{self.before.row.label()}] {self.before.test}: was "
                f"{self.before.outcome} as expected, now {now}")


def regressions(current: Iterable[CaseRef], baseline: Iterable[CaseRef]) -> list[Regression]:
    """Cases that passed in the baseline and do not now (or no longer run)."""
    current = list(current)
    now = {c.key: c for c in current}
    others: dict[tuple[str, str, str, str], list[CaseRef]] = {}
    for c in current:
        others.setdefault(c.unversioned_key, []).append(c)
    out = []
    for before in baseline:
        if not before.passed:
            continue
        after = now.get(before.key)
        if after is None and len(candidates := others.get(before.unversioned_key, [])) == 1:
            after = candidates[0]  # the one case now in another version (or one recorded)
        if after is None or not after.passed:
            out.append(Regression(before, after))
    return out


# --- output ------------------------------------------------------------------------------------


def short_name(case: CaseRef) -> str:
    """``case-004`` -> ``#004``: what a cell's link to one of its cases says."""
    return "#" + case.case.removeprefix("case-")


def cell_text(cell: Cell | None, link: bool = True) -> str:
    """One case: its outcome, linked. Several: the count per outcome, each followed by its
    cases, linked; ⚠ after a case whose outcome is not the one expected there."""
    if cell is None:
        return "·"
    if len(cell.cases) == 1:
        (case,) = cell.cases
        text = case.outcome + ("" if case.passed else f" {WARN}")
        return f"[{text}]({case.link})" if link else text
    groups = []
    for outcome, cases in cell.by_outcome():
        refs = [(f"[{short_name(c)}]({c.link})" if link else short_name(c))
                + ("" if c.passed else WARN) for c in cases]
        groups.append(f"{len(cases)} {outcome} " + " ".join(refs))
    return " · ".join(groups)


def markdown(matrix: Matrix, regressed: Sequence[Regression] = ()) -> str:
    lines = [f"**sdconform compare**: {len(matrix.runs)} runs, "
             f"{sum(len(v) for v in matrix.by_claim.values())} cases, {len(matrix.rows)} rows. "
             "A cell: how many of that row's cases about that guarantee came out upheld, refuted, "
             "inconclusive, each case linked; ⚠: not the outcome expected there; ·: not tested.",
             ""]
    lines.append("| system · version · configuration | " + " | ".join(matrix.columns) + " |")
    lines.append("|---|" + "---|" * len(matrix.columns))
    for row in matrix.rows:
        cells = [cell_text(matrix.cell(row, col)) for col in matrix.columns]
        lines.append(f"| {row.label()} | " + " | ".join(cells) + " |")
    lines += ["", "**By claim**", "", "| claim | system · version · configuration | outcome | "
              "expected |", "|---|---|---|---|"]
    for claim_id, refs in matrix.by_claim.items():
        claim = matrix.claims.get(claim_id)
        title = f"{claim_id}: {claim.title}" if claim else claim_id
        for ref in sorted(refs, key=lambda r: r.row):
            mark = "" if ref.passed else " ⚠"
            lines.append(f"| {title} | {ref.row.label()} | [{ref.outcome}]({ref.link}){mark} | "
                         f"{ref.expected} |")
    if regressed:
        lines += ["", f"**Regressions against the baseline: {len(regressed)}**", ""]
        lines += [f"- {r.describe()}" for r in regressed]
    return "\n".join(lines) + "\n"


def to_json(matrix: Matrix, regressed: Sequence[Regression] = ()) -> dict[str, Any]:
    def ref(c: CaseRef) -> dict[str, Any]:
        return {"run": c.run, "case": c.case, "test": c.test, "claim": c.claim,
                "outcome": c.outcome, "expected": c.expected, "passed": c.passed,
                "reason": c.reason, "link": c.link}

    return {
        "runs": matrix.runs,
        "columns": matrix.columns,
        "rows": [
            {"system": r.system, "version": r.version, "configuration": r.configuration,
             "cells": {col: {"counts": cell.counts, "unexpected": cell.unexpected,
                             "as_expected": cell.as_expected,
                             "cases": [ref(c) for c in cell.cases]}
                       for col in matrix.columns if (cell := matrix.cell(r, col))}}
            for r in matrix.rows
        ],
        "regressions": [{"before": ref(r.before), "now": ref(r.now) if r.now else None}
                        for r in regressed],
    }
