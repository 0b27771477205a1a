"""List-append transactions (Elle's workload): each transaction appends unique values to a few
keys and reads others, so that reads reveal the order of appends and the dependencies between
transactions. Checked by the ``txn`` checker at a chosen isolation level."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

from ..checkers import Checker
from ..checkers.txn import TxnChecker
from . import Invocation


@dataclass
class ListAppend:
    name = "list-append"
    keys: int = 4  # few keys: more conflicts, more cycles to find
    min_ops: int = 1
    max_ops: int = 4
    read_ratio: float = 0.5
    level: str = "serializable"  # what the checker holds the history to
    realtime: bool = False
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        mops: list[list[object]] = []
        for _ in range(rng.randint(self.min_ops, self.max_ops)):
            k = rng.randrange(self.keys)
            if rng.random() < self.read_ratio:
                mops.append(["r", k, None])
            else:
                with self._lock:
                    mops.append(["append", k, next(self._values)])
        return Invocation("txn", None, mops)

    def final_ops(self) -> list[Invocation]:
        return [Invocation("txn", None, [["r", k, None] for k in range(self.keys)])]

    def checkers(self) -> list[Checker]:
        return [TxnChecker(self.level, self.realtime)]
