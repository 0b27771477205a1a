"""The external runtime: the system under test runs somewhere else, and none of its nodes is ours.

Real AWS (its default endpoints and credential chain), or endpoints a user names. Nothing is
started and nothing can be broken from here: every fault capability is unavailable, with the
reason, so a case that needs one skips and a case that needs none runs against the real thing.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from ..faults import FaultUnavailable
from ..nodes import Node, NodePaths, NodeSpec
from ..nodes.addresses import AddressBlock
from ..runs import Run
from . import CAPABILITIES

WHY = "the external runtime has no node of ours to break"


class ExternalRuntime:
    name = "external"

    def __init__(self, run: Run):
        self.run = run
        self.nodes: dict[str, Node] = {}

    def capabilities(self) -> dict[str, str | None]:
        return dict.fromkeys(CAPABILITIES, WHY)

    def addresses(self, names: Sequence[str], block: AddressBlock) -> dict[str, str]:
        """The run's loopback block: 127.A.B.1 is the harness, nodes from .2 on."""
        return {name: block.node(i) for i, name in enumerate(names, 1)}

    def paths(self, name: str, user: str | None = None) -> NodePaths:
        raise FaultUnavailable(f"{name}: {WHY}")

    def start(self, specs: Sequence[NodeSpec], parallel: bool = True) -> list[Node]:
        if specs:
            raise ValueError(f"the external runtime starts no nodes ({specs[0].name} asked)")
        return []

    def partition(self, names: Sequence[str], shapes: Sequence[str],
                  rng: random.Random) -> Any:
        raise FaultUnavailable(f"partition: {WHY}")

    def clock_skew(self, offsets: int | Mapping[str, int], probes: Mapping[str, Any] | None,
                   nodes: Sequence[str] | None) -> Any:
        raise FaultUnavailable(f"clock skew: {WHY}")

    def toxiproxy(self, address: str) -> Any:
        raise FaultUnavailable(f"toxiproxy: {WHY}")

    def route(self, address: str, port: int) -> tuple[str, int]:
        return address, port  # endpoints the user named: reached as named

    def close(self) -> None:
        pass
