"""The recorder: appends operations to history.jsonl as they happen, safe across threads.

Each line is written and flushed under a lock, so a run that is killed loses at most
the operation in flight, and file order is real-time order.
"""

from __future__ import annotations

import os
import threading
import time
from typing import IO, Any

from .formats.jsonl import dumps
from .history import History, Operation

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


class Recorder:
    """Stamps each event with an index and monotonic nanoseconds since the run began."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, fsync: bool = False):
        self._lock = threading.Lock()
        self._t0 = time.monotonic_ns()
        self._ops: list[Operation] = []
        self._fsync = fsync
        self._out: IO[str] | None = None
        self.path = None if path is None else os.fspath(path)
        if self.path is not None:
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

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
        with self._lock:
            op = Operation(
                len(self._ops), self.now(), process, type, f, key, value, node, error, extra or None
            )
            self._ops.append(op)
            if self._out is not None:
                self._out.write(dumps(op) + "\n")
                self._out.flush()
                if self._fsync:
                    os.fsync(self._out.fileno())
            return op

    def history(self) -> History:
        with self._lock:
            return History(list(self._ops), path=self.path)

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
