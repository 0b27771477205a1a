"""One sink node (``sink.py``) that takes numbered messages over TCP and UDP on one port."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import base
from ..own_server import OwnServer, ServerInfo

PORT = 7070


def provision() -> None:
    """Nothing to install: the sink is this package's own Python."""


@dataclass(frozen=True)
class TransportInfo(ServerInfo):
    port: ClassVar[int] = PORT


@dataclass
class Topology(OwnServer[TransportInfo]):
    """A single sink; the network between the harness and it is what a case breaks."""

    backend: ClassVar[str] = "transport"
    module: ClassVar[str] = "pytest_sdconform.backends.transport.sink"
    port: ClassVar[int] = PORT

    def describe(self) -> dict[str, Any]:
        return {"sink": "sdconform transport sink (TCP and UDP, one port)",
                "kernel": platform.release()}

    def ready(self, start: base.Start) -> TransportInfo:
        return TransportInfo(start.addresses["n1"])
