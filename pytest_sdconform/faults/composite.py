"""Faults made of faults: general building blocks, so that no suite needs a fault class.

- ``InTurn``: its faults one per window, in order (kill a1, then a2, then a1...; latency, then
  timeouts...), so that a short case surely has each; the window carries the name of the
  fault then on.
- ``Together``: several faults at once (a partition and a paused node), healed in reverse.
- ``BeforeHeal``: a first fault, and a second that strikes while the first is still on, at the
  end of its window, before it heals (cut a replica off, then crash the node that holds its
  hints before the cut heals). The second is healed last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import Fault


class InTurn:
    """Each start takes the next of ``faults``; the name is that fault's (or ``name``)."""

    def __init__(self, faults: Sequence[Fault], name: str | None = None):
        if not faults:
            raise ValueError("InTurn needs at least one fault")
        self.faults = list(faults)
        self.fixed_name = name
        self.turn = 0
        self.current = self.faults[0]
        self.name = name or str(self.current.name)

    def start(self) -> Any:
        self.current = self.faults[self.turn % len(self.faults)]
        self.name = self.fixed_name or str(self.current.name)
        self.turn += 1
        return self.current.start()

    def stop(self) -> Any:
        return self.current.stop()


class Together:
    """Its faults started together (in order) and healed together (in reverse order)."""

    def __init__(self, faults: Sequence[Fault], name: str | None = None):
        self.faults = list(faults)
        self.name = name or "+".join(str(f.name) for f in self.faults)
        self.started: list[Fault] = []

    def start(self) -> dict[str, Any]:
        record = {}
        for fault in self.faults:
            record[str(fault.name)] = fault.start()
            self.started.append(fault)
        return record

    def stop(self) -> dict[str, Any]:
        record: dict[str, Any] = {}
        errors = []
        while self.started:
            fault = self.started.pop()
            try:
                record[str(fault.name)] = fault.stop()
            except Exception as e:  # heal the others before reporting
                errors.append(e)
        if errors:
            raise errors[0]
        return record


class BeforeHeal:
    """``first`` for the window; at its end ``then`` strikes, ``first`` heals, ``then`` heals."""

    def __init__(self, first: Fault, then: Fault, name: str | None = None,
                 describe: str = ""):
        self.first, self.then = first, then
        self.name = name or f"{first.name}+{then.name}"
        self.describe = describe
        self.active = False

    def start(self) -> dict[str, Any]:
        record: dict[str, Any] = {"first": self.first.start()}
        self.active = True
        if self.describe:
            record["then"] = self.describe
        return record

    def stop(self) -> dict[str, Any]:
        if not self.active:  # the final heal after an interrupted window: nothing to strike
            self.first.stop()
            return {}
        self.active = False
        struck = self.then.start()
        try:
            self.first.stop()
        finally:
            healed = self.then.stop()
        return {"struck": struck, "healed": healed}
