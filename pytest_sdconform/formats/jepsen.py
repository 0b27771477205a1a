"""Jepsen EDN histories: export ours so Knossos and Elle can re-check them, and import theirs.

An exported file starts with the comment line ``; sdconform history`` and holds one vector
of op maps with ``:index :time :type :process :f :value`` (plus ``:key``, ``:node``,
``:error`` and any workload fields). ``:type``, ``:f`` and the ``:nemesis`` process are
keywords; a transaction's micro-op names too (``[[:append "x" 1] [:r "x" [1]]]``), as Elle
expects. Unlike the Knossos reader, a ``nil`` read here is a read of nothing (null).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from ..history import NEMESIS, OP_TYPES, History, HistoryError, Operation
from .edn import Keyword, dumps
from .knossos import plain, records

HEADER = "; sdconform history"
_FIELDS = ("index", "time", "type", "process", "f", "key", "value", "node", "error")


def _edn_value(op: Operation) -> Any:
    if op.f == "txn" and isinstance(op.value, list):
        return [
            [Keyword(m[0]), *m[1:]]
            if isinstance(m, list | tuple) and m and isinstance(m[0], str)
            else m
            for m in op.value
        ]
    return op.value


def op_to_edn(op: Operation) -> str:
    d: dict[Any, Any] = {
        Keyword("index"): op.index,
        Keyword("time"): op.time,
        Keyword("type"): Keyword(op.type),
        Keyword("process"): Keyword(NEMESIS) if op.process == NEMESIS else op.process,
        Keyword("f"): Keyword(op.f),
        Keyword("value"): _edn_value(op),
    }
    for name, v in (("key", op.key), ("node", op.node), ("error", op.error)):
        if v is not None:
            d[Keyword(name)] = v
    for k, v in (op.extra or {}).items():
        d[Keyword(k)] = v
    return dumps(d)


def write(history: Iterable[Operation], out: IO[str]) -> None:
    out.write(HEADER + "\n[")
    for i, op in enumerate(history):
        out.write(("\n " if i else "") + op_to_edn(op))
    out.write("]\n")


def parse(text: str, path: str | None = None) -> History:
    ops: list[Operation] = []
    lines: list[int] = []
    for rec, line in records(text, path):
        d = {str(k): plain(v) for k, v in rec.items()}
        process = d.get("process")
        typ, f = d.get("type"), d.get("f")
        if typ not in OP_TYPES or not isinstance(f, str):
            raise HistoryError("record needs :type (:invoke/:ok/:fail/:info) and :f", path, line)
        if not isinstance(process, int | str) or isinstance(process, bool):
            raise HistoryError(
                f":process must be an integer or :nemesis, got {process!r}", path, line
            )
        time = d.get("time")
        pos = len(ops)
        extra = {k: v for k, v in d.items() if k not in _FIELDS} or None
        ops.append(
            Operation(
                pos,
                time if isinstance(time, int) and not isinstance(time, bool) else pos,
                process,
                typ,
                f,
                d.get("key"),
                d.get("value"),
                d.get("node"),
                d.get("error"),
                extra,
            )
        )
        lines.append(line)
    return History(ops, path=path, lines=lines)


def read(path: str) -> History:
    with open(path, encoding="utf-8") as fh:
        return parse(fh.read(), path)
