"""Log workload: producers send unique messages, consumers poll them, a final drain reads the rest.

The history follows ``checkers/traffic.py``: a ``send`` carries a message unique in the run
(its ``key``, when ``keys`` is set, is the message key, so per-key FIFO is judged by key); its
ok completion carries the broker's ``{"offset": o, "partition": p}``. A ``poll``'s ok value is
a list of ``[partition, offset, message]``. The final op is one ``poll`` whose value is
``"drain"``: the client reads until it has caught up with the log (a consumer in the same
group, so what the workers' consumers already committed is not read again).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..checkers import Checker
from ..checkers.delivery import DeliveryChecker
from . import Invocation

DRAIN = "drain"


@dataclass
class Log:
    name = "log"
    poll_ratio: float = 0.3  # 0: producers only, the drain reads everything
    keys: int | None = None  # message keys k0..k{n-1}; None: no key (sticky partitioner)
    guarantees: Sequence[str] = ("at-least-once", "at-most-once")
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < self.poll_ratio:
            return Invocation("poll")
        with self._lock:
            value = next(self._values)
        key = None if self.keys is None else f"k{rng.randrange(self.keys)}"
        return Invocation("send", key, value)

    def final_ops(self) -> list[Invocation]:
        return [Invocation("poll", value=DRAIN)]

    def checkers(self) -> list[Checker]:
        return [DeliveryChecker(self.guarantees)]
