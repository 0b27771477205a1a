"""Runtimes: where a backend's nodes run, and which faults can reach them there.

``Runtime`` is what a backend may ask of wherever its nodes run: start nodes from specs, the
paths and address of each node, files in and out, its log, and the faults the place can
carry. ``local`` (``local.py``) runs each node as a process on its own loopback address;
``external`` (``external.py``) has no nodes of ours: the system is somewhere else (real AWS, or
endpoints a user names). ``choice.py`` opens the runtime a session asks for.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..nodes import Node, NodePaths, NodeSpec
from ..nodes.addresses import AddressBlock

# The fault capabilities a runtime may offer (``Runtime.capabilities``). ``proxied-link``: a
# link between two nodes through the harness's toxiproxy (nodes reach the harness's address).
CAPABILITIES = ("kill", "pause", "partition", "latency", "clock", "power-loss", "proxied-link")


class RuntimeUnsupported(RuntimeError):
    """A backend cannot run on the runtime a session chose; the message says why."""


class Runtime(Protocol):
    """Where nodes run. ``capabilities`` maps each of CAPABILITIES to None (offered) or the
    reason it is not; the fault constructors raise ``FaultUnavailable`` with that reason."""

    name: str

    @property
    def nodes(self) -> Mapping[str, Node]: ...

    def capabilities(self) -> dict[str, str | None]: ...

    def addresses(self, names: Sequence[str], block: AddressBlock) -> dict[str, str]: ...

    def paths(self, name: str, user: str | None = None) -> NodePaths: ...

    def start(self, specs: Sequence[NodeSpec], parallel: bool = True) -> Sequence[Node]: ...

    def partition(self, names: Sequence[str], shapes: Sequence[str],
                  rng: random.Random) -> Any: ...

    def clock_skew(self, offsets: int | Mapping[str, int], probes: Mapping[str, Any] | None,
                   nodes: Sequence[str] | None) -> Any: ...

    def toxiproxy(self, address: str) -> Any: ...

    def route(self, address: str, port: int) -> tuple[str, int]:
        """Where the harness connects to reach a node's port (``nodes/routes.py``): the
        address itself where nodes are routed to the harness."""
        ...

    def close(self) -> None: ...


__all__ = ["CAPABILITIES", "Node", "NodePaths", "NodeSpec", "Runtime", "RuntimeUnsupported"]
