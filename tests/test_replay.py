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
