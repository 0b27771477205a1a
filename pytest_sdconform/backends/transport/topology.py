"""One sink node (``sink.py``) that takes numbered messages over TCP and UDP on one port."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...nodes import NodeSpec
from ...nodes.readiness import TcpPort
from ...nodes.routes import via
from .. import base

PORT = 7070


def provision() -> None:
    """Nothing to install: the sink is this package's own Python."""


@dataclass(frozen=True)
class TransportInfo:
    address: str

    def endpoint(self) -> tuple[str, int]:
        return via(self.address, PORT)


@dataclass
class Topology(base.Topology[TransportInfo]):
    """A single sink; the network between the harness and it is what a case breaks."""

    backend: ClassVar[str] = "transport"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)

    def describe(self) -> dict[str, Any]:
        return {"sink": "sdconform transport sink (TCP and UDP, one port)",
                "kernel": platform.release()}

    def provision(self) -> None:
        provision()

    def node_names(self, runtime: str) -> list[str]:
        return ["n1"]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        address = start.addresses["n1"]
        argv = [sys.executable, "-m", "pytest_sdconform.backends.transport.sink",
                "--bind", address, "--port", str(PORT)]
        package = Path(__file__).resolve().parents[3]
        return [NodeSpec("n1", address, argv, ready=TcpPort(address, PORT), ready_timeout=30,
                         image="python", ports=[PORT],
                         shared=sorted({Path(sys.base_prefix), Path(sys.prefix), package}))]

    def ready(self, start: base.Start) -> TransportInfo:
        return TransportInfo(start.addresses["n1"])
