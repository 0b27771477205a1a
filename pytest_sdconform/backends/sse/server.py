"""A server-sent events server of ours (standard library), run as a node.

``python -m pytest_sdconform.backends.sse.server --bind ADDR --port P --log FILE [--no-replay]``

- ``POST /publish`` (body: the message): appends it to the log (a file, flushed before the
  answer, so a killed server keeps it) as event ``id`` = its line number, answers ``{"id": n}``
  and pushes it to every open stream.
- ``GET /events``: ``text/event-stream``, first ``retry: 200`` (the client's reconnection
  delay), then ``id: n`` / ``data: message`` per event, and a comment line each idle second.
  With a ``Last-Event-ID`` header the server first replays every event after it, as the HTML
  standard's model of a server that recovers what a client missed expects; ``--no-replay``
  ignores the header (a server that only broadcasts: the header is sent, nothing acts on it).
  Every answer carries ``X-Head``: the last event id so far.
- ``GET /head``: ``{"head": n}``.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RETRY_MS = 200


class Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.cond = threading.Condition()
        self.events = path.read_text().splitlines() if path.exists() else []
        self.out = open(path, "a", encoding="utf-8")  # noqa: SIM115 (the server's lifetime)

    def append(self, message: str) -> int:
        with self.cond:
            self.out.write(message + "\n")
            self.out.flush()
            self.events.append(message)
            self.cond.notify_all()
            return len(self.events)

    def head(self) -> int:
        with self.cond:
            return len(self.events)

    def after(self, last: int, wait: float) -> list[tuple[int, str]]:
        """Events with ids above ``last`` (waiting up to ``wait`` s for one)."""
        with self.cond:
            if len(self.events) <= last:
                self.cond.wait(wait)
            return [(i + 1, m) for i, m in enumerate(self.events[last:], start=last)]


def handler(log: Log, replay: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _json(self, body: dict[str, int]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Head", str(log.head()))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            message = self.rfile.read(length).decode().strip()
            if self.path != "/publish" or not message or "\n" in message:
                self.send_error(400, "POST /publish with a one-line message")
                return
            self._json({"id": log.append(message)})

        def do_GET(self) -> None:
            if self.path == "/head":
                self._json({"head": log.head()})
                return
            if self.path != "/events":
                self.send_error(404)
                return
            head = log.head()
            asked = self.headers.get("Last-Event-ID", "")
            last = int(asked) if replay and asked.isdigit() else head
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Head", str(head))
            self.end_headers()
            try:
                self.wfile.write(f"retry: {RETRY_MS}\n\n".encode())
                self.wfile.flush()
                while True:
                    events = log.after(last, 1.0)
                    for n, message in events:
                        self.wfile.write(f"id: {n}\ndata: {message}\n\n".encode())
                        last = n
                    if not events:  # a comment line: the client's read timeout sees a live stream
                        self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except OSError:
                return  # the client went away

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--no-replay", action="store_true")
    args = ap.parse_args()
    log = Log(args.log)
    server = ThreadingHTTPServer((args.bind, args.port), handler(log, not args.no_replay))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
