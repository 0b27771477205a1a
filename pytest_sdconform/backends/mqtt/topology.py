"""A mosquitto broker (Debian's) and one subscriber process (``subscriber.py``).

The broker keeps its state on disk as mosquitto does: ``persistence true`` writes the whole
in-memory database every ``autosave_interval`` seconds and at a clean shutdown, never per
message (mosquitto.conf(5)); a SIGKILL loses what came since the last save. Queues are
unbounded (``max_queued_messages 0``) so nothing is dropped for want of room, and QoS 0
messages are not queued for an offline client (mosquitto's default).
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...nodes import NodeSpec
from ...nodes.readiness import LogLine, TcpPort
from ...nodes.routes import via
from ...provision import apt_install
from .. import base
from ..own_server import python_node

PORT = 1883
TOPIC = "sdconform/events"
USER = "mosquitto"
SUBSCRIBE_TIMEOUT_S = 30.0


def provision() -> None:
    apt_install(["mosquitto"], ["mosquitto"])


_versions: dict[str, str] = {}


def broker_version() -> str | None:
    """``mosquitto -h``'s first line: ``mosquitto version 2.0.11``; None where unreadable."""
    if "mosquitto" not in _versions:
        try:
            out = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        found = re.search(r"mosquitto version (\d[\w.-]*)", out)
        if found is None:
            return None
        _versions["mosquitto"] = found.group(1)
    return _versions["mosquitto"]


def broker_conf(address: str, data: Path, autosave_s: int) -> str:
    return "\n".join([
        f"listener {PORT} {address}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {data}/",
        f"autosave_interval {autosave_s}",
        "max_queued_messages 0",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "",
    ])


@dataclass(frozen=True)
class MqttInfo:
    broker: str  # the broker's address
    qos: int
    received: Path  # the subscriber's file of received messages
    topic: str = TOPIC

    def endpoint(self) -> tuple[str, int]:
        return via(self.broker, PORT)


@dataclass
class Topology(base.Topology[MqttInfo]):
    """Broker ``b1`` and subscriber ``sub`` (QoS ``qos``, a persistent session);
    ``autosave_s``: mosquitto's ``autosave_interval`` (its default: 1800 s). Ready once
    the broker granted the subscriber its subscription."""

    backend: ClassVar[str] = "mqtt"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)

    qos: int = 1
    autosave_s: int = 1800
    work_ms: float = 0.0  # the subscriber application's time on each message

    def __post_init__(self) -> None:
        if self.qos not in (0, 1, 2):
            raise ValueError(f"mqtt: QoS is 0, 1 or 2, not {self.qos}")
        if self.autosave_s < 1:
            raise ValueError(f"mqtt: autosave_interval must be at least 1 s, not {self.autosave_s}")

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"qos": self.qos, "autosave_interval_s": self.autosave_s,
                             "session": "persistent (clean_session=False)",
                             "client": "paho-mqtt", "subscriber_work_ms": self.work_ms}
        if version := broker_version():
            d["version"] = version
        return d

    def provision(self) -> None:
        provision()

    def node_names(self, runtime: str) -> list[str]:
        return ["b1", "sub"]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        broker, sub = start.addresses["b1"], start.addresses["sub"]
        paths = start.paths("b1", USER)
        host, port = start.route(broker, PORT)
        args = ["--host", host, "--port", str(port), "--client-id", "sdconform-sub",
                "--topic", TOPIC, "--qos", str(self.qos),
                "--out", str(start.paths("sub").data / "received.txt"),
                "--work-ms", str(self.work_ms)]
        return [
            NodeSpec("b1", broker, ["mosquitto", "-c", str(paths.conf / "mosquitto.conf")],
                     user=USER,
                     ready=TcpPort(broker, PORT), ready_timeout=30, image="mosquitto",
                     ports=[PORT],
                     files={"mosquitto.conf": broker_conf(broker, paths.data, self.autosave_s)}),
            python_node("sub", sub, "pytest_sdconform.backends.mqtt.subscriber", args,
                        ready=LogLine("started")),
        ]

    def ready(self, start: base.Start) -> MqttInfo:
        received = start.paths("sub").data / "received.txt"
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
        while not (received.exists() and "#subscribed" in received.read_text()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"mqtt: the subscriber was not granted its subscription "
                                   f"within {SUBSCRIBE_TIMEOUT_S:.0f} s (see its node.log)")
            time.sleep(0.05)
        return MqttInfo(start.addresses["b1"], self.qos, received)
