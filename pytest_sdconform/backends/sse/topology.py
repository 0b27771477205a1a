"""One SSE server node (``server.py``), its event log in the node's data folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import base
from ..own_server import OwnServer, ServerInfo

PORT = 8090


def provision() -> None:
    """Nothing to install: the server is this package's own Python."""


@dataclass(frozen=True)
class SseInfo(ServerInfo):
    port: ClassVar[int] = PORT


@dataclass
class Topology(OwnServer[SseInfo]):
    """``replay``: the server answers ``Last-Event-ID`` with the events after it (False: it
    ignores the header and only broadcasts what comes next)."""

    backend: ClassVar[str] = "sse"
    module: ClassVar[str] = "pytest_sdconform.backends.sse.server"
    port: ClassVar[int] = PORT

    replay: bool = True

    def describe(self) -> dict[str, Any]:
        return {"server": "sdconform SSE server (event log in a file)",
                "last_event_id": "replays the events after it" if self.replay else "ignored"}

    def server_args(self, start: base.Start) -> list[str]:
        log = start.paths("n1").data / "events.log"
        return ["--log", str(log), *([] if self.replay else ["--no-replay"])]

    def ready(self, start: base.Start) -> SseInfo:
        return SseInfo(start.addresses["n1"])
