"""Readiness: how to tell that a node answers, and waiting for it with a deadline."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .routes import via


class NodeStartError(RuntimeError):
    """A node did not become ready; the message carries the tail of its log."""


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


@dataclass
class TcpPort:
    """Ready when a TCP connection to address:port is accepted."""

    address: str
    port: int

    def __call__(self) -> bool:
        try:
            with socket.create_connection(via(self.address, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def __str__(self) -> str:
        return f"tcp {self.address}:{self.port}"


@dataclass
class HttpGet:
    """Ready when ``GET url`` answers with a 2xx status."""

    url: str

    def __call__(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url, timeout=0.5) as r:
                return 200 <= int(r.status) < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def __str__(self) -> str:
        return f"GET {self.url}"


@dataclass
class Command:
    """Ready when a command exits 0 (e.g. ``redis-cli ping``)."""

    argv: Sequence[str]

    def __call__(self) -> bool:
        try:
            return subprocess.run(list(self.argv), capture_output=True, timeout=5).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def __str__(self) -> str:
        return " ".join(self.argv)




START_MARK = "--- sdconform: starting"  # what a runtime writes in a node's log at each start


@dataclass
class LogLine:
    """Ready when the node's log shows ``text`` after its latest start. The runtime reads the
    log where it keeps it (``Node.log``, on the harness's side), wherever the node runs."""

    text: str

    def seen_in(self, log: Path) -> bool:
        try:
            seen = log.read_text(errors="replace")
        except OSError:
            return False
        return seen.rfind(self.text) > seen.rfind(START_MARK)

    def __str__(self) -> str:
        return f"log line {self.text!r}"


# A check the harness runs (a port, an HTTP answer, a command), or a line in the node's log.
Readiness = Callable[[], bool] | LogLine


def await_ready(name: str, address: str, ready: Readiness, limit: float, log: Path,
                check: Callable[[Readiness], bool], exit_code: Callable[[], int | None]) -> None:
    """Poll ``check(ready)`` until it holds; NodeStartError with the log's tail if the node
    exits first (``exit_code`` not None) or ``limit`` seconds pass."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        code = exit_code()
        if code is not None:
            raise NodeStartError(f"{name} ({address}) exited with code {code} before it was "
                                 f"ready; last lines of {log}:\n{log_tail(log)}")
        if check(ready):
            return
        time.sleep(0.05)
    raise NodeStartError(f"{name} ({address}) not ready ({ready}) after {limit:.0f}s; "
                         f"last lines of {log}:\n{log_tail(log)}")
