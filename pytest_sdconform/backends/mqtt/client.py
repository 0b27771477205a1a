"""The publishers (paho-mqtt, in the harness) and the reader of what the subscriber received.

``MqttClient``: a ``send`` publishes the message at the case's QoS and waits for the broker's
acknowledgement (QoS 1: PUBACK; QoS 2: PUBCOMP; QoS 0: the bytes handed to the socket, all
QoS 0 ever has): ``ok``; not connected: ``fail`` (nothing is handed to paho, which would
queue it); no acknowledgement in time: ``info``. A ``poll`` takes the lines the subscriber
wrote since the last poll (``["sub", line, message]``) and how many times it has connected so
far (``connects``); the final one (``"drain"``) first waits until the file stopped growing
for ``DRAIN_IDLE_S`` (a subscriber still catching up after ``drain_limit`` s: ``fail``, so
no message is called lost before it could arrive).
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

from ...workloads import Invocation, Result
from .topology import MqttInfo

DRAIN_IDLE_S = 2.0
_ids = itertools.count(1)


class Received:
    """The subscriber's file, read once by whichever worker polls (shared by all of them)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.offset = 0
        self.line = 0
        self.connects = 0  # the subscriber's connections so far (its ``#connect`` lines)

    def take(self) -> list[list[Any]]:
        with self.lock:
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(self.offset)
                    data = fh.read()
            except FileNotFoundError:
                return []
            end = data.rfind(b"\n") + 1  # a line being written is read next time
            self.offset += end
            out = []
            for raw in data[:end].decode().splitlines():
                if raw.startswith("#"):
                    self.connects += raw.startswith("#connect")
                    continue
                message = raw.split(" ")[0]
                out.append(["sub", self.line, int(message) if message.isdigit() else message])
                self.line += 1
            return out

    def drain(self, limit: float) -> list[list[Any]] | None:
        """Everything not yet taken, once the file stopped growing for ``DRAIN_IDLE_S``;
        None when it was still growing after ``limit`` s (the subscriber is catching up)."""
        deadline = time.monotonic() + limit
        size, since = -1, time.monotonic()
        while time.monotonic() - since < DRAIN_IDLE_S:
            if time.monotonic() > deadline:
                return None
            now = self.path.stat().st_size if self.path.exists() else 0
            if now != size:
                size, since = now, time.monotonic()
            time.sleep(0.1)
        return self.take()


class MqttClient:
    def __init__(self, info: MqttInfo, received: Received, timeout: float = 2.0,
                 drain_limit: float = 20.0) -> None:
        import paho.mqtt.client as mqtt

        self.mqtt = mqtt
        self.info = info
        self.received = received
        self.timeout = timeout
        self.drain_limit = drain_limit  # the case's op_timeout must be longer
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"sdconform-pub-{next(_ids)}", protocol=mqtt.MQTTv311)
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async(*info.endpoint(), keepalive=5)
        self.client.loop_start()

    def invoke(self, op: Invocation) -> Result:
        if op.f == "poll":
            if op.value != "drain":
                return Result("ok", self.received.take(),
                              extra={"connects": self.received.connects})
            got = self.received.drain(self.drain_limit)
            if got is None:  # no drain: what was not received yet cannot be called lost
                return Result("fail", error=f"the subscriber was still receiving after "
                                            f"{self.drain_limit:.0f} s")
            return Result("ok", got, extra={"connects": self.received.connects})
        if not self.client.is_connected():
            return Result("fail", error="not connected")
        sent = self.client.publish(self.info.topic, str(op.value), qos=self.info.qos)
        if sent.rc != self.mqtt.MQTT_ERR_SUCCESS:  # paho may still hold it and send it later
            return Result("info", error=self.mqtt.error_string(sent.rc))
        try:
            sent.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as e:
            return Result("info", error=str(e))
        if not sent.is_published():
            return Result("info", error="no acknowledgement in time")
        return Result("ok")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
