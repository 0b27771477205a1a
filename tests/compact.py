"""A compact notation for small histories in tests.

Each event is ``"P TYPE F [KEY] [VALUE]"`` with VALUE as JSON, e.g.::

    history("1 invoke write x 1", "1 ok write x 1", "2 invoke read x", "2 ok read x 1")

A key of ``-`` means no key; process ``n`` is the nemesis. Time is the position.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_sdconform.history import NEMESIS, History, Operation


def event(pos: int, text: str) -> Operation:
    parts = text.split(maxsplit=4)
    process: int | str = NEMESIS if parts[0] == "n" else int(parts[0])
    typ, f = parts[1], parts[2]
    key: Any = None if len(parts) < 4 or parts[3] == "-" else parts[3]
    value = json.loads(parts[4]) if len(parts) > 4 else None
    return Operation(pos, pos, process, typ, f, key, value)


def history(*events: str, **meta: Any) -> History:
    return History([event(i, e) for i, e in enumerate(events)], meta=dict(meta))


def timed(*events: str, **meta: Any) -> History:
    """Like ``history``, with each event's time in seconds first: ``"1.5 1 ok write x 1"``.
    Events must be given in time order."""
    ops = []
    for i, text in enumerate(events):
        t, rest = text.split(maxsplit=1)
        op = event(i, rest)
        op.time = int(float(t) * 1e9)
        ops.append(op)
    return History(ops, meta=dict(meta))
