"""Process faults: kill (SIGKILL, then restart on the same data) and pause (SIGSTOP / SIGCONT).

Each proves itself from the kernel's point of view: a killed node's process has been reaped, a
paused one is in state ``T`` (stopped), a restarted one passed its readiness check again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..nodes import Node
from . import FaultNotEffective


def wait_for_state(pid: int, wanted: Callable[[str | None], bool], timeout: float = 2.0) -> bool:
    """A signal takes effect when the target is next scheduled, not when kill() returns."""
    deadline = time.monotonic() + timeout
    while not wanted(process_state(pid)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def process_state(pid: int) -> str | None:
    """The one-letter state of a process (R, S, T...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


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
            if node.is_running() or (node.pid and process_state(node.pid) not in (None, "Z")):
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
            if node.pid is None or not wait_for_state(node.pid, lambda s: s == "T"):
                raise FaultNotEffective(f"pause: {node.name} is not stopped")
        return {"nodes": [n.name for n in self.victims]}

    def stop(self) -> dict[str, Any]:
        resumed = []
        for node in self.victims:
            node.resume()
            if node.pid is not None and not wait_for_state(node.pid, lambda s: s != "T"):
                raise FaultNotEffective(f"pause: {node.name} did not resume")
            resumed.append(node.name)
        self.victims = []
        return {"resumed": resumed}
