"""Replay: run one case of a run folder again, the same way, and say whether its outcome repeated.

``sdconform replay reports/<run>/case-002`` finds the case in its run's ``verdicts.json`` (its
test, outcome and seed) and the session's options in ``run.json`` (runtime, duration,
concurrency, faults, images, the folder the test ids are relative to), runs that one test with
them through pytest into a run folder of its own, and compares the outcomes. The seed fixes the
nemesis schedule and the workload's choices (a case whose refutation came from exploring fault
schedules runs its minimal schedule instead, through ``--sdconform-schedule``); the systems' own
timing does not repeat, so a case decided near a boundary may not either: that is what replay is
for finding out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .history import HistoryError


@dataclass(frozen=True)
class Recorded:
    case: str
    test: str
    outcome: str
    options: dict[str, Any]
    schedule: dict[str, Any] | None = None  # an explored case's minimal fault schedule


def recorded(case_dir: Path) -> Recorded:
    """The case as its run recorded it; HistoryError naming the file when it cannot be read."""
    run = case_dir.resolve().parent
    verdicts, info = run / "verdicts.json", run / "run.json"
    try:
        cases = json.loads(verdicts.read_text())
        options = json.loads(info.read_text()).get("options")
    except FileNotFoundError as e:
        raise HistoryError(f"not a case of a run folder ({e.filename} is missing)",
                           str(case_dir)) from e
    except (OSError, ValueError) as e:
        raise HistoryError(f"unreadable: {e}", str(verdicts)) from e
    if not isinstance(options, dict):
        raise HistoryError("run.json records no options (a run older than replay)", str(info))
    for c in cases if isinstance(cases, list) else []:
        if isinstance(c, dict) and c.get("case") == case_dir.name:
            explored = c.get("exploration")
            minimal = explored.get("minimal") if isinstance(explored, dict) else None
            return Recorded(case_dir.name, str(c["test"]), str(c["outcome"]), options,
                            minimal if isinstance(minimal, dict) else None)
    raise HistoryError(f"no case {case_dir.name} in it", str(verdicts))


def command(rec: Recorded, report: Path) -> list[str]:
    o = rec.options
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--sdconform",
            rec.test, "--sdconform-seed", str(o["seed"]),
            "--sdconform-duration", str(o["duration"]),
            "--sdconform-concurrency", str(o["concurrency"]),
            "--sdconform-runtime", str(o["runtime"]), "--sdconform-report", str(report)]
    if o.get("faults"):
        argv += ["--sdconform-faults", ",".join(o["faults"])]
    for role, image in (o.get("images") or {}).items():
        argv += ["--sdconform-image", f"{role}={image}"]
    for backend, version in (o.get("versions") or {}).items():
        argv += ["--sdconform-version", f"{backend}={version}"]
    if rec.schedule is not None:  # the schedule exploration shrank to, written beside the run
        path = report / "schedule.json"
        report.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec.schedule, indent=2))
        argv += ["--sdconform-schedule", str(path)]
    return argv


def replay(case_dir: Path, report: Path) -> tuple[Recorded, str]:
    """Run the case again into ``report``; the recorded case and the outcome now."""
    rec = recorded(case_dir)
    rootdir = rec.options.get("rootdir") or "."
    subprocess.run(command(rec, report.resolve()), cwd=rootdir, check=False)
    try:
        cases = json.loads((report / "verdicts.json").read_text())
    except (OSError, ValueError):
        return rec, "not run"
    now = [c for c in cases if c.get("test") == rec.test]
    return rec, str(now[0]["outcome"]) if now else "not run"
