"""Process faults: kill (SIGKILL, then restart on the same data) and pause (SIGSTOP / SIGCONT).

Each proves itself from the node's own place, not from having sent a signal: a killed node is
no longer running (its process reaped, or its container exited), a paused one is stopped (state
``T`` in the kernel, or frozen by the engine), a restarted one passed its readiness check again.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ..nodes import Node
from . import FaultNotEffective


class _NodeFault:
    """Picks victims among the cluster's nodes: ``count`` of them at random each time."""

    name = "node"

    def __init__(
        self, nodes: Sequence[Node], count: int = 1, rng: random.Random | None = None
    ):
        if not nodes:
            raise ValueError(f"{self.name}: no nodes to break")
        self.nodes = list(nodes)
        self.count = min(count, len(self.nodes))
        self.rng = rng or random.Random()
        self.victims: list[Node] = []

    def choose(self) -> list[Node]:
        return self.rng.sample(self.nodes, self.count)


class Kill(_NodeFault):
    name = "kill"

    def start(self, victims: Sequence[Node] | None = None) -> dict[str, Any]:
        self.victims = list(victims) if victims else self.choose()
        for node in self.victims:
            node.kill()
            if node.is_running():
                raise FaultNotEffective(f"kill: {node.name} (pid {node.pid}) is still running")
        how = {n.kill_scope for n in self.victims}
        return {"nodes": [n.name for n in self.victims], "how": " and ".join(sorted(how))}

    def stop(self) -> dict[str, Any]:
        """Restart the killed nodes on their data; returns once each is ready again."""
        restarted = []
        for node in self.victims:
            if not node.is_running():
                node.start()
                restarted.append(node.name)
        self.victims = []
        return {"restarted": restarted}


class Pause(_NodeFault):
    name = "pause"

    def start(self, victims: Sequence[Node] | None = None) -> dict[str, Any]:
        self.victims = list(victims) if victims else self.choose()
        for node in self.victims:
            node.pause()
            if not node.is_paused():
                raise FaultNotEffective(f"pause: {node.name} is not stopped")
        how = {n.pause_scope for n in self.victims}
        return {"nodes": [n.name for n in self.victims], "how": " and ".join(sorted(how))}

    def stop(self) -> dict[str, Any]:
        resumed = []
        for node in self.victims:
            node.resume()
            if node.is_paused():
                raise FaultNotEffective(f"pause: {node.name} did not resume")
            resumed.append(node.name)
        self.victims = []
        return {"resumed": resumed}
