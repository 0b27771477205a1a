"""A CDN edge: nginx ``proxy_cache`` in front of an origin (``origin.py``), and its client.

``CdnTopology(valid_s=1, use_stale="")``: node ``origin`` (versioned objects) and node ``edge``
(Debian's nginx, its cache, temp paths and logs under its conf folder). The edge caches every
200 answer for ``proxy_cache_valid 200 {valid_s}s`` (the origin sends no caching headers, so
that is the TTL), says what it did in ``X-Cache`` (``$upstream_cache_status``: HIT, MISS,
EXPIRED, STALE...) and, with ``use_stale`` (e.g. ``"error timeout"``), serves an expired
entry when the origin fails (``proxy_cache_use_stale``).

nginx's cache clock counts whole seconds: an entry's ``valid_sec`` is ``ngx_time() + valid``
and it expires once ``valid_sec < ngx_time()``, so it lives up to ``valid`` plus one second;
``EXPIRY_GRANULARITY_S`` is that second, for the staleness bound.

``CdnClient``: ``write`` PUTs the new version to the origin (updates go to the origin, not the
CDN); ``read`` GETs through the edge and records ``source`` (the ``X-Cache`` value) and, for
a fetch from the origin (MISS, EXPIRED), ``fill_s``: the request's duration, within which the
edge read the origin and stored the answer.
"""

from __future__ import annotations

import http.client
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...nodes import NodeSpec
from ...nodes.readiness import TcpPort
from ...nodes.routes import via
from ...provision import apt_install
from ...workloads import Invocation, Result
from .. import base
from ..nginx.topology import CONF, nginx_test
from ..own_server import python_node

PORT = 8080
EXPIRY_GRANULARITY_S = 1.0
FETCHED = ("MISS", "EXPIRED")


def render(folder: Path, address: str, origin: str, valid_s: int, use_stale: str,
           read_timeout_s: float) -> str:
    stale = f"      proxy_cache_use_stale {use_stale};\n" if use_stale else ""
    ms = round(read_timeout_s * 1000)
    return f"""# written by pytest-sdconform (caching: CDN edge)
worker_processes 1;
daemon off;
user root;
pid {folder / "nginx.pid"};
error_log stderr notice;
events {{ worker_connections 512; }}
http {{
  access_log {folder / "access.log"};
  client_body_temp_path {folder}/tmp/body;
  proxy_temp_path {folder}/tmp/proxy;
  fastcgi_temp_path {folder}/tmp/fastcgi;
  uwsgi_temp_path {folder}/tmp/uwsgi;
  scgi_temp_path {folder}/tmp/scgi;
  proxy_cache_path {folder}/cache levels=1 keys_zone=edge:1m max_size=16m inactive=1h;
  server {{
    listen {address}:{PORT};
    location / {{
      proxy_pass http://{origin};
      proxy_bind {address};
      proxy_cache edge;
      proxy_cache_valid 200 {valid_s}s;
      proxy_connect_timeout {ms}ms;
      proxy_read_timeout {ms}ms;
{stale}      add_header X-Cache $upstream_cache_status always;
    }}
  }}
}}
"""


@dataclass(frozen=True)
class CdnInfo:
    addresses: dict[str, str]  # origin, edge
    valid_s: int
    use_stale: str

    @property
    def edge(self) -> tuple[str, int]:
        return via(self.addresses["edge"], PORT)

    @property
    def origin(self) -> tuple[str, int]:
        return via(self.addresses["origin"], PORT)


@dataclass
class CdnTopology(base.Topology[CdnInfo]):
    backend: ClassVar[str] = "caching"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)

    valid_s: int = 1
    use_stale: str = ""
    read_timeout_s: float = 0.5

    def __post_init__(self) -> None:
        if self.valid_s < 1:
            raise ValueError(f"cdn: proxy_cache_valid counts whole seconds >= 1, not "
                             f"{self.valid_s}")

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"edge": "nginx proxy_cache", "proxy_cache_valid_s": self.valid_s,
                             "proxy_read_timeout_s": self.read_timeout_s}
        if self.use_stale:
            d["proxy_cache_use_stale"] = self.use_stale
        return d

    def provision(self) -> None:
        apt_install(["nginx-light"], ["nginx"])

    def node_names(self, runtime: str) -> list[str]:
        return ["origin", "edge"]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        a = start.addresses
        origin = python_node("origin", a["origin"], "pytest_sdconform.backends.caching.origin",
                             ["--bind", a["origin"], "--port", str(PORT)],
                             ready=TcpPort(a["origin"], PORT))
        folder = start.paths("edge").conf
        conf = render(folder, a["edge"], f"{a['origin']}:{PORT}", self.valid_s,
                      self.use_stale, self.read_timeout_s)
        edge = NodeSpec("edge", a["edge"],
                        ["nginx", "-c", str(folder / CONF), "-p", str(folder), "-e", "stderr"],
                        ready=TcpPort(a["edge"], PORT), ready_timeout=30,
                        stop_signal=signal.SIGQUIT, files={CONF: conf},
                        setup=[["mkdir", "-p", str(folder / "tmp"), str(folder / "cache")],
                               nginx_test(folder)], image="nginx")
        return [origin, edge]

    def ready(self, start: base.Start) -> CdnInfo:
        return CdnInfo(dict(start.addresses), self.valid_s, self.use_stale)


class CdnClient:
    def __init__(self, info: CdnInfo, timeout: float = 2.0):
        self.info, self.timeout = info, timeout

    def _call(self, where: tuple[str, int], method: str, path: str,
              body: Any = None) -> tuple[int, Any, str]:
        conn = http.client.HTTPConnection(*where, timeout=self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None, resp.getheader("X-Cache") or ""
        finally:
            conn.close()

    def invoke(self, op: Invocation) -> Result:
        path = f"/obj/{op.key}"
        began = time.monotonic()
        try:
            if op.f == "write":
                status, body, _ = self._call(self.info.origin, "PUT", path, op.value)
                if status != 200:
                    return Result("info", error=f"origin answered {status}: {body}")
                return Result("ok", extra={"version": body["version"]})
            if op.f == "read":
                status, body, cache = self._call(self.info.edge, "GET", path)
                if status != 200:
                    return Result("fail", error=f"edge answered {status} (X-Cache {cache})")
                extra: dict[str, Any] = {"source": cache or "-",
                                         "version_read": body["version"]}
                if cache in FETCHED:
                    extra["fill_s"] = round(time.monotonic() - began, 6)
                return Result("ok", body["value"], extra=extra)
        except (OSError, http.client.HTTPException, ValueError) as e:
            refused = isinstance(e, ConnectionRefusedError)
            return Result("fail" if op.f == "read" or refused else "info",
                          error=f"{type(e).__name__}: {e}"[:200])
        raise ValueError(f"cdn client: unknown operation {op.f!r}")

    def close(self) -> None:
        pass
