"""Shrinking a refutation: the smallest part of a history that still refutes the claim.

A refuted case may rest on tens of thousands of operations; a person needs the handful that
show the violation. ``shrink`` looks for a sub-history that the same judge, with the same
checkers, still refutes with an anomaly of the same kind, and keeps it well formed:

- an operation stays whole (its invocation with its completion, or alone if it never
  completed: an ``info`` operation stays one whose effect is unknown);
- every fault event stays, so fault windows and what the judge asks of them are unchanged;
- operations keep their original indices and times (real-time order is the original's);
- a read of a register keeps a write of the value it returned (``depends``): without it the
  sub-history would be refuted for a read of a value nobody wrote, a different violation.

The search starts from the operations the anomaly names, with the rest of their key, and falls
back to the whole history; then delta debugging (Zeller and Hildebrandt's ddmin: drop halves,
then quarters... of what is left while the judge still refutes) and a last pass that tries each
operation alone, so that no single operation can be dropped (1-minimal). Each try is a judge
run on a small history; the whole search has a time budget (computation only, nothing about
the system: running out yields what was reached, marked ``minimal=False``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..history import NEMESIS, Completed, History, Operation

Refutes = Callable[[History], bool]
"""True when the judge still refutes this sub-history (with an anomaly of the original kind)."""

READS = frozenset({"read", "get", "r"})
WRITES = frozenset({"write", "put", "w", "set"})


@dataclass
class Shrunk:
    """A counterexample: ``ops`` (client operations and every fault event, in history order)."""

    ops: list[Operation]
    operations: int  # client operations in it
    of: int  # client operations in the whole history
    minimal: bool  # True: no single operation can be dropped; False: the budget ran out first
    tries: int  # judge runs
    seconds: float

    def to_json(self) -> dict[str, Any]:
        from ..formats.jsonl import dumps

        return {"operations": self.operations, "of": self.of, "minimal": self.minimal,
                "tries": self.tries, "seconds": round(self.seconds, 3),
                "ops": [json.loads(dumps(op)) for op in self.ops]}


def scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, (list, tuple, set, frozenset, dict))


def register_writes(units: Sequence[Completed]) -> Callable[[int], list[int]]:
    """For a read of a register (a single value), the latest write of that value to that key
    invoked before the read completed; nothing for other operations, nor for reads of
    collections (a set read names many writes: the one that is missing is the point)."""
    by_value: dict[tuple[Any, Any], list[int]] = {}
    for i, u in enumerate(units):
        if u.f in WRITES and scalar(u.invoke.value):
            try:
                by_value.setdefault((u.key, u.invoke.value), []).append(i)
            except TypeError:  # an unhashable value
                continue

    def depends(i: int) -> list[int]:
        u = units[i]
        if u.f not in READS or u.type != "ok" or not scalar(u.value) or u.completion is None:
            return []
        try:
            writes = by_value.get((u.key, u.value), [])
        except TypeError:
            return []
        before = [w for w in writes if units[w].invoke.time <= u.completion.time and w != i]
        return before[-1:]

    return depends


class Shrinker:
    def __init__(self, history: History, refutes: Refutes, budget_s: float,
                 depends: Callable[[Sequence[Completed]], Callable[[int], list[int]]]):
        self.history = history
        self.refutes = refutes
        self.units = [c for c in history.complete() if c.process != NEMESIS]
        self.faults = [op for op in history.ops if op.process == NEMESIS]
        self.depends = depends(self.units)
        self.deadline = time.monotonic() + budget_s
        self.tries = 0
        self.of_unit = {idx: i for i, u in enumerate(self.units) for idx in u.indices}

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def closure(self, keep: Iterable[int]) -> list[int]:
        kept = set(keep)
        todo = list(kept)
        while todo:
            for d in self.depends(todo.pop()):
                if d not in kept:
                    kept.add(d)
                    todo.append(d)
        return sorted(kept)

    def build(self, keep: Sequence[int]) -> History:
        ops = list(self.faults)
        for i in keep:
            u = self.units[i]
            ops.append(u.invoke)
            if u.completion is not None:
                ops.append(u.completion)
        ops.sort(key=lambda op: op.index)
        return History(ops, meta=dict(self.history.meta))

    def test(self, keep: Sequence[int]) -> bool:
        self.tries += 1
        try:
            return self.refutes(self.build(self.closure(keep)))
        except Exception:  # a judge that cannot read this sub-history does not refute it
            return False

    def start(self, focus: Iterable[int]) -> list[int] | None:
        """The smallest starting point that refutes: the anomaly's operations, then those and
        every operation of their keys, then everything (None: not even the whole history)."""
        seeds = sorted({self.of_unit[i] for i in focus if i in self.of_unit})
        keys = {repr(self.units[i].key) for i in seeds}
        same_key = [i for i, u in enumerate(self.units) if repr(u.key) in keys]
        everything = list(range(len(self.units)))
        for keep in (seeds, same_key, everything):
            if keep and self.test(keep):
                return self.closure(keep)
        return None

    def ddmin(self, keep: list[int]) -> list[int]:
        n = 2
        while len(keep) >= 2 and not self.out_of_time():
            size = -(-len(keep) // n)
            chunks = [keep[i:i + size] for i in range(0, len(keep), size)]
            for chunk in chunks:
                drop = set(chunk)
                rest = self.closure(i for i in keep if i not in drop)
                if len(rest) < len(keep) and self.test(rest):
                    keep, n = rest, max(n - 1, 2)
                    break
                if self.out_of_time():
                    return keep
            else:
                if n >= len(keep):
                    break
                n = min(2 * n, len(keep))
        return keep

    def one_by_one(self, keep: list[int]) -> tuple[list[int], bool]:
        """Drop single operations until none can go; False when the budget ran out first."""
        changed = True
        while changed:
            changed = False
            for i in list(keep):
                if self.out_of_time():
                    return keep, False
                rest = self.closure(j for j in keep if j != i)
                if i in rest or not rest:
                    continue  # a kept read needs it
                if self.test(rest):
                    keep, changed = rest, True
        return keep, True


def shrink(history: History, refutes: Refutes, focus: Iterable[int] = (),
           budget_s: float = 5.0,
           depends: Callable[[Sequence[Completed]], Callable[[int], list[int]]]
           = register_writes) -> Shrunk | None:
    """The smallest well-formed sub-history ``refutes`` still holds for (see the module doc);
    None when not even the whole history refutes (nothing to shrink)."""
    began = time.monotonic()
    s = Shrinker(history, refutes, budget_s, depends)
    keep = s.start(focus)
    if keep is None:
        return None
    keep = s.ddmin(keep)
    keep, minimal = s.one_by_one(keep)
    keep = s.closure(keep)
    ops = s.build(keep).ops
    return Shrunk(ops, len(keep), len(s.units), minimal, s.tries, time.monotonic() - began)
