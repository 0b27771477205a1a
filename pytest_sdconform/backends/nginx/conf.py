"""nginx.conf for the balancer node: everything (pid, temp paths, logs) under its own folder.

The knobs the load-balancer claims turn on are fields of ``Balancing``: the passive health check
(``max_fails``/``fail_timeout``), what is retried on the next upstream (``proxy_next_upstream``,
which leaves non-idempotent requests alone unless told ``non_idempotent``), the timeouts, and
how an upstream is chosen (round robin, ``ip_hash``, ``hash $cookie_sid consistent``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PORT = 8080


@dataclass
class Balancing:
    max_fails: int = 1
    fail_timeout: int = 2  # seconds a failed upstream is left out (whole seconds only)
    next_upstream: str = "error timeout http_502"
    next_upstream_tries: int = 2
    connect_timeout: float = 0.5
    read_timeout: float = 1.0
    max_conns: int = 0  # connections per app server at once (0: no limit): its capacity
    method: str = ""  # "" round robin | "ip_hash" | "hash $cookie_sid consistent"
    extra: str = ""  # more directives for the location (e.g. a health_check to try)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "max_fails": self.max_fails,
            "fail_timeout_s": self.fail_timeout,
            "proxy_next_upstream": self.next_upstream,
            "proxy_next_upstream_tries": self.next_upstream_tries,
            "proxy_connect_timeout_s": self.connect_timeout,
            "proxy_read_timeout_s": self.read_timeout,
            "balancing": self.method or "round-robin",
        }
        if self.max_conns:
            d["max_conns"] = self.max_conns
        if self.extra:
            d["extra"] = self.extra
        return d


def ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def render(folder: Path, address: str, upstreams: Sequence[str], b: Balancing) -> str:
    """The whole nginx.conf; ``upstreams`` are app server addresses (host:port)."""
    limit = f" max_conns={b.max_conns}" if b.max_conns else ""
    servers = "\n".join(
        f"    server {u} max_fails={b.max_fails} fail_timeout={b.fail_timeout}s{limit};"
        for u in upstreams
    )
    method = f"    {b.method};\n" if b.method else ""
    tmp = folder / "tmp"
    return f"""# written by pytest-sdconform
worker_processes 1;
daemon off;
user root;
pid {folder / "nginx.pid"};
error_log stderr notice;
events {{ worker_connections 512; }}
http {{
  log_format upstreamlog '$msec $request $status up=$upstream_addr st=$upstream_status '
                         'ct=$upstream_connect_time rt=$request_time';
  access_log {folder / "access.log"} upstreamlog;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream app {{
{method}{servers}
  }}
  server {{
    listen {address}:{PORT};
    location / {{
      proxy_pass http://app;
      proxy_bind {address};
      proxy_connect_timeout {ms(b.connect_timeout)};
      proxy_read_timeout {ms(b.read_timeout)};
      proxy_send_timeout {ms(b.read_timeout)};
      proxy_next_upstream {b.next_upstream};
      proxy_next_upstream_tries {b.next_upstream_tries};
      add_header X-Upstream-Addr $upstream_addr always;
      add_header X-Upstream-Connect $upstream_connect_time always;
      {b.extra}
    }}
  }}
}}
"""
