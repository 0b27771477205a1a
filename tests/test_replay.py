"""sdconform replay: a refuted case runs again with its recorded seed and options and repeats;
when what it ran against changed, replay says the outcome did not repeat (exit 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_nightly import SUITE

from pytest_sdconform.cli import BAD_INPUT, main


def sdconform(*args: str, cwd: Path, stale: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STALE": "1" if stale else ""}
    return subprocess.run([sys.executable, "-m", "pytest_sdconform.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_refuted_case_repeats_and_a_changed_system_does_not(tmp_path: Path) -> None:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_night.py").write_text(SUITE)
    first = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--sdconform",
         "suite", "--sdconform-duration", "1", "--sdconform-seed", "11", "--sdconform-report",
         "run"], cwd=tmp_path, env={**os.environ, "STALE": "1"}, capture_output=True,
        text=True, timeout=300, check=False)
    (case,) = json.loads((tmp_path / "run" / "verdicts.json").read_text())
    assert case["outcome"] == "refuted", first.stdout
    assert json.loads((tmp_path / "run" / "run.json").read_text())["options"]["seed"] == 11
    again = sdconform("replay", f"run/{case['case']}", "--report", "again", cwd=tmp_path,
                      stale=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "recorded refuted, now refuted: repeated (seed 11" in again.stdout
    changed = sdconform("replay", f"run/{case['case']}", "--report", "changed", cwd=tmp_path,
                        stale=False)
    assert changed.returncode == 1
    assert "recorded refuted, now upheld: did not repeat" in changed.stdout


def test_a_folder_that_is_no_case_is_named(tmp_path: Path) -> None:
    assert main(["replay", str(tmp_path / "case-001")]) == BAD_INPUT


def test_an_explored_case_replays_its_minimal_schedule(tmp_path: Path) -> None:
    from pytest_sdconform.replay import command, recorded

    minimal = {"steps": [{"faults": [[2, "partition-replica"]], "quiet": 0.1, "duration": 0.2}],
               "describe": "0.1s quiet, partition-replica 0.2s"}
    run = tmp_path / "run"
    (run / "case-001").mkdir(parents=True)
    (run / "verdicts.json").write_text(json.dumps([{
        "case": "case-001", "test": "suite/test_x.py::test_x", "outcome": "refuted",
        "exploration": {"refuted": True, "minimal": minimal}}]))
    (run / "run.json").write_text(json.dumps({"options": {
        "seed": 5, "duration": 1.0, "concurrency": 2, "runtime": "local"}}))
    rec = recorded(run / "case-001")
    argv = command(rec, tmp_path / "again")
    at = argv.index("--sdconform-schedule")
    assert json.loads(Path(argv[at + 1]).read_text()) == minimal
