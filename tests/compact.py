"""A compact notation for small histories in tests.

Each event is ``"P TYPE F [KEY] [VALUE]"`` with VALUE as JSON, e.g.::

    history("1 invoke write x 1", "1 ok write x 1", "2 invoke read x", "2 ok read x 1")

A key of ``-`` means no key; process ``n`` is the nemesis. Time is the position.

Suffixes after an event, in any order, put more on its operation: ``@n2`` the node that
answered, ``#final`` a final read's line (``"final": true``), and ``name=TEXT`` a field a test
registers in ``fields`` (``fields={"ts": lambda t: {"timestamp_us": int(t)}}``: what TEXT puts
in the operation's extra fields). An event may also be a pair ``(text, extra)``: those fields
put on the operation as they are. ``final_process``: every operation of that process is a final
read's line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from pytest_sdconform.history import NEMESIS, History, Operation

Event = str | tuple[str, Mapping[str, Any]]
Fields = Mapping[str, Callable[[str], dict[str, Any]]]

NODE = re.compile(r"@([\w.:-]+)")
FIELD = re.compile(r"([A-Za-z_]\w*)=(\S*)")


def suffixes(text: str, fields: Fields | None = None) -> tuple[str, str | None, dict[str, Any]]:
    """The event without its suffixes, the node it names and the fields they put on it."""
    node: str | None = None
    extra: dict[str, Any] = {}
    while True:
        head, _, last = text.rpartition(" ")
        if len(head.split()) < 3:  # process, type and f are never a suffix
            break
        if m := NODE.fullmatch(last):
            node = m.group(1)
        elif last == "#final":
            extra["final"] = True
        elif (m := FIELD.fullmatch(last)) and fields and m.group(1) in fields:
            extra.update(fields[m.group(1)](m.group(2)))
        else:
            break
        text = head
    return text, node, extra


def event(pos: int, text: Event, fields: Fields | None = None) -> Operation:
    given: Mapping[str, Any] = {}
    if not isinstance(text, str):
        text, given = text
    text, node, extra = suffixes(text, fields)
    parts = text.split(maxsplit=4)
    process: int | str = NEMESIS if parts[0] == "n" else int(parts[0])
    typ, f = parts[1], parts[2]
    key: Any = None if len(parts) < 4 or parts[3] == "-" else parts[3]
    value = json.loads(parts[4]) if len(parts) > 4 else None
    extra.update(given)
    return Operation(pos, pos, process, typ, f, key, value, node=node, extra=extra or None)


def history(*events: Event, fields: Fields | None = None, final_process: int | None = None,
            **meta: Any) -> History:
    ops = [event(i, e, fields) for i, e in enumerate(events)]
    _mark_finals(ops, final_process)
    return History(ops, meta=dict(meta))


def timed(*events: Event, fields: Fields | None = None, final_process: int | None = None,
          **meta: Any) -> History:
    """Like ``history``, with each event's time in seconds first: ``"1.5 1 ok write x 1"``.
    Events must be given in time order."""
    ops = []
    for i, e in enumerate(events):
        text, given = (e, None) if isinstance(e, str) else e
        t, rest = text.split(maxsplit=1)
        op = event(i, rest if given is None else (rest, given), fields)
        op.time = int(float(t) * 1e9)
        ops.append(op)
    _mark_finals(ops, final_process)
    return History(ops, meta=dict(meta))


def _mark_finals(ops: list[Operation], process: int | None) -> None:
    for op in ops:
        if process is not None and op.process == process:
            op.extra = {**(op.extra or {}), "final": True}
