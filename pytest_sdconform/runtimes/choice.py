"""Opening the runtime a session chose (``--sdconform-runtime``) for one cluster."""

from __future__ import annotations

from collections.abc import Mapping

from ..runs import Run
from . import Runtime
from .external import ExternalRuntime
from .local import LocalRuntime

RUNTIMES = ("local", "docker", "external")


def open_runtime(name: str, run: Run, partitions: bool = True,
                 images: Mapping[str, str] | None = None) -> Runtime:
    """A runtime of kind ``name`` for ``run``'s nodes; ``partitions``: set up what
    partitions need, where the runtime can; ``images``: image role -> image (docker)."""
    if name == "local":
        return LocalRuntime(run, partitions=partitions)
    if name == "docker":
        from .docker import DockerRuntime  # the Docker SDK only when containers are asked for

        return DockerRuntime(run, images)
    if name == "external":
        return ExternalRuntime(run)
    raise ValueError(f"unknown runtime {name!r}; known: {', '.join(RUNTIMES)}")
