"""The project's own history format: JSON Lines, one operation per line (see DESIGN.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from ..history import NEMESIS, OP_TYPES, History, HistoryError, Operation

CORE_FIELDS = ("index", "time", "process", "type", "f", "key", "value", "node", "error")


def op_to_dict(op: Operation) -> dict[str, Any]:
    d: dict[str, Any] = {
        "index": op.index,
        "time": op.time,
        "process": op.process,
        "type": op.type,
        "f": op.f,
    }
    if op.key is not None:
        d["key"] = op.key
    if op.value is not None or op.f in ("read", "poll", "dequeue"):
        d["value"] = op.value
    if op.node is not None:
        d["node"] = op.node
    if op.error is not None:
        d["error"] = op.error
    if op.extra:
        for k, v in op.extra.items():
            d.setdefault(k, v)
    return d


# Built once: json.dumps with any option builds a new encoder per call, and the recorder
# calls this for every line of a run.
_encode = json.JSONEncoder(separators=(", ", ": "), default=str).encode


def dumps(op: Operation) -> str:
    return _encode(op_to_dict(op))


def op_from_dict(d: Any, position: int) -> Operation:
    """Build an Operation from one decoded line; raises ValueError naming the bad field."""
    if not isinstance(d, dict):
        raise ValueError("expected a JSON object")
    typ = d.get("type")
    if typ not in OP_TYPES:
        raise ValueError(f"'type' must be one of invoke, ok, fail, info; got {typ!r}")
    f = d.get("f")
    if not isinstance(f, str) or not f:
        raise ValueError(f"'f' must be a non-empty string; got {f!r}")
    process = d.get("process")
    if isinstance(process, bool) or not isinstance(process, int | str):
        raise ValueError(f"'process' must be an integer or \"{NEMESIS}\"; got {process!r}")
    time = d.get("time", position)
    if isinstance(time, bool) or not isinstance(time, int):
        raise ValueError(f"'time' must be integer nanoseconds; got {time!r}")
    extra = {k: v for k, v in d.items() if k not in CORE_FIELDS} or None
    return Operation(
        index=position,
        time=time,
        process=process,
        type=typ,
        f=f,
        key=d.get("key"),
        value=d.get("value"),
        node=d.get("node"),
        error=d.get("error"),
        extra=extra,
    )


def parse(lines: Iterable[str], path: str | None = None) -> History:
    ops: list[Operation] = []
    line_numbers: list[int] = []
    loads = json.loads
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = loads(line)
            op = op_from_dict(d, len(ops))
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
            raise HistoryError(f"malformed operation: {msg}", path, lineno) from None
        ops.append(op)
        line_numbers.append(lineno)
    return History(ops, path=path, lines=line_numbers)


def read(path: str) -> History:
    with open(path, encoding="utf-8") as fh:
        return parse(fh, path)


def write(history: History | Iterable[Operation], out: IO[str]) -> None:
    for op in history:
        out.write(dumps(op))
        out.write("\n")
