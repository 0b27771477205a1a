"""The recorder: appends operations to history.jsonl as they happen, safe across threads.

Each line is written to the file (one ``write`` system call, no buffer of ours) before
``record`` returns, under a lock, so a run that is killed loses at most the operation in
flight, and file order is real-time order. The lock is held briefly: the line is encoded
before it, only the index and time are added under it. (A write that kept the GIL, through
ctypes, was slower on a loaded machine: a thread preempted in it stops every other.) The
recorder also keeps running counts (``counts()``), so that the progress line and the early
stop need not walk the history.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from .formats.jsonl import tail
from .history import NEMESIS, History, Operation

_monotonic_ns = time.monotonic_ns
_write = os.write

CORE_FIELDS = frozenset({"index", "time", "process", "type", "f", "key", "value", "node",
                         "error"})


def client_fields(f: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A client's own fields for an operation's line, refused (ValueError) where one would
    take the place of the history's own (``type``, ``value``...)."""
    clash = CORE_FIELDS & fields.keys()
    if clash:
        raise ValueError(f"the {f} client's result field(s) {', '.join(sorted(clash))} clash "
                         "with the history's own: name them otherwise")
    return fields


@dataclass(frozen=True)
class Counts:
    """What a recorder has recorded so far, counted as it records."""

    ops: int = 0  # every line, the nemesis's included
    invocations: int = 0  # client invocations
    ok: int = 0  # client completions, by type
    fail: int = 0
    info: int = 0
    faults_started: int = 0  # nemesis ``<fault>-start`` completions: faults proven on


class Recorder:
    """Stamps each event with an index and monotonic nanoseconds since the run began."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, fsync: bool = False):
        self._lock = threading.Lock()
        self._t0 = time.monotonic_ns()
        self._ops: list[Operation] = []
        self._client = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}
        self._faults_started = 0
        self._fsync = fsync
        self._fd: int | None = None
        self.path = None if path is None else os.fspath(path)
        if self.path is not None:
            # Unbuffered: a line is in the kernel's hands once write returns (as the
            # flush per line did), whatever becomes of this process afterwards.
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)

    def now(self) -> int:
        return time.monotonic_ns() - self._t0

    def record(
        self,
        process: int | str,
        type: str,
        f: str,
        key: Any = None,
        value: Any = None,
        node: str | None = None,
        error: Any = None,
        **extra: Any,
    ) -> Operation:
        more = extra or None
        # Encoded before the lock (a value json cannot write raises here, nothing recorded).
        rest = None if self._fd is None else tail(process, type, f, key, value, node, error, more)
        with self._lock:
            index = len(self._ops)
            t = _monotonic_ns() - self._t0
            op = Operation(index, t, process, type, f, key, value, node, error, more)
            fd = self._fd
            if rest is not None and fd is not None:  # (closed meanwhile: kept in memory only)
                line = f'{{"index": {index}, "time": {t}{rest}'.encode()
                n = _write(fd, line)
                if n < len(line) or self._fsync:
                    self._finish(fd, line[n:])
            self._ops.append(op)
            if process != NEMESIS:
                counts = self._client
                counts[type] = counts.get(type, 0) + 1
            elif type != "invoke" and f.endswith("-start"):
                self._faults_started += 1
            return op

    def _finish(self, fd: int, rest: bytes) -> None:
        while rest:  # a regular file takes a line at once, short of a full disk
            rest = rest[_write(fd, rest):]
        if self._fsync:
            os.fsync(fd)

    def counts(self) -> Counts:
        with self._lock:
            c = self._client
            return Counts(len(self._ops), c["invoke"], c["ok"], c["fail"], c["info"],
                          self._faults_started)

    def history(self) -> History:
        with self._lock:
            return History(list(self._ops), path=self.path)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
