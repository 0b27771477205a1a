"""Register workload: reads, writes and compare-and-sets on a few keys, every written value unique.

Unique values let the checkers tell which write a read saw. Checked for linearizability
(cas-register model) and, per process, the session guarantees.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

from ..checkers import Checker
from ..checkers.linearizable import LinearizabilityChecker
from ..checkers.sessions import SessionsChecker
from . import Invocation


@dataclass
class Register:
    name = "register"
    keys: int = 3
    prefix: str = "k"  # tests that share a cluster use a prefix of their own
    read_ratio: float = 0.5
    cas_ratio: float = 0.0
    time_limit: float | None = 60.0
    memory_limit: int | None = None  # bytes for the linearizability search; None: half of free
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, rng: random.Random) -> str:
        return f"{self.prefix}{rng.randrange(self.keys)}"

    def next_op(self, rng: random.Random) -> Invocation:
        r = rng.random()
        if r < self.read_ratio:
            return Invocation("read", self.key(rng))
        with self._lock:
            value = next(self._values)
        if r < self.read_ratio + self.cas_ratio:
            return Invocation("cas", self.key(rng), [rng.randrange(value), value])
        return Invocation("write", self.key(rng), value)

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", f"{self.prefix}{i}") for i in range(self.keys)]

    def checkers(self) -> list[Checker]:
        return [
            LinearizabilityChecker("cas-register", self.time_limit, self.memory_limit),
            SessionsChecker(),
        ]
