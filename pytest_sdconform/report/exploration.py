"""An exploration's schedules as the page draws them: the first schedule that refuted the claim
and the minimal one it shrank to, as bars of quiet and fault spans on one time scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Span:
    kind: str  # "quiet" or "fault"
    seconds: float
    label: str
    percent: float  # of the longer schedule's span


@dataclass
class ScheduleView:
    title: str
    describe: str
    run: int | None
    spans: list[Span]


@dataclass
class ExplorationView:
    runs: int
    generated: int
    shrink_runs: int
    refuted: bool
    complete: bool
    schedules: list[ScheduleView]
    tried: list[tuple[int, str, str, str]]  # run, phase, schedule, outcome


def _steps(raw: Any) -> list[dict[str, Any]]:
    steps = raw.get("steps") if isinstance(raw, dict) else None
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def _seconds(step: dict[str, Any], name: str) -> float:
    value = step.get(name)
    return float(value) if isinstance(value, int | float) and value >= 0 else 0.0


def exploration_view(raw: Any) -> ExplorationView | None:
    if not isinstance(raw, dict):
        return None
    chosen = [("First refuting schedule", raw.get("original"), raw.get("original_run")),
              ("Minimal schedule", raw.get("minimal"), raw.get("minimal_run"))]
    total = max([sum(_seconds(s, "quiet") + _seconds(s, "duration") for s in _steps(sch))
                 for _, sch, _ in chosen] + [0.0]) or 1.0
    views = []
    for title, schedule, run in chosen:
        steps = _steps(schedule)
        if not steps or not isinstance(schedule, dict):
            continue
        spans = []
        for s in steps:
            names = " + ".join(str(f[1]) for f in s.get("faults") or []
                               if isinstance(f, list) and len(f) == 2)
            for kind, seconds, label in (("quiet", _seconds(s, "quiet"), "quiet"),
                                         ("fault", _seconds(s, "duration"), names)):
                spans.append(Span(kind, seconds, label, round(100 * seconds / total, 2)))
        views.append(ScheduleView(title, str(schedule.get("describe") or ""),
                                  run if isinstance(run, int) else None, spans))
    tried = [(int(t.get("run") or 0), str(t.get("phase") or ""), str(t.get("schedule") or ""),
              str(t.get("outcome") or "")) for t in raw.get("tried") or []
             if isinstance(t, dict)]
    return ExplorationView(int(raw.get("runs") or 0), int(raw.get("generated") or 0),
                           int(raw.get("shrink_runs") or 0), bool(raw.get("refuted")),
                           bool(raw.get("shrink_complete")), views, tried)
