"""A sink for numbered messages over TCP and UDP, run as a node (standard library only).

``python -m pytest_sdconform.backends.transport.sink --bind ADDR --port P``

- TCP: a connection's first line is ``S <stream>``, then one message per line; the sink keeps
  each line in arrival order and, at the sender's end of stream, closes its own side, so a
  sender that waits for that close knows every byte it wrote was read.
- TCP: a connection whose first line is ``R`` gets the report, one JSON line: ``{"received":
  [[stream, position, message], ...], "open": n}``, once the sending connections are all
  closed (or after ``--report-wait`` seconds, with ``open`` saying how many were not).
- UDP, same port: each datagram is ``<stream> <message>``, kept in arrival order.
"""

from __future__ import annotations

import argparse
import json
import socket
import socketserver
import threading
import time
from typing import Any


class Sink:
    def __init__(self, report_wait: float) -> None:
        self.lock = threading.Lock()
        self.received: list[list[Any]] = []
        self.positions: dict[str, int] = {}
        self.open = 0
        self.report_wait = report_wait

    def keep(self, stream: str, message: str) -> None:
        with self.lock:
            pos = self.positions.get(stream, 0)
            self.positions[stream] = pos + 1
            self.received.append([stream, pos, int(message) if message.isdigit() else message])

    def report(self) -> bytes:
        deadline = time.monotonic() + self.report_wait
        while time.monotonic() < deadline:
            with self.lock:
                if self.open == 0:
                    break
            time.sleep(0.05)
        with self.lock:
            return (json.dumps({"received": self.received, "open": self.open}) + "\n").encode()


def serve(bind: str, port: int, report_wait: float) -> None:
    sink = Sink(report_wait)

    class Stream(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            first = self.rfile.readline().decode().strip()
            if first == "R":
                self.wfile.write(sink.report())
                return
            if not first.startswith("S "):
                return
            stream = first[2:]
            with sink.lock:
                sink.open += 1
            try:
                for line in self.rfile:
                    sink.keep(stream, line.decode().strip())
                self.connection.shutdown(socket.SHUT_WR)  # end of stream read: say so
            finally:
                with sink.lock:
                    sink.open -= 1

    class Datagram(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            stream, _, message = self.request[0].decode().partition(" ")
            sink.keep(stream, message.strip())

    class Tcp(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    tcp = Tcp((bind, port), Stream)
    udp = socketserver.UDPServer((bind, port), Datagram)
    udp.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    tcp.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--report-wait", type=float, default=20.0)
    args = ap.parse_args()
    serve(args.bind, args.port, args.report_wait)


if __name__ == "__main__":
    main()
