"""Write a run's ``index.html``: one self-contained file, CSS, script and chart data inlined."""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..compare import Matrix, Regression, short_name
from .data import Report, load_report, script_json
from .timeline import MAX_OPS

TEMPLATE = "index.html.j2"
ASSETS = ("report.css", "report.js")


def number(x: Any, digits: int = 1) -> str:
    """Counts with thousands separators, other numbers rounded; anything else as text."""
    if isinstance(x, bool) or x is None:
        return "" if x is None else str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return str(x)


def asset(name: str) -> Markup:
    """A file of ours from templates/ to inline as is (it never holds user data)."""
    text = resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")
    if "</" + "script" in text.lower() or "</" + "style" in text.lower():
        raise ValueError(f"{name} must not close its own element")
    return Markup(text)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader(__package__, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = number
    return env


def render(report: Report) -> str:
    template = environment().get_template(TEMPLATE)
    return template.render(
        report=report,
        css=asset("report.css"),
        js=asset("report.js"),
        data=Markup(script_json(report.chart_data())),
    )


def write_report(run_folder: Path, max_ops: int = MAX_OPS) -> Path:
    """Write ``<run_folder>/index.html`` from the run's verdicts and histories; return its path.

    ``max_ops`` caps the operations drawn per case (the anomalies' operations are always drawn).
    """
    run_folder = Path(run_folder)
    html = render(load_report(run_folder, max_ops))
    out = run_folder / "index.html"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out


def render_compare(matrix: Matrix, regressions: Sequence[Regression], out: Path) -> str:
    """The compare page, its links to the cases relative to where it is written."""
    base = Path(out).resolve().parent
    links = {}
    for refs in matrix.by_claim.values():
        for ref in refs:
            folder, _, anchor = ref.link.partition("/index.html#")
            target = Path(folder).resolve() / "index.html"
            links[ref.link] = f"{os.path.relpath(target, base)}#{anchor}"
    template = environment().get_template("compare.html.j2")
    return template.render(matrix=matrix, regressions=regressions, links=links,
                           short_name=short_name, css=asset("report.css"))
