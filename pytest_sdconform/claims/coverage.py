"""Which claims the suites test, found by reading ``@pytest.mark.claim(...)`` in suite files,
and whether each tested claim's catalogue outcome (as the documents state it) is tested."""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from pathlib import Path

from . import get_claim
from .configurations import UnknownConfiguration, get_configuration, untestable
from .evidence import evidence


@dataclass(frozen=True)
class Marker:
    claim: str
    test: str  # "suites/x/test_y.py::test_z"
    config: str | None  # the catalogue configuration it runs under (None: as documented)
    line: int
    keywords: tuple[str, ...]  # every keyword the marker was given
    # The module's ``UNVERIFIED`` reason: a suite never yet run against its real system (e.g.
    # no mongod where it was written); its markers do not count a claim tested.
    unverified: str | None = None
    # The case passes ``emulator_limit=`` (itself or through a helper of its module): where it
    # runs on an emulator it is inconclusive by construction, so it is no evidence that makes a
    # generic claim tested (its own claim's marker still counts, as its own suite says).
    emulator_limited: bool = False


def markers(suites: Path) -> list[Marker]:
    """Every claim marker on a test function below ``suites``."""
    found: list[Marker] = []
    for path in sorted(suites.rglob("test_*.py")) if suites.is_dir() else []:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError):
            continue
        why = _unverified(tree)
        limited = _limited_helpers(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lim = _passes_limit(node, limited)
                found += [replace(m, unverified=why, emulator_limited=lim)
                          for m in _markers_of(node, f"{path}::{node.name}")]
    return found


def _limited_helpers(tree: ast.Module) -> set[str]:
    """The module's functions that pass ``emulator_limit=`` to a call."""
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            and _passes_limit(n, set())}


def _passes_limit(fn: ast.FunctionDef | ast.AsyncFunctionDef, helpers: set[str]) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            if any(kw.arg == "emulator_limit" for kw in node.keywords):
                return True
            if isinstance(node.func, ast.Name) and node.func.id in helpers:
                return True
    return False


def _unverified(tree: ast.Module) -> str | None:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "UNVERIFIED" for t in node.targets)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value
    return None


def unverified(suites: Path) -> dict[str, list[str]]:
    """{claim id: tests} of suites written but never run against their real system: counted
    apart from the tested claims until a real run reports them."""
    out: dict[str, list[str]] = {}
    for m in markers(suites):
        if m.unverified is not None:
            out.setdefault(m.claim, []).append(m.test)
    return out


def claim_markers(suites: Path) -> dict[str, list[str]]:
    """{claim id: ["suites/x/test_y.py::test_z", ...]} for every claim-marked test function,
    and for every case the catalogue's evidence says decides a claim besides its own (once the
    case exists and is not emulator-limited); claims listed as untestable are left out (a test
    of one decides nothing)."""
    out: dict[str, list[str]] = {}
    skip = untestable()
    found = markers(suites)
    for m in found:
        if m.claim not in skip and m.unverified is None:
            out.setdefault(m.claim, []).append(m.test)
    tests = {_relative(m.test, suites) for m in found
             if m.unverified is None and not m.emulator_limited}
    for e in evidence():
        if e.claim not in skip and e.case in tests and e.case not in out.get(e.claim, []):
            out.setdefault(e.claim, []).append(e.case)
    return out


def _relative(test: str, suites: Path) -> str:
    """A marker's test id as the evidence names it: from the suites folder's parent."""
    path, _, name = test.partition("::")
    try:
        rel = Path(path).resolve().relative_to(suites.resolve().parent)
    except ValueError:
        return test
    return f"{rel.as_posix()}::{name}"


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
    out += _evidence_problems(suites, expects)
    for claim_id, outcomes in sorted(expects.items()):
        documented = get_claim(claim_id).expected
        if documented not in outcomes:
            out.append(f"{claim_id}: no test checks its documented outcome ({documented}); "
                       f"its tests expect {sorted(outcomes)}")
    return out


def _evidence_problems(suites: Path, expects: dict[str, set[str]]) -> list[str]:
    """Each evidence entry's case exists and its ``expected`` follows from the case's own
    expected outcome; adds the entry's outcome to ``expects`` for the documented-outcome rule."""
    out: list[str] = []
    own: dict[str, list[str]] = {}
    for m in markers(suites):
        try:
            claim = get_claim(m.claim)
            expected = claim.expected if m.config is None else get_configuration(
                m.claim, m.config).expected
        except (KeyError, UnknownConfiguration):
            continue  # reported above
        own.setdefault(_relative(m.test, suites), []).append(expected)
    for e in evidence():
        if e.case not in own:
            out.append(f"{e.origin}: {e.case} is no claim-marked test below {suites}")
            continue
        implied = {e.outcome(x) for x in own[e.case]}
        if e.expected not in implied:
            out.append(f"{e.origin}: expected {e.expected} for {e.claim}, but the case expects "
                       f"{' or '.join(sorted(own[e.case]))}, which reads ({e.reads}) as "
                       f"{' or '.join(sorted(implied))}")
            continue
        expects.setdefault(e.claim, set()).add(e.expected)
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
