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


# Built once: json.dumps with any option builds a new encoder per call, and a history
# is written with it line by line (the recorder writes its lines with tail() below).
_encode = json.JSONEncoder(separators=(", ", ": "), default=str).encode
_encode_str = json.encoder.encode_basestring_ascii  # the C function _encode uses for a str
_HEAD = '{"index": 0, "time": 0'
_CORE = frozenset(CORE_FIELDS)
_ALWAYS = frozenset(("index", "time", "process", "type", "f"))
_READS = ("read", "poll", "dequeue")  # their value is written even when null


def dumps(op: Operation) -> str:
    return _encode(op_to_dict(op))


def _value(v: Any) -> str:
    """One JSON value as ``_encode`` writes it; the scalars a run records most, by hand."""
    c = v.__class__
    if c is str:
        return _encode_str(v)
    if c is int:
        return int.__repr__(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    return _encode(v)  # containers, floats, anything default=str turns into a string


def tail(process: int | str, type: str, f: str, key: Any = None, value: Any = None,
         node: str | None = None, error: Any = None, extra: dict[str, Any] | None = None) -> str:
    """An operation's line after its ``index`` and ``time``, newline included: the line is
    ``'{"index": %d, "time": %d' % (index, time) + tail``, the same text as ``dumps`` writes.

    The recorder encodes this part before it takes its lock, where only the index and time
    are added; written by hand, as ``json``'s encoder costs a dict and a generic walk a line.
    """
    # The usual types are tested here, not in _value: a call per field is a good part of it.
    p = int.__repr__(process) if process.__class__ is int else _value(process)
    t = _encode_str(type) if type.__class__ is str else _value(type)
    fn = _encode_str(f) if f.__class__ is str else _value(f)
    out = f', "process": {p}, "type": {t}, "f": {fn}'
    if key is not None:
        out += f', "key": {_encode_str(key) if key.__class__ is str else _value(key)}'
    valued = value is not None or f in _READS
    if valued:
        v = int.__repr__(value) if value.__class__ is int else _value(value)
        out += f', "value": {v}'
    if node is not None:
        out += f', "node": {_encode_str(node) if node.__class__ is str else _value(node)}'
    if error is not None:
        out += f', "error": {_value(error)}'
    if extra:
        for k, v in extra.items():
            if k.__class__ is not str:  # json's own rules for such keys: the reference way
                whole = dumps(Operation(0, 0, process, type, f, key, value, node, error, extra))
                return whole[len(_HEAD):] + "\n"
            if k in _CORE and (k in _ALWAYS or (valued if k == "value" else
                                                {"key": key, "node": node, "error": error}[k]
                                                is not None)):
                continue  # the operation's own field comes first (op_to_dict's setdefault)
            out += f", {_encode_str(k)}: {_value(v)}"
    return out + "}\n"


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
