"""A suite module that says ``UNVERIFIED = "why"`` was never run against its real system: its
claims are listed apart and not counted tested (the MongoDB suite, written where no mongod is)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_sdconform.claims.coverage import claim_markers, unverified
from pytest_sdconform.cli import main

SUITE = '''
import pytest
UNVERIFIED = "no server here"

@pytest.mark.claim("mongo-tunable")
def test_a(sdconform):
    pass
'''
RUN = '''
import pytest

@pytest.mark.claim("redis-single-threaded")
def test_b(sdconform):
    pass
'''


def test_unverified_markers_count_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "test_a.py").write_text(SUITE)
    (tmp_path / "a" / "test_b.py").write_text(RUN)
    assert "mongo-tunable" not in claim_markers(tmp_path)
    assert "redis-single-threaded" in claim_markers(tmp_path)
    assert unverified(tmp_path) == {"mongo-tunable": [f"{tmp_path}/a/test_a.py::test_a"]}
    assert main(["claims", "--suites", str(tmp_path), "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert not rows["mongo-tunable"]["tested"] and rows["mongo-tunable"]["unverified_tests"]
    assert main(["claims", "--suites", str(tmp_path), "--system", "mongodb"]) == 0
    assert "not run  T1  mongo-tunable" in capsys.readouterr().out
