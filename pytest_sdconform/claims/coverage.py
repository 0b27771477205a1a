"""Which claims the suites test: found by reading ``@pytest.mark.claim("id")`` in suite files."""

from __future__ import annotations

import ast
from pathlib import Path


def claim_markers(suites: Path) -> dict[str, list[str]]:
    """{claim id: ["suites/x/test_y.py::test_z", ...]} for every claim-marked test function."""
    found: dict[str, list[str]] = {}
    for path in sorted(suites.rglob("test_*.py")) if suites.is_dir() else []:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for claim_id in _claims_of(node):
                found.setdefault(claim_id, []).append(f"{path}::{node.name}")
    return found


def _claims_of(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    out = []
    for deco in fn.decorator_list:
        if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)
                and deco.func.attr == "claim" and deco.args
                and isinstance(deco.args[0], ast.Constant) and isinstance(deco.args[0].value, str)):
            out.append(deco.args[0].value)
    return out
