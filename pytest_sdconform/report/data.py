"""A run folder as plain data for the page: the run, the claims table, the cases, the chart JSON."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..claims import CatalogueError, Claim, load_catalogue
from .case import OUTCOMES, CaseView, case_view
from .claims_table import ClaimRow, claim_rows
from .evidence import GenericClaimView, generic_views
from .timeline import MAX_OPS


@dataclass
class Report:
    run_id: str
    started: str
    seed: Any
    runtime: str
    duration_s: Any
    systems: list[str]
    cases: list[CaseView]
    tested: list[ClaimRow]
    untested: list[ClaimRow]
    notes: list[str] = field(default_factory=list)
    generic: list[GenericClaimView] = field(default_factory=list)  # decided by others' cases

    @property
    def outcome_counts(self) -> dict[str, int]:
        counted = Counter(case.outcome for case in self.cases)
        return {outcome: counted.get(outcome, 0) for outcome in OUTCOMES}

    @property
    def passed(self) -> int:
        return sum(1 for case in self.cases if case.passed is True)

    @property
    def failed(self) -> int:
        return sum(1 for case in self.cases if case.passed is False)

    def chart_data(self) -> dict[str, Any]:
        """What the page's script draws, keyed by case anchor."""
        return {case.anchor: case.chart_data() for case in self.cases if case.timeline}


def read_json(path: Path, default: Any, notes: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        notes.append(f"{path.name} is missing from the run folder")
    except (OSError, ValueError) as e:
        notes.append(f"{path.name} could not be read: {e}")
    return default


def when(started: Any) -> str:
    """A start time as text: epoch seconds become ISO 8601 UTC, anything else is shown as is."""
    if isinstance(started, int | float) and not isinstance(started, bool):
        return datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if started is None else str(started)


def catalogue_or_note(notes: list[str]) -> dict[str, Claim]:
    try:
        return load_catalogue()
    except CatalogueError as e:
        notes.append(f"the claims catalogue could not be read: {e}")
        return {}


def load_report(run_folder: Path, max_ops: int = MAX_OPS) -> Report:
    """Read ``run.json``, ``verdicts.json`` and each case's history from a run folder."""
    notes: list[str] = []
    run = read_json(run_folder / "run.json", {}, notes)
    run = run if isinstance(run, dict) else {}
    raw_cases = read_json(run_folder / "verdicts.json", [], notes)
    raw_cases = [c for c in raw_cases if isinstance(c, dict)] if isinstance(raw_cases, list) else []
    catalogue = catalogue_or_note(notes)
    cases = [
        case_view(raw, n, run_folder, catalogue, max_ops) for n, raw in enumerate(raw_cases, 1)
    ]
    systems = [str(s) for s in run.get("systems") or []]
    known = {claim.system for claim in catalogue.values()}
    notes += [f"the catalogue has no claims about {s!r}" for s in systems if s not in known]
    notes += [
        f"{case.case_id} names claim {case.claim_id!r}, which is not in the catalogue"
        for case in cases
        if case.claim is None and case.claim_id
    ]
    tested, untested = claim_rows(cases, systems, catalogue)
    generic = generic_views(cases, catalogue, notes=notes)
    decided = {view.row.claim_id for view in generic}
    untested = [row for row in untested if row.claim_id not in decided]
    return Report(
        run_id=str(run.get("run_id") or run_folder.resolve().name),
        started=when(run.get("started")),
        seed=run.get("seed"),
        runtime=str(run.get("runtime", "")),
        duration_s=run.get("duration_s"),
        systems=systems,
        cases=cases,
        tested=tested,
        untested=untested,
        notes=notes,
        generic=generic,
    )


def finite(x: Any) -> Any:
    """JSON-safe: NaN and infinities become null (the page's JSON.parse rejects them)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite(v) for v in x]
    return x


def script_json(data: Any) -> str:
    """JSON safe to place inside a <script> element: no ``<``, ``>`` or ``&`` appear literally."""
    text = json.dumps(finite(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
