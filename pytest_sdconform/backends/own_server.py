"""Our own Python servers as nodes: ``python_node``, a node that runs a module of this package
on the harness's interpreter (in the ``python`` image, the interpreter and the package shared
with it), and ``OwnServer``, the topology of one such server on a port of its own (the SSE
server, the transport sink): nothing to install, one node ``n1`` started as
``python -m MODULE --bind ADDRESS --port PORT ...``, ready once its port answers."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..nodes import NodeSpec
from ..nodes.readiness import Readiness, TcpPort
from ..nodes.routes import via
from . import base
from .base import InfoT

# The folder that holds the ``pytest_sdconform`` package: a container mounts it to import it.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def python_node(name: str, address: str, module: str, args: Sequence[str], *,
                ready: Readiness, ready_timeout: float = 30.0,
                ports: Sequence[int] = (), skewable: bool = False,
                prefix: Sequence[str] = ()) -> NodeSpec:
    """A node running ``python -m module *args`` on this interpreter; ``skewable``: the
    clock-skew fault may move its clock (the interpreter's binary is the one skewed);
    ``prefix``: a command that runs the interpreter (``ip netns exec NS``: in a namespace)."""
    return NodeSpec(name, address, [*prefix, sys.executable, "-m", module, *args], ready=ready,
                    ready_timeout=ready_timeout, image="python", ports=list(ports),
                    shared=sorted({Path(sys.base_prefix), Path(sys.prefix), PACKAGE_ROOT}),
                    clock=str(Path(sys.executable).resolve()) if skewable else None)


@dataclass(frozen=True)
class ServerInfo:
    """Where the one server listens (``port``: the server's, set by each subclass)."""

    address: str
    port: ClassVar[int]

    def endpoint(self) -> tuple[str, int]:
        return via(self.address, self.port)


@dataclass
class OwnServer(base.Topology[InfoT]):
    """One node ``n1`` running ``module`` on ``port``; ``server_args``: its other arguments."""

    runtimes: ClassVar[tuple[str, ...]] = ("local",)
    module: ClassVar[str]
    port: ClassVar[int]

    def server_args(self, start: base.Start) -> list[str]:
        return []

    def node_names(self, runtime: str) -> list[str]:
        return ["n1"]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        address = start.addresses["n1"]
        args = ["--bind", address, "--port", str(self.port), *self.server_args(start)]
        return [python_node("n1", address, self.module, args,
                            ready=TcpPort(address, self.port), ports=[self.port])]
