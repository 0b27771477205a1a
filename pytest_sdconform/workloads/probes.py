"""The probes workload: the same few requests, picked at random. For claims about what a
service accepts and refuses (settings, bounds, API contracts) rather than about data: a judge
reads the answers each request got."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..checkers import Checker
from . import Invocation


@dataclass
class Probes:
    ops: Sequence[Invocation]
    name = "probes"

    def next_op(self, rng: random.Random) -> Invocation:
        return rng.choice(list(self.ops))

    def final_ops(self) -> list[Invocation]:
        return []

    def checkers(self) -> list[Checker]:
        return []
