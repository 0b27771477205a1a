"""Opening the runtime a session chose (``--sdconform-runtime``) for one cluster."""

from __future__ import annotations

from ..runs import Run
from . import Runtime
from .external import ExternalRuntime
from .local import LocalRuntime

RUNTIMES = ("local", "external")


def open_runtime(name: str, run: Run, partitions: bool = True) -> Runtime:
    """A runtime of kind ``name`` for ``run``'s nodes; ``partitions``: set up what
    partitions need, where the runtime can."""
    if name == "local":
        return LocalRuntime(run, partitions=partitions)
    if name == "external":
        return ExternalRuntime(run)
    raise ValueError(f"unknown runtime {name!r}; known: {', '.join(RUNTIMES)}")
