"""One case's timeline as plain data: operations by client lane, fault windows, anomaly rows.

A lane is a client thread. After an ``info`` a thread goes on under a fresh process id, so a
process whose last operation ended ``info`` hands its lane to the next new process that starts
after it (the most recently freed lane first); without this, a run with many timeouts would
draw hundreds of lanes that each hold one operation.

Times are seconds since the run started (the history's nanoseconds / 1e9). A big history is
capped: every operation an anomaly names is kept, then up to half of the remaining budget goes to
``fail`` and ``info`` operations (rare and telling), and the rest to an even sample of ``ok`` ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..history import Completed, History, Operation

NS_PER_S = 1e9
NS_PER_MS = 1e6
MAX_OPS = 5000
VALUE_CHARS = 120
TYPE_CODES = {"ok": 0, "fail": 1, "info": 2}


def show(value: Any, limit: int = VALUE_CHARS) -> str:
    """A JSON value as short text for a table cell or tooltip (escaping is the template's job)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


READS = frozenset(("read", "poll", "dequeue"))


def result_text(c: Completed, limit: int = VALUE_CHARS) -> str:
    """What an operation wrote or read; a read that returned nothing shows ``null``."""
    if c.value is None and c.type == "ok" and c.f in READS:
        return "null"
    return show(c.value, limit)


def seconds(ns: int | None) -> float | None:
    return None if ns is None else round(ns / NS_PER_S, 6)


@dataclass
class OpRow:
    """One operation as a table row: invocation and completion indices, who, what, and when."""

    index: str
    process: str
    type: str
    f: str
    key: str
    value: str
    node: str
    invoked_s: float | None
    completed_s: float | None
    error: str = ""


@dataclass
class Timeline:
    """What the page draws for one case; ``ops`` rows are compact lists for the JSON blob:
    ``[lane, start_s, completion_s|None, type_code, f_code, is_anomaly, latency_ms|None, label]``.
    """

    start_s: float
    end_s: float
    lanes: list[str]
    lane_processes: list[str]
    fs: list[str]
    ops: list[list[Any]]
    windows: list[dict[str, Any]]
    total: int

    @property
    def drawn(self) -> int:
        return len(self.ops)

    @property
    def capped(self) -> bool:
        return self.drawn < self.total

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start_s,
            "end": self.end_s,
            "lanes": self.lanes,
            "laneProcesses": self.lane_processes,
            "fs": self.fs,
            "ops": self.ops,
            "windows": self.windows,
        }


def process_name(process: int | str) -> str:
    return f"p{process}" if isinstance(process, int) else str(process)


def assign_lanes(completed: Sequence[Completed]) -> tuple[dict[int | str, int], list[list[str]]]:
    """Each process's lane, and the processes of each lane in order (see the module docstring)."""
    last: dict[int | str, Completed] = {}
    for c in completed:
        last[c.process] = c
    lane_of: dict[int | str, int] = {}
    lanes: list[list[int | str]] = []
    free: list[tuple[int, int]] = []  # (time the lane's process retired, lane)
    for c in completed:  # in invocation order, so a process is met first at its first invocation
        if c.process in lane_of:
            continue
        ready = [f for f in free if f[0] <= c.start]
        if ready:
            chosen = max(ready)
            free.remove(chosen)
            lane = chosen[1]
        else:
            lane = len(lanes)
            lanes.append([])
        lane_of[c.process] = lane
        lanes[lane].append(c.process)
        end = last[c.process]
        if end.completion is not None and end.completion.type == "info":
            free.append((end.completion.time, lane))
    # Lanes in the order of their first process, as a reader would look for them.
    order = sorted(range(len(lanes)), key=lambda n: process_order(lanes[n][0]))
    renumber = {old: new for new, old in enumerate(order)}
    return (
        {p: renumber[n] for p, n in lane_of.items()},
        [[process_name(p) for p in lanes[n]] for n in order],
    )


def process_order(process: int | str) -> tuple[int, int, str]:
    return (0, process, "") if isinstance(process, int) else (1, 0, str(process))


def evenly(items: Sequence[int], n: int) -> list[int]:
    """``n`` items spread evenly over ``items`` (all of them when there are no more than ``n``)."""
    if n <= 0:
        return []
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(j * step)] for j in range(n)]


def sample(completed: Sequence[Completed], keep: set[int], cap: int) -> list[int]:
    """Positions in ``completed`` to draw: ``keep``, then fail/info, then ok, up to ``cap``."""
    if len(completed) <= cap:
        return list(range(len(completed)))
    chosen = set(keep)
    budget = max(0, cap - len(chosen))
    unusual = [i for i, c in enumerate(completed) if c.type != "ok" and i not in chosen]
    picked = evenly(unusual, budget // 2)
    chosen.update(picked)
    ok = [i for i, c in enumerate(completed) if c.type == "ok" and i not in chosen]
    chosen.update(evenly(ok, budget - len(picked)))
    return sorted(chosen)


def positions_by_index(completed: Sequence[Completed]) -> dict[int, int]:
    """History index (of an invocation or a completion line) -> position in ``completed``."""
    where: dict[int, int] = {}
    for pos, c in enumerate(completed):
        for index in c.indices:
            where[index] = pos
    return where


def op_label(c: Completed) -> str:
    parts = [f"process {c.process}", c.f]
    if c.key is not None:
        parts.append(f"key {show(c.key, 40)}")
    value = result_text(c, 80)
    if value:
        parts.append(value)
    outcome = c.type
    if c.latency is not None and c.type != "info":
        outcome += f" after {c.latency / NS_PER_MS:.1f} ms"
    if c.is_final:
        outcome += " (final read)"
    return f"{' '.join(parts)} → {outcome}"


def fault_windows(history: History, end_ns: int) -> list[dict[str, Any]]:
    return [
        {
            "fault": w.fault,
            "start": seconds(w.start),
            "end": seconds(w.end if w.end is not None else end_ns),
            "healed": w.end is not None,
            "detail": show(w.value, 80),
        }
        for w in history.fault_windows()
    ]


def build_timeline(
    history: History, completed: Sequence[Completed], anomaly_ops: Iterable[int], cap: int = MAX_OPS
) -> Timeline:
    """The drawable timeline of a history, capped at ``cap`` client operations."""
    times = [op.time for op in history.ops]
    start_ns, end_ns = (min(times), max(times)) if times else (0, 0)
    where = positions_by_index(completed)
    keep = {where[i] for i in anomaly_ops if i in where}
    lane_of, lanes = assign_lanes(completed)
    fs = sorted({c.f for c in completed})
    f_of = {f: n for n, f in enumerate(fs)}
    rows: list[list[Any]] = []
    for pos in sample(completed, keep, cap):
        c = completed[pos]
        latency = c.latency if c.type == "ok" else None
        rows.append(
            [
                lane_of[c.process],
                seconds(c.start),
                seconds(c.completion.time if c.completion is not None else None),
                TYPE_CODES.get(c.type, 2),
                f_of[c.f],
                1 if pos in keep else 0,
                None if latency is None else round(latency / NS_PER_MS, 3),
                op_label(c),
            ]
        )
    return Timeline(
        start_s=seconds(start_ns) or 0.0,
        end_s=seconds(end_ns) or 0.0,
        lanes=[names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1}" for names in lanes],
        lane_processes=[" → ".join(names) for names in lanes],
        fs=fs,
        ops=rows,
        windows=fault_windows(history, end_ns),
        total=len(completed),
    )


def op_rows(
    history: History, completed: Sequence[Completed], indices: Iterable[int]
) -> list[OpRow]:
    """Table rows for the operations an anomaly names, one per operation, in history order.

    An index may name an invocation or a completion line; either way the row shows the whole
    operation (the written value is on the invocation, the read value on the completion).
    A nemesis line, or an index the history does not have, gets a row of its own.
    """
    where = positions_by_index(completed)
    rows: dict[tuple[str, int], OpRow] = {}
    for i in sorted(set(indices)):
        if i in where:
            rows.setdefault(("op", where[i]), completed_row(completed[where[i]]))
        elif 0 <= i < len(history.ops):
            rows.setdefault(("line", i), line_row(history.ops[i]))
        else:
            rows.setdefault(
                ("missing", i), OpRow(str(i), "", "", "", "", "not in the history", "", None, None)
            )
    return list(rows.values())


def completed_row(c: Completed) -> OpRow:
    index = str(c.invoke.index)
    if c.completion is not None:
        index += f" → {c.completion.index}"
    error = c.completion.error if c.completion is not None else None
    return OpRow(
        index=index,
        process=str(c.process),
        type=c.type + (" (no completion)" if c.completion is None else ""),
        f=c.f,
        key=show(c.key),
        value=result_text(c),
        node=show((c.completion or c.invoke).node or c.invoke.node),
        invoked_s=seconds(c.start),
        completed_s=seconds(c.completion.time if c.completion is not None else None),
        error=show(error),
    )


def line_row(op: Operation) -> OpRow:
    return OpRow(
        index=str(op.index),
        process=str(op.process),
        type=op.type,
        f=op.f,
        key=show(op.key),
        value=show(op.value),
        node=show(op.node),
        invoked_s=seconds(op.time),
        completed_s=None,
        error=show(op.error),
    )
