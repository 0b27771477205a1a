"""The nightly chaos workflow users copy: it passes a real workflow linter (actionlint, built
from the Go module proxy), and its steps (examples/ci/nightly.sh) run here for real: a first
night with no baseline, a second that keeps every outcome, a third where a claim regresses and
the job fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_sdconform.provision import ProvisionError, go_binary

EXAMPLES = Path(__file__).parents[1] / "examples" / "ci"
ACTIONLINT = ("github.com/rhysd/actionlint/cmd/actionlint", "v1.7.12")

SUITE = '''
import os
import threading
import pytest
from pytest_sdconform.workloads import Result
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.runner import RunConfig

STORE, LOCK = {}, threading.Lock()

class Memory:
    """An atomic register; with STALE set in the environment, reads return the first value."""
    def invoke(self, op):
        with LOCK:
            if op.f == "read":
                if os.environ.get("STALE"):
                    return Result("ok", STORE.get(("first", op.key)))
                return Result("ok", STORE.get(op.key))
            STORE.setdefault(("first", op.key), op.value)
            STORE[op.key] = op.value
            return Result("ok")
    def close(self):
        pass

@pytest.mark.claim("redis-single-threaded")
def test_register(sdconform):
    STORE.clear()
    sdconform.run(Register(keys=1), lambda i: Memory(), decide_by=["linearizable"],
                  run=RunConfig(op_delay=0.001))
'''


def test_the_workflow_passes_actionlint() -> None:
    if shutil.which("go") is None:
        pytest.skip("needs the Go toolchain to build actionlint")
    try:
        actionlint = go_binary(*ACTIONLINT, "actionlint")
    except ProvisionError as e:
        pytest.skip(f"actionlint could not be built: {e}")
    done = subprocess.run([str(actionlint), "-no-color", str(EXAMPLES / "nightly-chaos.yml")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def night(folder: Path, baseline: str = "", stale: bool = False) -> tuple[int, str]:
    summary = folder / f"summary-{len(list(folder.glob('summary-*')))}.md"
    env = {**os.environ, "PYTHON": sys.executable, "DURATION": "1", "SEED": "7",
           "GITHUB_STEP_SUMMARY": str(summary), "STALE": "1" if stale else ""}
    done = subprocess.run([str(EXAMPLES / "nightly.sh"), "suite", baseline], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, summary.read_text() + done.stdout + done.stderr


def test_the_nightly_steps_fail_only_on_a_regression(tmp_path: Path) -> None:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_night.py").write_text(SUITE)
    code, out = night(tmp_path)
    assert code == 0 and "no baseline yet" in out, out
    assert "seed 7" in out and "| redis · default |" in out
    assert (tmp_path / "reports" / "suite" / "junit.xml").exists()
    shutil.copytree(tmp_path / "reports" / "suite", tmp_path / "last-good")
    code, out = night(tmp_path, "last-good")
    assert code == 0, out
    code, out = night(tmp_path, "last-good", stale=True)  # the register turns stale: refuted
    assert code == 1, out
    assert "Regressions against the baseline: 1" in out
    assert "redis-single-threaded [redis · default]" in out
