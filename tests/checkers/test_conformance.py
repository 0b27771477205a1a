"""Every public history in tests/conformance gets the verdict its MANIFEST.tsv row expects."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pytest_sdconform.checkers.linearizable import check_linearizable
from pytest_sdconform.formats import read_history

CORPUS = Path(__file__).resolve().parent.parent / "conformance"
with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as fh:
    ROWS = list(csv.DictReader(fh, delimiter="\t"))
EXPECTED = {"ok": "valid", "illegal": "invalid"}


def test_corpus_is_complete() -> None:
    assert len(ROWS) == 231
    assert all((CORPUS / r["file"]).exists() for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_verdict_matches_manifest(row: dict[str, str]) -> None:
    history = read_history(str(CORPUS / row["file"]))
    verdict = check_linearizable(history, row["model"], time_limit=120)
    assert verdict.result == EXPECTED[row["expected"]], verdict.reason
    if verdict.result == "invalid":
        assert verdict.anomalies and all(a.ops for a in verdict.anomalies)
