"""Progress lines ("sdconform: ..."): on stderr by default; under pytest the plugin routes them
to the terminal past output capture, so a cluster start or a Maven fetch is seen as it happens.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

_sink: Callable[[str], None] | None = None


def progress(message: str) -> None:
    line = f"sdconform: {message}"
    if _sink is not None:
        _sink(line)
    else:
        print(line, file=sys.stderr, flush=True)


def route(sink: Callable[[str], None] | None) -> None:
    """Send progress lines to ``sink`` (None: back to stderr)."""
    global _sink
    _sink = sink
