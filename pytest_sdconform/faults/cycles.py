"""``KillCycles``: nodes killed and restarted on random schedules, independent or together.

Time is cut into slots of ``slot`` seconds. At the start of each slot the fault draws, for each
node, whether it is down during the slot: with probability ``down`` each on its own
(``correlated=False``: independent failures), or one draw for all of them (``correlated=True``:
one cause, e.g. one machine, takes them all). A node drawn down that is running is killed
(SIGKILL) and proven no longer running; a node drawn up that is down is restarted and waits for
its readiness check. Kills come before restarts, so a slot's kills are not delayed by a slow
restart. The cycles run in a thread from ``start`` to ``stop``; ``stop`` ends them and restarts
every node still down (always heals).

``stop`` returns the record the judge reads (``checkers/parallel_availability.py``): the slots'
start times and draws, and each node's down intervals from just before its kill to when its
restart passed the readiness check, in seconds from the moment ``start`` was called (which the
runner records as the ``<name>-start`` invocation).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..nodes import Node
from . import FaultNotEffective


class KillCycles:
    name = "kill-cycles"

    def __init__(self, nodes: Sequence[Node], down: float, slot: float = 0.5,
                 correlated: bool = False, rng: random.Random | None = None):
        if len(nodes) < 2:
            raise ValueError("kill-cycles: needs at least two nodes (components in parallel)")
        if not 0.0 < down < 1.0:
            raise ValueError(f"kill-cycles: down must be a probability in (0, 1), not {down}")
        if slot <= 0:
            raise ValueError(f"kill-cycles: slot must be positive, not {slot}")
        self.nodes = list(nodes)
        self.down, self.slot, self.correlated = down, slot, correlated
        self.rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._t0 = 0.0
        self._slots: list[list[Any]] = []
        self._down: dict[str, list[list[float]]] = {}
        self._since: dict[str, float] = {}  # node -> when its current down interval began

    def _now(self) -> float:
        return round(time.monotonic() - self._t0, 6)

    def start(self) -> dict[str, Any]:
        self._t0 = time.monotonic()
        self._stop.clear()
        self._error = None
        self._slots, self._since = [], {}
        self._down = {n.name: [] for n in self.nodes}
        self._thread = threading.Thread(target=self._cycle, name="sdconform-kill-cycles",
                                        daemon=True)
        self._thread.start()
        return {"nodes": [n.name for n in self.nodes], "down": self.down, "slot_s": self.slot,
                "correlated": self.correlated}

    def _cycle(self) -> None:
        try:
            while not self._stop.is_set():
                began = self._now()
                if self.correlated:
                    d = self.rng.random() < self.down
                    draws = [d] * len(self.nodes)
                else:
                    draws = [self.rng.random() < self.down for _ in self.nodes]
                self._slots.append([began, draws])
                for node, d in zip(self.nodes, draws, strict=True):
                    if d and node.name not in self._since:
                        self._kill(node)
                for node, d in zip(self.nodes, draws, strict=True):
                    if not d and node.name in self._since:
                        self._restart(node)
                self._stop.wait(max(0.0, began + self.slot - self._now()))
        except BaseException as e:  # reported by stop, which still heals
            self._error = e

    def _kill(self, node: Node) -> None:
        self._since[node.name] = self._now()
        node.kill()
        if node.is_running():
            raise FaultNotEffective(f"kill-cycles: {node.name} is still running after SIGKILL")

    def _restart(self, node: Node) -> None:
        node.start()  # waits for the readiness check
        self._down[node.name].append([self._since.pop(node.name), self._now()])

    def stop(self) -> dict[str, Any]:
        """End the cycles, restart every node still down, and return the record."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        end = self._now()
        restarted = []
        for node in self.nodes:
            if node.name in self._since:
                self._restart(node)
                restarted.append(node.name)
            elif not node.is_running():  # a kill that failed half-way, or stop called twice
                node.start()
                restarted.append(node.name)
        error, self._error = self._error, None
        if error is not None:
            raise FaultNotEffective(f"kill-cycles failed: {error}") from error
        return {"restarted": restarted, "end": end, "slots": self._slots, "down": self._down}
