"""``KillCycles``: nodes killed and restarted on random schedules, independent or together.

Time is cut into slots of ``slot`` seconds. At the start of each slot a draw says whether a
node is down during the slot (probability ``down``): each node on its own schedule, in a thread
of its own with its own random stream (``correlated=False``: independent failures), or one
thread and one draw for all of them (``correlated=True``: one cause, e.g. one machine, takes
them all; restarted together). A node drawn down that is running is killed (SIGKILL) and
proven no longer running; a node drawn up that is down is restarted and waits for its
readiness check (a slow restart lengthens that node's slot). ``stop`` ends the cycles and
restarts every node still down (always heals).

``stop`` returns the record the judge reads (``checkers/parallel_availability.py``): the slot
length, each node's slots (start, draw) and down intervals, from just before its kill to when
its restart passed the readiness check, in seconds from the moment ``start`` was called (which
the runner records as the ``<name>-start`` invocation).
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
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._t0 = 0.0
        self._slots: dict[str, list[list[Any]]] = {}
        self._down: dict[str, list[list[float]]] = {}
        self._since: dict[str, float] = {}  # node -> when its current down interval began

    def _now(self) -> float:
        return round(time.monotonic() - self._t0, 6)

    def start(self) -> dict[str, Any]:
        self._t0 = time.monotonic()
        self._stop.clear()
        self._errors, self._since = [], {}
        self._slots = {n.name: [] for n in self.nodes}
        self._down = {n.name: [] for n in self.nodes}
        # Independent: a thread and a random stream per node, so that neither node's restart
        # delays the other's schedule. Correlated: one thread, one draw for all.
        groups = [self.nodes] if self.correlated else [[n] for n in self.nodes]
        self._threads = [
            threading.Thread(target=self._cycle, args=(g, random.Random(self.rng.random())),
                             name=f"sdconform-kill-cycles-{i}", daemon=True)
            for i, g in enumerate(groups)
        ]
        for t in self._threads:
            t.start()
        return {"nodes": [n.name for n in self.nodes], "down": self.down, "slot_s": self.slot,
                "correlated": self.correlated}

    def _cycle(self, group: list[Node], rng: random.Random) -> None:
        try:
            while not self._stop.is_set():
                began = self._now()
                d = rng.random() < self.down
                for node in group:
                    with self._lock:
                        self._slots[node.name].append([began, d])
                    if d and node.name not in self._since:
                        self._kill(node)
                back = [n for n in group if not d and n.name in self._since]
                if len(back) == 1:
                    self._restart(back[0])
                elif back:  # together, as they were killed
                    self._in_parallel(back)
                self._stop.wait(max(0.0, began + self.slot - self._now()))
        except BaseException as e:  # reported by stop, which still heals
            with self._lock:
                self._errors.append(e)

    def _in_parallel(self, nodes: list[Node]) -> None:
        errors: list[BaseException] = []

        def restart(node: Node) -> None:
            try:
                self._restart(node)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=restart, args=(n,), daemon=True) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _kill(self, node: Node) -> None:
        with self._lock:
            self._since[node.name] = self._now()
        node.kill()
        if node.is_running():
            raise FaultNotEffective(f"kill-cycles: {node.name} is still running after SIGKILL")

    def _restart(self, node: Node) -> None:
        node.start()  # waits for the readiness check
        with self._lock:
            self._down[node.name].append([self._since.pop(node.name), self._now()])

    def stop(self) -> dict[str, Any]:
        """End the cycles, restart every node still down, and return the record."""
        self._stop.set()
        for t in self._threads:
            t.join()
        self._threads = []
        end = self._now()
        restarted = []
        for node in self.nodes:
            if node.name in self._since:
                self._restart(node)
                restarted.append(node.name)
            elif not node.is_running():  # a kill that failed half-way, or stop called twice
                node.start()
                restarted.append(node.name)
        errors, self._errors = self._errors, []
        if errors:
            raise FaultNotEffective(f"kill-cycles failed: {errors[0]}") from errors[0]
        return {"restarted": restarted, "end": end, "slot_s": self.slot, "slots": self._slots,
                "down": self._down}
