"""Readers for the two history formats in Porcupine's test data.

``etcd`` — Jepsen etcd console logs (``INFO jepsen.util - P :type :f ARG``). A ``:fail :cas``
is a CAS that completed and reported compare-failed (the etcd-cas-register model uses that);
``:info ... :timed-out`` and ``:fail :read :timed-out`` have unknown outcomes, so both become
``info`` completions.

``kv`` — one Jepsen op map per line with ``:get``/``:put``/``:append`` on string keys; these
become ``read``/``write``/``append``. A key never written reads ``""``, so the history says
``meta["initial"] = ""``.
"""

from __future__ import annotations

import re
from typing import Any

from ..history import History, HistoryError, Operation

_ETCD = re.compile(r"INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(\w+)\s+:(\w+)\s+(.*?)\s*$")
_PAIR = re.compile(r"\[\s*(-?\d+)\s+(-?\d+)\s*\]")
_KV = re.compile(
    r'\{:process (\d+), :type :(\w+), :f :(\w+), :key "([^"]*)", :value (nil|"[^"]*")\}\s*$'
)
_KV_F = {"get": "read", "put": "write", "append": "append"}


def _etcd_arg(arg: str) -> Any:
    if arg == "nil":
        return None
    if re.fullmatch(r"-?\d+", arg):
        return int(arg)
    m = _PAIR.fullmatch(arg)
    if m:
        return [int(m.group(1)), int(m.group(2))]
    if arg == ":timed-out":
        return None
    raise ValueError(f"unexpected argument {arg!r}")


def parse_etcd(text: str, path: str | None = None) -> History:
    ops: list[Operation] = []
    lines: list[int] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _ETCD.match(line)
        if m is None:
            raise HistoryError("not a Jepsen etcd log line", path, lineno)
        process, typ, f, arg = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        try:
            value = _etcd_arg(arg)
        except ValueError as e:
            raise HistoryError(str(e), path, lineno) from None
        if arg == ":timed-out":
            typ = "info"
        if typ not in ("invoke", "ok", "fail", "info") or f not in ("read", "write", "cas"):
            raise HistoryError(f"unexpected :{typ} :{f}", path, lineno)
        pos = len(ops)
        ops.append(Operation(pos, pos, process, typ, f, None, value))
        lines.append(lineno)
    return History(ops, path=path, lines=lines, meta={"format": "porcupine-etcd"})


def parse_kv(text: str, path: str | None = None) -> History:
    ops: list[Operation] = []
    lines: list[int] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _KV.match(line)
        if m is None or m.group(3) not in _KV_F or m.group(2) not in ("invoke", "ok"):
            raise HistoryError("not a Porcupine kv op map", path, lineno)
        raw = m.group(5)
        pos = len(ops)
        value = None if raw == "nil" else raw[1:-1]
        ops.append(
            Operation(pos, pos, int(m.group(1)), m.group(2), _KV_F[m.group(3)], m.group(4), value)
        )
        lines.append(lineno)
    return History(ops, path=path, lines=lines, meta={"initial": "", "format": "porcupine-kv"})
