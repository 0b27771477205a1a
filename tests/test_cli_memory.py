"""``sdconform check --memory-limit``: sizes it takes, and the verdict past the budget."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pytest_sdconform.cli import main, memory_size

CORPUS = Path(__file__).resolve().parent / "conformance"
HARD = str(CORPUS / "porcupine/jepsen/etcd_002.log")  # valid; its search caches ~9 MB


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1000000", 1_000_000),
        ("512K", 512 << 10),
        ("64M", 64 << 20),
        ("2g", 2 << 30),
        ("1.5GiB", 3 << 29),
        ("8MB", 8 << 20),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert memory_size(text) == size


@pytest.mark.parametrize("text", ["", "M", "lots", "-1G", "0", "nan", "inf", "1Q"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a memory size"):
        memory_size(text)


def test_a_small_budget_is_unknown_and_a_large_one_decides(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", HARD, "--memory-limit", "256K"]) == 2
    out = capsys.readouterr().out
    assert "unknown" in out and "memory budget (0.2 MiB) reached" in out
    assert main(["check", HARD, "--memory-limit", "1G"]) == 0


def test_a_property_checker_refuses_the_memory_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", HARD, "--model", "sessions", "--memory-limit", "1G"]) == 3
    assert "--memory-limit bounds the linearizability search" in capsys.readouterr().err


def test_a_bad_size_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", HARD, "--memory-limit", "lots"])
    assert exit_.value.code == 3 and "not a memory size" in capsys.readouterr().err
