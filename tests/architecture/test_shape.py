"""The package's shape, kept by static analysis: no module over 400 lines, no import loop, no
import from a higher layer, and no package module that imports a suite.

Everything here reads source with `ast`; no module of the package is imported, so the test is
fast and never starts anything. Every import statement counts, wherever it is in the file
(module level, inside a function, under `if TYPE_CHECKING:`). The implicit import of a module's
parent packages does not: only what an import statement names.

The layers, from the top (suites, above everything) down to the data every layer shares:

    5  plugin, cli, report          entry points: pytest plugin, command line, HTML report
    4  case, session                one suite test and one pytest session
    3  backends                     one package per system: topology, client, faults, judges
    2  cluster, faults, runtimes,   what a case drives: nodes and their faults, the workload
       runner, workloads, outcome,  threads, the one decision path; `cleanup` removes what a
       cleanup                      killed run left of faults and runtimes, so it sits beside them
    1  checkers, claims, the        what judges a history, the catalogue of claims, and the
       package root (exact)         root's re-exports (it re-exports `checkers.verdict`)
    0  history, recorder, formats,  the history and its files, the run's ledger, progress lines,
       runs, progress, provision    the cache of pinned tools

A module may import from its own layer or any layer below. A module that is in no layer fails
the test, so that a new module is placed on purpose.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "pytest_sdconform"
SUITES = "suites"
MAX_LINES = 400

Layers = Sequence[tuple[int, Sequence[str]]]

LAYERS: Layers = (
    (6, ("pytest_sdconform.plugin", "pytest_sdconform.cli", "pytest_sdconform.check",
         "pytest_sdconform.report",
         "pytest_sdconform.compare", "pytest_sdconform.replay")),
    (5, ("pytest_sdconform.case", "pytest_sdconform.session")),
    (4, ("pytest_sdconform.backends",)),
    # Where nodes run, and what drives a run: they use the faults, never the other way round.
    (
        3,
        (
            "pytest_sdconform.cluster",
            "pytest_sdconform.runtimes",
            "pytest_sdconform.runner",
            "pytest_sdconform.attempt",
            "pytest_sdconform.cleanup",
        ),
    ),
    (
        2,
        (
            "pytest_sdconform.faults",
            "pytest_sdconform.workloads",
            "pytest_sdconform.outcome",
            "pytest_sdconform.explore",
            "pytest_sdconform.images",
            "pytest_sdconform.engine",
        ),
    ),
    # The package root is matched exactly, never as a prefix of everything.
    (1, ("pytest_sdconform.checkers", "pytest_sdconform.claims", "pytest_sdconform")),
    (
        0,
        (
            "pytest_sdconform.history",
            "pytest_sdconform.recorder",
            "pytest_sdconform.formats",
            "pytest_sdconform.nodes",
            "pytest_sdconform.runs",
            "pytest_sdconform.progress",
            "pytest_sdconform.provision",
        ),
    ),
)



# --- the analysis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. pytest_sdconform.checkers.parallel (a package: its __init__)
    path: Path
    is_package: bool
    lines: int
    tree: ast.Module


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported, dotted
    path: Path  # the importing file
    line: int


def physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def load_modules(folder: Path, name: str) -> dict[str, Module]:
    """Every .py file under `folder`, named as the package `name` (the folder) would name it."""
    modules: dict[str, Module] = {}
    for path in sorted(folder.rglob("*.py")):
        parts = [name, *path.relative_to(folder).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        data = path.read_bytes()
        modules[".".join(parts)] = Module(
            name=".".join(parts),
            path=path,
            is_package=is_package,
            lines=physical_lines(data),
            tree=ast.parse(data, filename=str(path)),
        )
    return modules


def oversized(modules: Mapping[str, Module], limit: int = MAX_LINES) -> list[tuple[Path, int]]:
    return sorted(
        ((m.path, m.lines) for m in modules.values() if m.lines > limit),
        key=lambda item: (-item[1], item[0]),
    )


def imported_names(module: Module) -> list[tuple[str, int]]:
    """(absolute dotted name, line) for every import statement anywhere in the module.

    `from X import n` yields both X and X.n: which of them is a module is for the caller to
    decide. A relative import that climbs out of the top package is left out."""
    names: list[tuple[str, int]] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found = imported_names_of(module, node)
            if found is None:
                continue
            base, members = found
            names.append((base, node.lineno))
            names.extend((f"{base}.{m}", node.lineno) for m in members if m != "*")
    return names


def import_edges(modules: Mapping[str, Module]) -> list[Import]:
    """The explicit imports between the given modules.

    `from p import x` imports the module p.x when there is one (not p, an implicit parent),
    and p itself (its __init__) when x is a name defined there. `import a.b.c` imports a.b.c."""
    edges: dict[tuple[str, str, int], Import] = {}
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                candidates = [(alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                found = imported_names_of(module, node)
                if found is None:
                    continue
                base, members = found
                submodules = [f"{base}.{m}" for m in members if f"{base}.{m}" in modules]
                names_from_base = any(f"{base}.{m}" not in modules for m in members)
                candidates = [(s, node.lineno) for s in submodules]
                if names_from_base:
                    candidates.append((base, node.lineno))
            else:
                continue
            for target, line in candidates:
                if target in modules and target != module.name:
                    edges[(module.name, target, line)] = Import(
                        module.name, target, module.path, line
                    )
    return sorted(edges.values(), key=lambda i: (i.source, i.line, i.target))


def imported_names_of(module: Module, node: ast.ImportFrom) -> tuple[str, list[str]] | None:
    """The absolute base of a `from ... import ...` and the names it takes (`*` as a name of the
    base); None for a relative import that climbs out of the top package."""
    if node.level:
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        parts = package.split(".") if package else []
        if node.level - 1 >= len(parts):
            return None
        base_parts = parts[: len(parts) - (node.level - 1)]
        if node.module:
            base_parts.append(node.module)
        base = ".".join(base_parts)
    else:
        base = node.module or ""
    return base, [alias.name for alias in node.names]


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted, in sorted order."""
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    successors = {n: sorted(set(graph.get(n, ()))) for n in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for j in range(i, len(successors[node])):
                succ = successors[node][j]
                if succ not in index:
                    work.append((node, j + 1))
                    work.append((succ, 0))
                    recurse = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if recurse:
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(components)


def shortest_cycle(start: str, graph: Mapping[str, set[str]], within: set[str]) -> list[str]:
    """The shortest path start -> ... -> start inside `within` (breadth first)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for succ in sorted(graph.get(node, ())):
            if succ not in within:
                continue
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if succ not in seen:
                seen.add(succ)
                previous[succ] = node
                queue.append(succ)
    return []


def import_cycles(imports: Sequence[Import], package: str = PACKAGE) -> list[str]:
    """One readable chain `a -> b -> a` per import loop: the shortest cycle through each member of
    each strongly connected component, without repeats, with the lines of each step."""
    graph: dict[str, set[str]] = defaultdict(set)
    lines: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in imports:
        graph[imp.source].add(imp.target)
        lines[(imp.source, imp.target)].append(imp)
    reports: list[str] = []
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        members = set(component)
        seen: set[tuple[str, ...]] = set()
        for member in component:
            cycle = shortest_cycle(member, graph, members)
            ring = cycle[:-1]
            k = ring.index(min(ring))
            key = tuple(ring[k:] + ring[:k])
            if key in seen:
                continue
            seen.add(key)
            chain = [*key, key[0]]
            steps = []
            for a, b in itertools.pairwise(chain):
                where = lines[(a, b)]
                steps.append(
                    f"{display_path(where[0].path)}:"
                    + ",".join(str(i.line) for i in where)
                    + f" imports {short(b, package)}"
                )
            reports.append(
                " -> ".join(short(m, package) for m in chain) + "  (" + "; ".join(steps) + ")"
            )
    return reports


def layer_of(name: str, layers: Layers, package: str = PACKAGE) -> int | None:
    """The layer of the longest table entry that is the module or one of its packages; the
    package root itself is matched only exactly."""
    best: tuple[int, int] | None = None
    for layer, prefixes in layers:
        for prefix in prefixes:
            hit = name == prefix or (prefix != package and name.startswith(prefix + "."))
            if hit and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    return None if best is None else best[1]


def unplaced(modules: Iterable[str], layers: Layers, package: str = PACKAGE) -> list[str]:
    return sorted(m for m in modules if layer_of(m, layers, package) is None)


def upward_imports(imports: Sequence[Import], layers: Layers, package: str = PACKAGE) -> list[str]:
    found: list[str] = []
    for imp in imports:
        source_layer = layer_of(imp.source, layers, package)
        target_layer = layer_of(imp.target, layers, package)
        if source_layer is None or target_layer is None:
            continue  # reported by the layer-table test
        if target_layer > source_layer:
            found.append(
                f"{display_path(imp.path)}:{imp.line}: {imp.source} (layer "
                f"{source_layer}) imports {imp.target} (layer {target_layer})"
            )
    return found


def suite_names(folder: Path, name: str = SUITES) -> set[str]:
    """The names a suite file can be imported by: suites.x.test_y, and test_y itself (pytest's
    default import mode puts the folder of a test file without __init__.py on sys.path)."""
    names = {name}
    for path in folder.rglob("*.py"):
        dotted = [name, *path.relative_to(folder).with_suffix("").parts]
        if dotted[-1] == "__init__":
            dotted.pop()
        names.add(".".join(dotted))
        if path.stem != "__init__":
            names.add(path.stem)
    return names


def imports_of_suites(modules: Mapping[str, Module], forbidden: set[str]) -> list[str]:
    found: list[str] = []
    for module in modules.values():
        top = module.name.partition(".")[0]
        for imported, line in imported_names(module):
            if imported.partition(".")[0] == top:
                continue  # the package's own modules (relative imports resolve there)
            if any(imported == f or imported.startswith(f + ".") for f in forbidden):
                found.append(
                    f"{display_path(module.path)}:{line}: {module.name} imports {imported}"
                )
    return sorted(set(found))


def short(name: str, package: str) -> str:
    return name[len(package) + 1 :] if name.startswith(package + ".") else name


def display_path(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


# --- the package as it is -------------------------------------------------------------------


@pytest.fixture(scope="module")
def package() -> dict[str, Module]:
    return load_modules(REPO / PACKAGE, PACKAGE)


@pytest.fixture(scope="module")
def edges(package: dict[str, Module]) -> list[Import]:
    return import_edges(package)


def test_no_module_over_400_lines(package: dict[str, Module]) -> None:
    offenders = oversized(package)
    assert not offenders, f"{len(offenders)} module(s) over {MAX_LINES} lines:\n" + "\n".join(
        f"  {display_path(path)}: {lines} lines" for path, lines in offenders
    )


def test_no_import_loop(edges: list[Import]) -> None:
    cycles = import_cycles(edges)
    assert not cycles, f"{len(cycles)} import loop(s):\n" + "\n".join(f"  {c}" for c in cycles)


def test_every_module_is_in_the_layer_table(package: dict[str, Module]) -> None:
    missing = unplaced(package, LAYERS)
    assert not missing, "modules in no layer (add it to the layer table):\n" + "\n".join(
        f"  {m}" for m in missing
    )


def test_no_upward_import(edges: list[Import]) -> None:
    upward = upward_imports(edges, LAYERS)
    assert not upward, f"{len(upward)} import(s) from a higher layer:\n" + "\n".join(
        f"  {u}" for u in upward
    )


def test_no_package_module_imports_a_suite(package: dict[str, Module]) -> None:
    found = imports_of_suites(package, suite_names(REPO / SUITES))
    assert not found, "package modules that import a suite:\n" + "\n".join(f"  {f}" for f in found)


# --- the analysis is refutable: synthetic trees ---------------------------------------------


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def synthetic(tmp_path: Path, files: Mapping[str, str]) -> dict[str, Module]:
    write_tree(tmp_path, {"pkg/__init__.py": "", **files})
    return load_modules(tmp_path / "pkg", "pkg")


SYNTHETIC_LAYERS: Layers = (
    (2, ("pkg.top",)),
    (1, ("pkg.middle", "pkg")),
    (0, ("pkg.base",)),
)

CLEAN = {
    "pkg/top.py": "from .middle import helper\nfrom . import base\n",
    "pkg/middle/__init__.py": "from ..base import VALUE\n\ndef helper() -> None: ...\n",
    "pkg/middle/leaf.py": "from . import helper\nfrom ..base import VALUE\n",
    "pkg/base.py": "import os\nVALUE = 1\n",
}


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    modules = synthetic(tmp_path, CLEAN)
    edges = import_edges(modules)
    assert oversized(modules) == []
    assert import_cycles(edges, "pkg") == []
    assert unplaced(modules, SYNTHETIC_LAYERS, "pkg") == []
    assert upward_imports(edges, SYNTHETIC_LAYERS, "pkg") == []
    assert imports_of_suites(modules, {"suites", "test_x"}) == []


def test_a_loop_hidden_in_a_function_is_reported(tmp_path: Path) -> None:
    modules = synthetic(
        tmp_path,
        {
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "def late() -> None:\n    from .a import thing\n    thing()\n",
        },
    )
    pkg = tmp_path / "pkg"
    assert import_cycles(import_edges(modules), "pkg") == [
        f"a -> b -> a  ({pkg / 'a.py'}:1 imports b; {pkg / 'b.py'}:2 imports a)"
    ]


def test_a_loop_under_type_checking_and_through_parents_is_reported(tmp_path: Path) -> None:
    modules = synthetic(
        tmp_path,
        {
            "pkg/x/__init__.py": "",
            "pkg/x/one.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from ..y.two import T\n",
            "pkg/y/__init__.py": "",
            "pkg/y/two.py": "import pkg.z\n",
            "pkg/z.py": "from .x import one\n",
        },
    )
    (cycle,) = import_cycles(import_edges(modules), "pkg")
    assert cycle.startswith("x.one -> y.two -> z -> x.one  (")


def test_a_loop_through_a_package_init_is_reported(tmp_path: Path) -> None:
    """`from . import Name` takes a name of the package's __init__, which imports the module."""
    modules = synthetic(
        tmp_path,
        {
            "pkg/f/__init__.py": "from .clock import Skew\nclass Unavailable(Exception): ...\n",
            "pkg/f/clock.py": "from . import Unavailable\nclass Skew: ...\n",
        },
    )
    (cycle,) = import_cycles(import_edges(modules), "pkg")
    assert cycle.startswith("f -> f.clock -> f  (")


def test_implicit_parent_imports_are_not_counted(tmp_path: Path) -> None:
    modules = synthetic(
        tmp_path,
        {
            "pkg/a.py": "from .sub.leaf import f\n",
            "pkg/sub/__init__.py": "from ..a import g\n",
            "pkg/sub/leaf.py": "def f() -> None: ...\n",
        },
    )
    assert import_cycles(import_edges(modules), "pkg") == []


def test_every_cycle_of_a_component_is_named() -> None:
    imports = [
        Import(s, t, Path(f"{s}.py"), 1)
        for s, t in [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("c", "d")]
    ]
    assert [c.split("  (")[0] for c in import_cycles(imports, "pkg")] == [
        "a -> b -> a",
        "b -> c -> b",
    ]
    assert strongly_connected({"a": ["b"], "b": ["a", "c"], "c": ["b", "d"]}) == [
        ["a", "b", "c"],
        ["d"],
    ]


def test_an_upward_import_is_reported_with_file_line_and_layers(tmp_path: Path) -> None:
    modules = synthetic(
        tmp_path,
        {
            **CLEAN,
            "pkg/base.py": "import os\nVALUE = 1\n\n"
            "def f() -> None:\n    from .middle.leaf import x\n",
        },
    )
    assert upward_imports(import_edges(modules), SYNTHETIC_LAYERS, "pkg") == [
        f"{tmp_path / 'pkg' / 'base.py'}:5: pkg.base (layer 0) imports pkg.middle.leaf (layer 1)"
    ]


def test_a_module_in_no_layer_is_reported(tmp_path: Path) -> None:
    modules = synthetic(tmp_path, {**CLEAN, "pkg/stray.py": ""})
    assert unplaced(modules, SYNTHETIC_LAYERS, "pkg") == ["pkg.stray"]
    assert layer_of("pkg", SYNTHETIC_LAYERS, "pkg") == 1
    assert layer_of("pkg.middle.leaf", SYNTHETIC_LAYERS, "pkg") == 1
    assert layer_of("pkg.topology", SYNTHETIC_LAYERS, "pkg") is None


def test_a_module_over_the_limit_is_reported(tmp_path: Path) -> None:
    modules = synthetic(
        tmp_path,
        {
            **CLEAN,
            "pkg/long.py": "x = 1\n" * 401,
            "pkg/just.py": "x = 1\n" * 400,
            "pkg/unterminated.py": "x = 1\n" * 400 + "y = 2",
        },
    )
    assert oversized(modules) == [
        (tmp_path / "pkg" / "long.py", 401),
        (tmp_path / "pkg" / "unterminated.py", 401),
    ]


def test_an_import_of_a_suite_is_reported(tmp_path: Path) -> None:
    write_tree(tmp_path, {"suites/redis/test_redis.py": "", "suites/conftest.py": ""})
    names = suite_names(tmp_path / "suites")
    assert {"suites", "suites.redis.test_redis", "test_redis", "conftest"} <= names
    modules = synthetic(
        tmp_path,
        {
            "pkg/a.py": "def f() -> None:\n    import test_redis\n",
            "pkg/b.py": "from suites.redis import test_redis\n",
            "pkg/c.py": "from . import conftest\n",  # relative: the package's own, not a suite
        },
    )
    assert imports_of_suites(modules, names) == [
        f"{tmp_path / 'pkg' / 'a.py'}:2: pkg.a imports test_redis",
        f"{tmp_path / 'pkg' / 'b.py'}:1: pkg.b imports suites.redis",
        f"{tmp_path / 'pkg' / 'b.py'}:1: pkg.b imports suites.redis.test_redis",
    ]
