"""An origin server for the CDN cases: versioned objects over HTTP (standard library).

``python -m pytest_sdconform.backends.caching.origin --bind ADDR --port P``

- ``GET /obj/<key>``: ``{"value": v, "version": n}`` (``null``, 0 if never written), with no
  ``Cache-Control`` or ``Expires``: how long a cache keeps it is the cache's own setting
  (nginx's ``proxy_cache_valid``);
- ``PUT /obj/<key>`` (body: a JSON value): store it as the next version; answers
  ``{"version": n}``. Versions are the origin's order of updates (the source of truth's).
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def make_handler() -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()
    objects: dict[str, tuple[Any, int]] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _key(self) -> str | None:
            path = self.path.split("?", 1)[0]
            return path[5:] if path.startswith("/obj/") and len(path) > 5 else None

        def do_GET(self) -> None:
            key = self._key()
            if key is None:
                self._answer(404, {"error": "no such path"})
                return
            with lock:
                value, version = objects.get(key, (None, 0))
            self._answer(200, {"value": value, "version": version})

        def do_PUT(self) -> None:
            key = self._key()
            if key is None:
                self._answer(404, {"error": "no such path"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                value = json.loads(self.rfile.read(length) or b"null")
            except ValueError as e:
                self._answer(400, {"error": f"body is not JSON: {e}"})
                return
            with lock:
                version = objects.get(key, (None, 0))[1] + 1
                objects[key] = (value, version)
            self._answer(200, {"version": version})

    return Handler


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, default=8080)
    a = p.parse_args(argv)
    server = ThreadingHTTPServer((a.bind, a.port), make_handler())
    server.daemon_threads = True
    print(f"origin listening on {a.bind}:{a.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
