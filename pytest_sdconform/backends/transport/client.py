"""Senders of numbered messages to the sink: over one TCP connection, or as UDP datagrams.

Both acknowledge a ``send`` as the socket API does: ``ok`` once the kernel took the bytes
(``sendall``, ``sendto``), nothing more. Whether they arrived is what the sink's report (the
final ``poll``, value ``"drain"``) says. The TCP sender's ``close`` ends its stream and waits
for the sink to close its side: every byte written was then read (or the wait says not).
"""

from __future__ import annotations

import itertools
import json
import socket
import threading

from ...workloads import Invocation, Result

_streams = itertools.count(1)
_lock = threading.Lock()
CLOSE_WAIT_S = 30.0  # retransmissions after a lossy spell back off to seconds


def _stream(prefix: str) -> str:
    with _lock:
        return f"{prefix}-{next(_streams)}"


def drain(endpoint: tuple[str, int], timeout: float) -> Result:
    """The sink's report: every message it kept, and how many TCP streams were still open."""
    try:
        with socket.create_connection(endpoint, timeout=timeout) as sock:
            sock.sendall(b"R\n")
            data = sock.makefile("rb").readline()
    except OSError as e:
        return Result("fail", error=f"report: {e}")
    report = json.loads(data)
    return Result("ok", report["received"], extra={"open_streams": report["open"]})


class TcpSender:
    """One TCP connection, one stream; a ``send`` writes the message as a line."""

    transport = "tcp"

    def __init__(self, endpoint: tuple[str, int], timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.stream = _stream("tcp")
        self.sock: socket.socket | None = None

    def invoke(self, op: Invocation) -> Result:
        if op.f == "poll":
            return drain(self.endpoint, self.timeout)
        if self.sock is None:
            try:
                self.sock = socket.create_connection(self.endpoint, timeout=self.timeout)
                self.sock.sendall(f"S {self.stream}\n".encode())
            except OSError as e:
                self.sock = None
                return Result("fail", error=f"connect: {e}")
        try:
            self.sock.sendall(f"{op.value}\n".encode())
        except OSError as e:  # some of the line may have gone out
            return Result("info", error=str(e), extra={"stream": self.stream})
        return Result("ok", extra={"stream": self.stream})

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(CLOSE_WAIT_S)
            while sock.recv(4096):
                pass
        finally:
            sock.close()


class UdpSender:
    """A ``send`` is one datagram ``<stream> <message>``."""

    transport = "udp"

    def __init__(self, endpoint: tuple[str, int], timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.stream = _stream("udp")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def invoke(self, op: Invocation) -> Result:
        if op.f == "poll":
            return drain(self.endpoint, self.timeout)
        try:
            self.sock.sendto(f"{self.stream} {op.value}".encode(), self.endpoint)
        except OSError as e:  # the kernel refused it (an ICMP error of an earlier datagram)
            return Result("fail", error=str(e), extra={"stream": self.stream})
        return Result("ok", extra={"stream": self.stream})

    def close(self) -> None:
        self.sock.close()
