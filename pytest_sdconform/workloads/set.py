"""Set workload: unique elements added to a few sets, then one final read of each.

Checked for lost acknowledged writes (and the RPO): every acknowledged add must be in the final
read of its set.
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
class SetAdd:
    name = "set"
    keys: int = 1
    prefix: str = "set:"
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        with self._lock:
            value = next(self._values)
        return Invocation("add", f"{self.prefix}{rng.randrange(self.keys)}", value)

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", f"{self.prefix}{i}") for i in range(self.keys)]

    def checkers(self) -> list[Checker]:
        return [LostWritesChecker()]
