"""The HTML report of a run: ``write_report(run_folder)`` writes a self-contained ``index.html``.

``data`` turns the run folder into plain data (claims table, cases, timelines, binned series);
``render`` fills ``templates/index.html.j2`` and inlines the stylesheet, the script and the JSON
the script draws its SVG charts from.
"""

from __future__ import annotations

from .render import write_report

__all__ = ["write_report"]
