"""Nodes: what a backend says about each of its servers, whatever runs them.

``spec.py``: ``NodeSpec`` (command, files, setup, readiness, user...) and ``NodePaths``;
``disk.py``: ``Disk``, a data folder that can lose unsynced writes (for power loss);
``readiness.py``: the checks that say a node answers, and ``NodeStartError``; ``addresses.py``:
the block of loopback addresses a run holds. ``Node`` is what a runtime hands back for each
node it started: the faults act on it (``faults/process.py``), the runtimes implement it
(``runtimes/``). Nothing here imports the runtimes or the faults.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from .disk import Disk
from .spec import NodePaths, NodeSpec


class Node(Protocol):
    """One running (or stopped) node of a runtime."""

    spec: NodeSpec
    log: Path  # what the node printed, readable on the harness's side
    disk: Disk | None  # its data folder, when it can lose unsynced writes (power loss)

    @property
    def name(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def kill_scope(self) -> str:
        """What a kill takes: "process group", "process tree", "container"."""
        ...

    def is_running(self) -> bool: ...

    def start(self, wait: bool = True) -> None: ...

    def wait_ready(self, timeout: float | None = None) -> None: ...

    def signal(self, sig: int) -> bool: ...

    def kill(self) -> None: ...

    def pause(self) -> None:
        """Stop the node's processes from running (returns once they are stopped)."""
        ...

    def resume(self) -> None: ...

    def is_paused(self) -> bool:
        """Whether the node's processes are stopped, from the kernel's or the engine's
        point of view (a proof, not the node's own memory of being paused)."""
        ...

    @property
    def pause_scope(self) -> str:
        """How a pause stops it: "SIGSTOP" or "cgroup freezer"."""
        ...

    def stop(self, grace: float = 10.0) -> None: ...

    def execute(self, argv: Sequence[str], timeout: float = 30.0) -> tuple[int, str]:
        """Run a command in the node's place (its folder, its image); exit code and output."""
        ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, text: str) -> None: ...


__all__ = ["Disk", "Node", "NodePaths", "NodeSpec"]
