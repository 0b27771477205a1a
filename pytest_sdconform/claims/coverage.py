"""Which claims the suites test, found by reading ``@pytest.mark.claim(...)`` in suite files,
and whether each tested claim's catalogue outcome (as the documents state it) is tested."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from . import get_claim
from .configurations import UnknownConfiguration, get_configuration, untestable


@dataclass(frozen=True)
class Marker:
    claim: str
    test: str  # "suites/x/test_y.py::test_z"
    config: str | None  # the catalogue configuration it runs under (None: as documented)
    line: int
    keywords: tuple[str, ...]  # every keyword the marker was given


def markers(suites: Path) -> list[Marker]:
    """Every claim marker on a test function below ``suites``."""
    found: list[Marker] = []
    for path in sorted(suites.rglob("test_*.py")) if suites.is_dir() else []:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found += _markers_of(node, f"{path}::{node.name}")
    return found


def claim_markers(suites: Path) -> dict[str, list[str]]:
    """{claim id: ["suites/x/test_y.py::test_z", ...]} for every claim-marked test function;
    claims listed as untestable in the catalogue are left out (a test of one decides nothing)."""
    out: dict[str, list[str]] = {}
    skip = untestable()
    for m in markers(suites):
        if m.claim not in skip:
            out.setdefault(m.claim, []).append(m.test)
    return out


def problems(suites: Path) -> list[str]:
    """What breaks the rules for expected outcomes: a free ``expected=``, a configuration the
    catalogue does not know, a tested claim whose documented outcome no test expects."""
    out: list[str] = []
    expects: dict[str, set[str]] = {}
    for m in markers(suites):
        where = f"{m.test} (line {m.line})"
        if "expected" in m.keywords:
            out.append(f"{where}: expected= is not allowed; name a catalogue configuration "
                       "with config=")
            continue
        try:
            claim = get_claim(m.claim)
            expected = claim.expected if m.config is None else get_configuration(
                m.claim, m.config).expected
        except (KeyError, UnknownConfiguration) as e:
            out.append(f"{where}: {e}")
            continue
        expects.setdefault(m.claim, set()).add(expected)
    for claim_id, outcomes in sorted(expects.items()):
        documented = get_claim(claim_id).expected
        if documented not in outcomes:
            out.append(f"{claim_id}: no test checks its documented outcome ({documented}); "
                       f"its tests expect {sorted(outcomes)}")
    return out


def _markers_of(fn: ast.FunctionDef | ast.AsyncFunctionDef, test: str) -> list[Marker]:
    out = []
    for deco in fn.decorator_list:
        if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)
                and deco.func.attr == "claim" and deco.args
                and isinstance(deco.args[0], ast.Constant) and isinstance(deco.args[0].value, str)):
            config = None
            for kw in deco.keywords:
                if kw.arg == "config" and isinstance(kw.value, ast.Constant):
                    config = str(kw.value.value)
            out.append(Marker(deco.args[0].value, test, config, deco.lineno,
                              tuple(kw.arg or "**" for kw in deco.keywords)))
    return out
