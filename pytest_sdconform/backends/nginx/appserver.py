"""The application tier: a small HTTP server (standard library) behind nginx.

``python -m pytest_sdconform.backends.nginx.appserver --bind ADDR --port P --name a1 --store S``

- ``GET /kv/<key>``: ``{"value": v}`` (``null`` if never written); ``GET /kv/<key>?log=1``:
  ``{"log": [...]}``, what POSTs appended.
- ``PUT /kv/<key>`` (body: a JSON value): set it. Idempotent.
- ``POST /kv/<key>`` (body: a JSON value): append it to the key's log. Not idempotent: each
  application appends once more, so a duplicate shows in the log.

``--store redis://host:port`` keeps everything in Redis (a stateless app tier); ``--store
memory`` keeps it in this process (sessions on the server: lost when it dies). Every answer
carries ``X-Upstream: <name>``. A Redis connection that was refused answers 503 (not applied);
any other Redis error 500 (maybe applied).
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class MemoryStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, Any] = {}
        self.logs: dict[str, list[Any]] = {}

    def get(self, key: str) -> Any:
        with self.lock:
            return self.values.get(key)

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            self.values[key] = value

    def append(self, key: str, value: Any) -> int:
        with self.lock:
            log = self.logs.setdefault(key, [])
            log.append(value)
            return len(log)

    def log(self, key: str) -> list[Any]:
        with self.lock:
            return list(self.logs.get(key, []))


class RedisStore:
    def __init__(self, host: str, port: int) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retries: the app tier reports what happened, it does not ride out outages.
        self.r = redis.Redis(
            host, port, socket_timeout=2, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )

    def get(self, key: str) -> Any:
        raw = self.r.get(f"kv:{key}")
        return None if raw is None else json.loads(raw)

    def put(self, key: str, value: Any) -> None:
        self.r.set(f"kv:{key}", json.dumps(value))

    def append(self, key: str, value: Any) -> int:
        return int(self.r.rpush(f"log:{key}", json.dumps(value)))

    def log(self, key: str) -> list[Any]:
        return [json.loads(x) for x in self.r.lrange(f"log:{key}", 0, -1)]


def make_handler(name: str, store: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # nginx keeps the access log

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Upstream", name)
            self.end_headers()
            self.wfile.write(data)

        def _key(self) -> tuple[str | None, dict[str, list[str]]]:
            url = urlsplit(self.path)
            if not url.path.startswith("/kv/") or len(url.path) <= 4:
                return None, {}
            return url.path[4:], parse_qs(url.query)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def _serve(self, method: str) -> None:
            key, query = self._key()
            if key is None:
                self._answer(404, {"error": "no such path"})
                return
            try:
                if method == "GET" and query.get("log"):
                    self._answer(200, {"log": store.log(key)})
                elif method == "GET":
                    self._answer(200, {"value": store.get(key)})
                elif method == "PUT":
                    store.put(key, self._body())
                    self._answer(200, {"ok": True})
                else:
                    self._answer(200, {"length": store.append(key, self._body())})
            except Exception as e:  # the store's answer decides the status, see the docstring
                refused = "refused" in str(e).lower()
                self._answer(503 if refused else 500, {"error": f"{type(e).__name__}: {e}"})

        def do_GET(self) -> None:
            self._serve("GET")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--name", required=True)
    p.add_argument("--store", default="memory", help="memory | redis://host:port")
    a = p.parse_args(argv)
    if a.store.startswith("redis://"):
        host, _, port = a.store[len("redis://") :].partition(":")
        store: Any = RedisStore(host, int(port or 6379))
    else:
        store = MemoryStore()
    server = ThreadingHTTPServer((a.bind, a.port), make_handler(a.name, store))
    server.daemon_threads = True
    print(f"appserver {a.name} listening on {a.bind}:{a.port} store={a.store}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
