"""Toxiproxy: a small client for its HTTP API (v2.12), and the pinned server run as a local node.

The client is our own, on urllib, rather than PyPI's ``toxiproxy-python`` 0.1.1 (2019). That
package does speak v2.12's wire format, but it keeps the server's host and port in class
attributes shared by the whole process, sets no HTTP timeouts (a hung server would hang the
nemesis), returns 5xx answers as if they were successes, reports a duplicate toxic as
``ProxyExists``, and needs ``requests`` plus the Python 2 shim ``future``. The API is small:
proxies (name, listen, upstream, enabled) and their toxics (type, stream, toxicity, attributes).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..nodes import Node, NodeSpec
from ..nodes.addresses import free_port
from ..nodes.readiness import HttpGet
from ..nodes.routes import via
from ..provision import ProvisionError, toxiproxy_server
from ..runs import process_start_time
from . import FaultUnavailable

STREAMS = ("upstream", "downstream")  # upstream: client -> server; downstream: server -> client


class ToxiproxyError(RuntimeError):
    """The API refused a request (``status`` is the HTTP status; 0 if it could not be reached)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"toxiproxy: {message} (HTTP {status})" if status else message)
        self.status = status


@dataclass(frozen=True)
class Proxy:
    """A listener that forwards each TCP connection to ``upstream`` through its toxics."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Proxy:
        return cls(d["name"], d["listen"], d["upstream"], bool(d.get("enabled", True)))


@dataclass(frozen=True)
class Toxic:
    """One toxic; ``toxicity`` is the chance that a new connection gets it (drawn per link)."""

    type: str
    attributes: dict[str, int] = field(default_factory=dict)
    stream: str = "downstream"
    toxicity: float = 1.0
    name: str = ""  # the server names it "<type>_<stream>" when empty

    def to_json(self) -> dict[str, Any]:
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, not {self.stream!r}")
        d: dict[str, Any] = {
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": self.attributes,
        }
        if self.name:
            d["name"] = self.name
        return d


class ToxiproxyClient:
    """Calls on one server's API; every call has a timeout and raises ``ToxiproxyError``."""

    def __init__(self, url: str, timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            # The API answers 403 to any user agent starting with "Mozilla/" (no browsers).
            headers={"Content-Type": "application/json", "User-Agent": "sdconform"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                message = json.loads(text).get("error", text)
            except ValueError:
                message = text.strip()
            raise ToxiproxyError(e.code, f"{method} {path}: {message}") from e
        except (urllib.error.URLError, OSError) as e:
            raise ToxiproxyError(0, f"toxiproxy at {self.url} unreachable: {e}") from e
        return json.loads(raw) if raw.strip() else None

    def version(self) -> str:
        version: str = self._call("GET", "/version")["version"]
        return version

    def proxies(self) -> dict[str, Proxy]:
        return {n: Proxy.from_json(p) for n, p in self._call("GET", "/proxies").items()}

    def proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._call("GET", f"/proxies/{name}"))

    def create_proxy(self, name: str, upstream: str, listen: str) -> Proxy:
        """Create a proxy; a listen port of 0 lets the server pick one (the answer says which)."""
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": True}
        return Proxy.from_json(self._call("POST", "/proxies", body))

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """A disabled proxy closes its listener and drops its connections."""
        return Proxy.from_json(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def delete_proxy(self, name: str, missing_ok: bool = True) -> bool:
        return self._delete(f"/proxies/{name}", missing_ok)

    def toxics(self, proxy: str) -> list[Toxic]:
        return [
            Toxic(
                t["type"],
                dict(t.get("attributes") or {}),
                t["stream"],
                float(t["toxicity"]),
                t["name"],
            )
            for t in self._call("GET", f"/proxies/{proxy}/toxics")
        ]

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        """Add a toxic: it applies to the proxy's open connections and to new ones."""
        t = self._call("POST", f"/proxies/{proxy}/toxics", toxic.to_json())
        return Toxic(t["type"], dict(t["attributes"]), t["stream"], float(t["toxicity"]), t["name"])

    def remove_toxic(self, proxy: str, name: str, missing_ok: bool = True) -> bool:
        """Remove a toxic; False if it was not there (healing twice is not an error)."""
        return self._delete(f"/proxies/{proxy}/toxics/{name}", missing_ok)

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    def _delete(self, path: str, missing_ok: bool) -> bool:
        try:
            self._call("DELETE", path)
        except ToxiproxyError as e:
            if e.status == 404 and missing_ok:
                return False
            raise
        return True


class Starter(Protocol):
    """What starts the server as a node of the run (a runtime)."""

    def start(self, specs: Sequence[NodeSpec], parallel: bool = True) -> Sequence[Node]: ...


class ToxiproxyServer:
    """The pinned toxiproxy server as a node of a run: its API and proxies on ``address``."""

    def __init__(self, runtime: Starter, address: str, name: str = "toxiproxy"):
        self.runtime = runtime
        self.address = address
        self.name = name
        self.port = 0
        self.node: Node | None = None
        self.started_in: float | None = None  # seconds from launch to a ready API

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def client(self) -> ToxiproxyClient:
        if self.node is None:
            raise RuntimeError("the toxiproxy server is not started")
        return ToxiproxyClient(self.url)

    def start(self) -> ToxiproxyClient:
        """Build the binary if needed (first use only), start it and wait for its API."""
        try:
            binary = toxiproxy_server()
        except ProvisionError as e:
            raise FaultUnavailable(f"toxiproxy: {e}") from e
        self.port = free_port(self.address)
        spec = NodeSpec(
            self.name,
            self.address,
            [str(binary), "-host", self.address, "-port", str(self.port)],
            ready=HttpGet(f"{self.url}/version"),
            ready_timeout=30,
            # Its default level logs every connection's links at trace level: the log would
            # grow with the traffic.
            env={"LOG_LEVEL": "info"},
        )
        began = time.monotonic()
        (self.node,) = self.runtime.start([spec])
        self.started_in = time.monotonic() - began
        return self.client

    def proxy(self, name: str, upstream: str) -> Proxy:
        """A proxy to ``upstream`` (a node's ``address:port``, reached as the harness reaches
        it: ``nodes/routes.py``) listening on the server's address, on a port it picks."""
        address, _, port = upstream.rpartition(":")
        if address and port.isdigit():
            upstream = "{}:{}".format(*via(address, int(port)))
        return self.client.create_proxy(name, upstream, f"{self.address}:0")

    def stop(self) -> None:
        """Stop the server (its proxies go with it) and check that nothing of it is left."""
        if self.node is None:
            return
        pid = self.node.pid
        self.node.stop()
        if pid is not None and process_start_time(pid) is not None:
            raise RuntimeError(f"toxiproxy (pid {pid}) is still there after stop")
        if HttpGet(f"{self.url}/version")():
            raise RuntimeError(f"something still answers on {self.url} after stop")
