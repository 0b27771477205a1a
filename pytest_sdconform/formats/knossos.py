"""Knossos EDN histories (``knossos/<model>/<good|bad>/*.edn``), read with Knossos's semantics.

Differences from our own format, and how they are carried over:
- records of non-integer processes (``:nemesis``) are skipped, as Knossos does;
- the ``:time`` field is ignored (it is not monotonic in file order); position is time;
- an ``:ok`` read whose value is ``nil`` means "value unknown" to Knossos, which is our
  ``info``: the completion becomes ``info``, so the read constrains nothing;
- Knossos's registers start at 0, so the history says ``meta["initial"] = 0``.
"""

from __future__ import annotations

from typing import Any

from ..history import History, HistoryError, Operation
from .edn import EdnError, Keyword, loads_all


def plain(x: Any) -> Any:
    """EDN values as JSON-like Python values: keywords become strings, tuples lists."""
    if isinstance(x, Keyword):
        return str(x)
    if isinstance(x, list | tuple):
        return [plain(y) for y in x]
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, frozenset):
        return sorted((plain(y) for y in x), key=repr)
    return x


def records(text: str, path: str | None) -> list[tuple[dict[Any, Any], int]]:
    """The maps of the single top-level vector or list, each with its starting line."""
    try:
        forms = loads_all(text)
    except EdnError as e:
        raise HistoryError(f"malformed EDN: {e}", path, e.line) from None
    if not forms:
        return []
    if len(forms) != 1 or not isinstance(forms[0][0], list):
        raise HistoryError("expected one top-level vector of operation maps", path, forms[0][1])
    # Lines of nested forms are not kept by the reader; find each record's line by scanning.
    starts = _map_lines(text)
    out = []
    for i, rec in enumerate(forms[0][0]):
        line = starts[i] if i < len(starts) else forms[0][1]
        if not isinstance(rec, dict):
            raise HistoryError("expected an operation map", path, line)
        out.append((rec, line))
    return out


def _map_lines(text: str) -> list[int]:
    """Line of each depth-1 ``{`` (record starts), skipping strings and comments."""
    lines: list[int] = []
    depth = 0
    line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == ";":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n":
                    line += 1
                i += 1
        elif c in "[({":
            if c == "{" and depth == 1:
                lines.append(line)
            depth += 1
        elif c in "])}":
            depth -= 1
        i += 1
    return lines


def parse(text: str, path: str | None = None) -> History:
    ops: list[Operation] = []
    lines: list[int] = []
    for rec, line in records(text, path):
        process = rec.get(Keyword("process"))
        if not isinstance(process, int) or isinstance(process, bool):
            continue
        typ, f = rec.get(Keyword("type")), rec.get(Keyword("f"))
        if typ not in ("invoke", "ok", "fail", "info") or not isinstance(f, str):
            raise HistoryError("record needs :type (:invoke/:ok/:fail/:info) and :f", path, line)
        value = plain(rec.get(Keyword("value")))
        if typ == "ok" and f == "read" and value is None:
            typ = "info"
        pos = len(ops)
        ops.append(Operation(pos, pos, process, str(typ), str(f), None, value))
        lines.append(line)
    return History(ops, path=path, lines=lines, meta={"initial": 0, "format": "knossos-edn"})


def read(path: str) -> History:
    with open(path, encoding="utf-8") as fh:
        return parse(fh.read(), path)
