"""``sdconform check --engine native|python``: the same verdict from either search."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_sdconform.checkers import native
from pytest_sdconform.cli import main

CORPUS = Path(__file__).resolve().parent / "conformance"
BAD = str(CORPUS / "knossos/cas-register/bad/cas-failure.edn")
GOOD = str(CORPUS / "knossos/cas-register/good/memstress3-0.edn")


@pytest.mark.skipif(not native.available(), reason="sdconform_native not built")
@pytest.mark.parametrize("engine", ["native", "python"])
def test_either_engine_gives_the_verdict(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", BAD, "--engine", engine]) == 1
    assert "nonlinearizable" in capsys.readouterr().out
    assert main(["check", GOOD, "--engine", engine]) == 0


def test_native_without_the_extension_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(native, "_core", None)
    assert main(["check", GOOD, "--engine", "native"]) not in (0, 1)
    assert "compiled core is not built" in capsys.readouterr().err
    monkeypatch.setattr(native, "_noticed", False)
    assert main(["check", GOOD]) == 0
    assert "pure-Python search" in capsys.readouterr().err


def test_an_unknown_engine_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", GOOD, "--engine", "rust"])
    assert "invalid choice" in capsys.readouterr().err
