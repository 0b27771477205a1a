"""Fresh-keys workload: every write a key of its own, reads of keys already written, and a final
read of every key written.

A key written once holds one value, so the final read of a key shows whether its one write
survived: the lost-writes checker (``fs=("write",)``) reads it as a collection of one. Keys are
spread over whatever a store partitions by, which makes this the workload of "which writes
did losing one shard take": each completion names the node that took it.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

from ..checkers import Checker
from ..checkers.durability import LostWritesChecker
from . import Invocation


@dataclass
class FreshKeys:
    name = "fresh-keys"
    prefix: str = "key:"
    read_ratio: float = 0.3
    _written: list[str] = field(default_factory=list)
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0 <= self.read_ratio < 1:
            raise ValueError(f"fresh-keys: read_ratio must be in [0, 1), not {self.read_ratio}")

    def next_op(self, rng: random.Random) -> Invocation:
        with self._lock:
            if self._written and rng.random() < self.read_ratio:
                return Invocation("read", rng.choice(self._written))
            value = next(self._values)
            key = f"{self.prefix}{value}"
            self._written.append(key)
        return Invocation("write", key, value)

    def final_ops(self) -> list[Invocation]:
        with self._lock:
            return [Invocation("read", key) for key in self._written]

    def checkers(self) -> list[Checker]:
        return [LostWritesChecker(fs=("write",))]
