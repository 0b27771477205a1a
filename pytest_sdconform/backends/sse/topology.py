"""One SSE server node (``server.py``), its event log in the node's data folder."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...nodes import NodeSpec
from ...nodes.readiness import TcpPort
from ...nodes.routes import via
from .. import base

PORT = 8090


def provision() -> None:
    """Nothing to install: the server is this package's own Python."""


@dataclass(frozen=True)
class SseInfo:
    address: str

    def endpoint(self) -> tuple[str, int]:
        return via(self.address, PORT)


@dataclass
class Topology(base.Topology[SseInfo]):
    """``replay``: the server answers ``Last-Event-ID`` with the events after it (False: it
    ignores the header and only broadcasts what comes next)."""

    backend: ClassVar[str] = "sse"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)

    replay: bool = True

    def describe(self) -> dict[str, Any]:
        return {"server": "sdconform SSE server (event log in a file)",
                "last_event_id": "replays the events after it" if self.replay else "ignored"}

    def provision(self) -> None:
        provision()

    def node_names(self, runtime: str) -> list[str]:
        return ["n1"]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        address = start.addresses["n1"]
        log = start.paths("n1").data / "events.log"
        argv = [sys.executable, "-m", "pytest_sdconform.backends.sse.server", "--bind", address,
                "--port", str(PORT), "--log", str(log), *([] if self.replay else ["--no-replay"])]
        package = Path(__file__).resolve().parents[3]
        return [NodeSpec("n1", address, argv, ready=TcpPort(address, PORT), ready_timeout=30,
                         image="python", ports=[PORT],
                         shared=sorted({Path(sys.base_prefix), Path(sys.prefix), package}))]

    def ready(self, start: base.Start) -> SseInfo:
        return SseInfo(start.addresses["n1"])
