"""One case of a run as plain data for the page: its verdict fields, claim, links and charts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..claims import Claim
from ..formats import jsonl
from ..history import Completed, History, HistoryError
from .exploration import ExplorationView, exploration_view
from .series import build_series
from .timeline import MAX_OPS, OpRow, Timeline, build_timeline, op_rows, show

OUTCOMES = ("upheld", "refuted", "inconclusive")
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class LinearizedOp:
    """One bar of the linearization diagram: its place in the order (0: cannot be placed)."""

    number: int
    op: str
    state: str
    process: str
    x: float  # left edge and width, in percent of the diagram's time span
    width: float
    lane: int


@dataclass
class LinearizationView:
    """Where linearizability fails, drawn as Porcupine draws it: the last operations of the
    longest linearizable prefix in their order, with the state after each, then the one that
    cannot follow, against the state it met."""

    placed: int
    ops: list[LinearizedOp]
    lanes: list[str]
    state_before: str
    stuck: str


def linearization_view(raw: Any, history: History | None,
                       completed: list[Completed]) -> LinearizationView | None:
    if not isinstance(raw, dict) or history is None:
        return None
    entries = [(i + 1, e) for i, e in enumerate(raw.get("shown") or []) if isinstance(e, dict)]
    first = int(raw.get("placed") or 0) - len(entries)
    stuck = raw.get("stuck") if isinstance(raw.get("stuck"), dict) else None
    if stuck is not None:
        entries.append((0, {**stuck, "state": ""}))
    spans: list[tuple[int, dict[str, Any], str, float, float]] = []
    for number, e in entries:
        rows = op_rows(history, completed, [i for i in e.get("ops") or [] if isinstance(i, int)])
        start = rows[0].invoked_s if rows else None
        if start is None:
            continue
        done = rows[0].completed_s
        spans.append((number, e, rows[0].process, start, start if done is None else done))
    if not spans:
        return None
    t0 = min(s[3] for s in spans)
    t1 = max(s[4] for s in spans)
    width = (t1 - t0) or 1.0
    lanes = sorted({s[2] for s in spans}, key=lambda p: (len(p), p))
    ops = [LinearizedOp(first + number if number else 0, str(e.get("op", "")),
                        show(e.get("state")) if number else "", process,
                        100 * (start - t0) / width, max(0.8, 100 * (end - start) / width),
                        lanes.index(process))
           for number, e, process, start, end in spans]
    return LinearizationView(int(raw.get("placed") or 0), ops, lanes,
                             show(raw.get("state_before")),
                             str(stuck.get("op", "")) if stuck else "")


@dataclass
class AnomalyView:
    kind: str
    explanation: str
    key: str
    ops: list[OpRow]
    checker: str = ""
    relative_to_faults: str = ""
    linearization: LinearizationView | None = None


@dataclass
class CounterexampleView:
    """The shrunk refutation (``minimal_counterexample`` in verdicts.json), as table rows."""

    operations: int
    of: int
    minimal: bool
    rows: list[OpRow]


def counterexample_view(raw: Any, history: History | None,
                        completed: list[Completed]) -> CounterexampleView | None:
    if not isinstance(raw, dict) or history is None:
        return None
    indices = [op["index"] for op in raw.get("ops") or []
               if isinstance(op, dict) and isinstance(op.get("index"), int)]
    return CounterexampleView(int(raw.get("operations") or 0), int(raw.get("of") or 0),
                              bool(raw.get("minimal")), op_rows(history, completed, indices))


@dataclass
class CaseView:
    """A case as the page shows it; ``anchor`` is safe to use as an HTML id."""

    anchor: str
    case_id: str
    title: str
    test: str
    claim_id: str
    claim: Claim | None
    backend: str
    runtime: str
    config: list[tuple[str, str]]
    faults: list[str]
    workload: str
    outcome: str
    expected: str
    passed: bool | None
    emulator: bool
    reason: str
    exercised: bool | None
    exercised_why: str
    configuration: str
    expected_why: str
    checkers: list[tuple[str, str]]
    anomalies: list[AnomalyView]
    ops: dict[str, Any]
    ok_during_faults: Any
    duration_s: Any
    seed: Any
    metrics: list[tuple[str, str]]
    history_href: str | None
    node_logs: list[tuple[str, str]] = field(default_factory=list)
    timeline: Timeline | None = None
    series: dict[str, Any] | None = None
    history_note: str = ""
    counterexample: CounterexampleView | None = None
    exploration: ExplorationView | None = None

    @property
    def anomaly_summary(self) -> list[tuple[str, str, int]]:
        """(kind, checker, how many), in order of first appearance."""
        counted = Counter((a.kind, a.checker) for a in self.anomalies)
        return [(kind, checker, n) for (kind, checker), n in counted.items()]

    @property
    def outcome_label(self) -> str:
        if self.emulator and self.outcome == "inconclusive":
            return "inconclusive (emulator)"
        return self.outcome

    @property
    def outcome_class(self) -> str:
        return self.outcome if self.outcome in OUTCOMES else "other"

    def chart_data(self) -> dict[str, Any] | None:
        if self.timeline is None:
            return None
        return {"timeline": self.timeline.to_json(), "series": self.series}


def relative_link(run_folder: Path, target: Path) -> str | None:
    """``target`` relative to the run folder, or None when it lies outside it or is missing."""
    try:
        rel = target.resolve().relative_to(run_folder.resolve())
    except (ValueError, OSError):
        return None
    return rel.as_posix() if target.is_file() else None


def node_logs(run_folder: Path, case_id: str) -> list[tuple[str, str]]:
    if not SAFE_ID.fullmatch(case_id):
        return []
    logs = []
    for log in sorted((run_folder / case_id / "nodes").glob("*/*.log")):
        href = relative_link(run_folder, log)
        if href is not None:
            logs.append((f"{log.parent.name}/{log.name}", href))
    return logs


def read_history(path: Path | None) -> tuple[History | None, list[Completed], str]:
    """The history and its paired operations, or a note saying why there is none."""
    if path is None:
        return None, [], "no history was recorded for this case"
    try:
        history = jsonl.read(str(path))
        return history, history.complete(), ""
    except HistoryError as e:
        return None, [], f"the history could not be read: {e.describe()}"
    except OSError as e:
        return None, [], f"the history could not be read: {e.strerror or e}"


def anomaly_views(
    raw: Any, history: History | None, completed: list[Completed]
) -> list[AnomalyView]:
    views = []
    for a in raw if isinstance(raw, list) else []:
        if not isinstance(a, dict):
            continue
        indices = [i for i in a.get("ops") or [] if isinstance(i, int) and not isinstance(i, bool)]
        rows = op_rows(history, completed, indices) if history is not None else []
        views.append(
            AnomalyView(
                kind=str(a.get("kind", "anomaly")),
                explanation=str(a.get("explanation", "")),
                key=show(a.get("key")),
                ops=rows,
                checker=str(a.get("checker") or ""),
                relative_to_faults=str(a.get("relative_to_faults") or ""),
                linearization=linearization_view(a.get("linearization"), history, completed),
            )
        )
    return views


def fault_texts(raw: Any) -> list[str]:
    """One line per fault: its name, how many windows, when, and whether each was proven
    (started and healed); older run folders list bare names."""
    if not isinstance(raw, list):
        return []
    grouped: dict[str, list[dict[str, Any]]] = {}
    out = []
    for f in raw:
        if isinstance(f, dict):
            grouped.setdefault(str(f.get("name", "?")), []).append(f)
        else:
            out.append(show(f))
    for name, windows in grouped.items():
        spans = ", ".join(f"{w.get('start_s', 0):.1f}-"
                          f"{'end' if w.get('stop_s') is None else format(w['stop_s'], '.1f')} s"
                          for w in windows[:6]) + (" ..." if len(windows) > 6 else "")
        unproven = sum(1 for w in windows if not w.get("proven"))
        proof = f"{unproven} not proven" if unproven else "all proven"
        out.append(f"{name} x{len(windows)} ({spans}; {proof})")
    return out


def pairs(d: Any) -> list[tuple[str, str]]:
    """A mapping's items as text; an item whose value is null is left out (nothing measured)."""
    if not isinstance(d, dict):
        return []
    return [(str(k), show(v)) for k, v in d.items() if v is not None]


def case_view(
    raw: dict[str, Any],
    number: int,
    run_folder: Path,
    catalogue: Mapping[str, Claim],
    max_ops: int = MAX_OPS,
) -> CaseView:
    """Build the view of one entry of ``verdicts.json`` (the ``number``-th, from 1)."""
    case_id = str(raw.get("case") or f"case-{number:03d}")
    anchor = case_id if SAFE_ID.fullmatch(case_id) else f"case-{number:03d}"
    claim_id = str(raw.get("claim") or "")  # a test without a claim marker has "claim": null
    outcome = str(raw.get("outcome", "inconclusive"))
    expected = str(raw.get("expected", ""))
    passed = raw.get("passed")
    if not isinstance(passed, bool):
        passed = (outcome == expected) if expected else None
    history_path = None
    if isinstance(raw.get("history"), str):
        href = relative_link(run_folder, run_folder / raw["history"])
        history_path = run_folder / href if href is not None else None
    history, completed, note = read_history(history_path)
    anomaly_ops = [
        i
        for a in raw.get("anomalies") or []
        if isinstance(a, dict)
        for i in a.get("ops") or []
        if isinstance(i, int)
    ]
    timeline = series = None
    if history is not None:
        timeline = build_timeline(history, completed, anomaly_ops, max_ops)
        times = [op.time for op in history.ops] or [0]
        series = build_series(completed, min(times), max(times))
    claim = catalogue.get(claim_id)
    return CaseView(
        anchor=anchor,
        case_id=case_id,
        title=str(raw.get("title") or (claim.title if claim else claim_id)),
        test=str(raw.get("test", "")),
        claim_id=claim_id,
        claim=claim,
        backend=str(raw.get("backend", "")),
        runtime=str(raw.get("runtime", "")),
        config=pairs(raw.get("config")),
        faults=fault_texts(raw.get("faults")),
        workload=str(raw.get("workload", "")),
        outcome=outcome,
        expected=expected,
        passed=passed,
        emulator=bool(raw.get("emulator")),
        reason=str(raw.get("reason", "")),
        exercised=raw.get("exercised") if isinstance(raw.get("exercised"), bool) else None,
        exercised_why=str(raw.get("exercised_why") or ""),
        configuration=str(raw.get("configuration") or ""),
        expected_why=str(raw.get("expected_why") or ""),
        checkers=pairs(raw.get("checkers")),
        anomalies=anomaly_views(raw.get("anomalies"), history, completed),
        ops=counts if isinstance(counts := raw.get("ops"), dict) else {},
        ok_during_faults=raw.get("ok_during_faults"),
        duration_s=raw.get("duration_s"),
        seed=raw.get("seed"),
        metrics=pairs(raw.get("metrics")),
        history_href=None if history_path is None else relative_link(run_folder, history_path),
        node_logs=node_logs(run_folder, case_id),
        timeline=timeline,
        series=series,
        history_note=note,
        counterexample=counterexample_view(raw.get("minimal_counterexample"), history,
                                           completed),
        exploration=exploration_view(raw.get("exploration")),
    )
