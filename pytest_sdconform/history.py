"""Operations and histories: the record of what every client and the nemesis saw.

A history is a list of events in real-time order. Each client operation is an
invocation followed (later, by the same process) by a completion: ``ok`` (it
happened), ``fail`` (it definitely did not happen) or ``info`` (unknown: it may
take effect at any point after its invocation, or never). An invocation with no
completion at the end of the history counts as ``info``. Operation A precedes B
in real time only if A's completion comes before B's invocation in the list.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: frozenset[str] = frozenset(("invoke", "ok", "fail", "info"))
NEMESIS = "nemesis"


class HistoryError(ValueError):
    """Bad input: names the file (when known) and the line of the offending record."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.describe())

    def describe(self) -> str:
        if self.path is None and self.line is None:
            return self.message
        where = self.path or "<history>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


_SCALARS = frozenset((str, int, float, bool, type(None)))


def freeze(x: Any) -> Any:
    """A hashable copy of a JSON value: lists become tuples, objects sorted item tuples."""
    if x.__class__ in _SCALARS:  # the common case first: checkers call this per operation
        return x
    if isinstance(x, list | tuple):
        return tuple(freeze(y) for y in x)
    if isinstance(x, dict):
        return tuple(sorted((k, freeze(v)) for k, v in x.items()))
    return x


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a large history is paired or indexed.

    The collector periodically walks every tracked object, the whole history included; on a
    million operations that nearly doubles a checker's time. Nothing built here forms a
    reference cycle, so reference counting frees it all the same.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(slots=True)
class Operation:
    """One event: an invocation or a completion of an operation by one process."""

    index: int
    time: int
    process: int | str
    type: str
    f: str
    key: Any = None
    value: Any = None
    node: str | None = None
    error: Any = None
    extra: dict[str, Any] | None = None  # fields a workload adds: "version", "final", ...

    @property
    def is_client(self) -> bool:
        return self.process != NEMESIS

    def get(self, name: str, default: Any = None) -> Any:
        """A workload-specific field (``version``, ``final``, ``status``...)."""
        return default if self.extra is None else self.extra.get(name, default)


@dataclass(slots=True)
class Completed:
    """An invocation paired with its completion (``None``: never completed, treat as info)."""

    invoke: Operation
    completion: Operation | None

    @property
    def type(self) -> str:
        return "info" if self.completion is None else self.completion.type

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def key(self) -> Any:
        return self.invoke.key

    @property
    def process(self) -> int | str:
        return self.invoke.process

    @property
    def value(self) -> Any:
        """The completion's value when there is one (a read's result), else the invocation's."""
        if self.completion is not None and self.completion.type == "ok":
            return self.completion.value
        return self.invoke.value

    @property
    def start(self) -> int:
        return self.invoke.time

    @property
    def end(self) -> int | None:
        """Completion time; ``None`` for an operation whose outcome is unknown."""
        c = self.completion
        return None if c is None or c.type == "info" else c.time

    @property
    def latency(self) -> int | None:
        c = self.completion
        return None if c is None else c.time - self.invoke.time

    @property
    def is_final(self) -> bool:
        """A read run after heal and settle (the runner marks both of its lines ``final``)."""
        c = self.completion
        return bool(self.invoke.get("final") or (c is not None and c.get("final")))

    @property
    def indices(self) -> list[int]:
        return [self.invoke.index] + ([self.completion.index] if self.completion else [])


@dataclass(slots=True)
class FaultWindow:
    """A fault's active span, from its ``<fault>-start`` to its ``<fault>-stop`` (or the end)."""

    fault: str
    start: int
    end: int | None
    start_index: int
    end_index: int | None
    value: Any = None
    invoked: int | None = None  # when the fault began to act, before it was proven

    @property
    def onset(self) -> int:
        """The earliest moment the fault may have been felt (its invocation, or its start)."""
        return self.start if self.invoked is None else self.invoked

    def covers(self, t: int) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass
class History:
    """Operations in real-time order, plus where they came from."""

    ops: list[Operation] = field(default_factory=list)
    path: str | None = None
    lines: list[int] | None = None  # source line of each op, for error messages
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"initial": 0} from a format

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.ops)

    def __getitem__(self, i: int) -> Operation:
        return self.ops[i]

    def line_of(self, position: int) -> int | None:
        if self.lines is not None and position < len(self.lines):
            return self.lines[position]
        return None

    def error(self, message: str, position: int | None = None) -> HistoryError:
        line = None if position is None else self.line_of(position)
        if line is None and position is not None and self.path is None:
            message = f"{message} (operation {position})"
        return HistoryError(message, self.path, line)

    def client_ops(self) -> list[Operation]:
        return [op for op in self.ops if op.process != NEMESIS]

    def nemesis_ops(self) -> list[Operation]:
        return [op for op in self.ops if op.process == NEMESIS]

    def complete(self) -> list[Completed]:
        """Pair every client invocation with its completion, in invocation order.

        A completion belongs to the most recent unmatched invocation of its process.
        Raises HistoryError for a completion without an invocation, or a second
        invocation by a process that still has one outstanding.
        """
        with paused_gc():
            return self._complete()

    def _complete(self) -> list[Completed]:
        open_: dict[int | str, Completed] = {}
        out: list[Completed] = []
        append, pop = out.append, open_.pop
        for pos, op in enumerate(self.ops):
            p = op.process
            if p == NEMESIS:
                continue
            if op.type == "invoke":
                if p in open_:
                    raise self.error(
                        f"process {p} invokes {op.f} while its previous operation is still open",
                        pos,
                    )
                c = open_[p] = Completed(op, None)
                append(c)
            else:
                c2 = pop(p, None)
                if c2 is None:
                    raise self.error(
                        f"{op.type} completion of {op.f} by process {p} has no invocation", pos
                    )
                c2.completion = op
        return out

    def by_process(self) -> dict[int | str, list[Completed]]:
        """Each process's operations in its own (program) order."""
        views: dict[int | str, list[Completed]] = {}
        for c in self.complete():
            views.setdefault(c.process, []).append(c)
        return views

    def fault_windows(self) -> list[FaultWindow]:
        """Spans of nemesis faults: ``x-start`` (its completion: the fault proven in effect)
        opens fault ``x``, the next ``x-stop`` closes it. ``invoked`` is when the fault began
        to act (its ``x-start`` invocation, when recorded): clients may see a fault that takes
        a while to prove (a container's kill) before it is proven."""
        windows: list[FaultWindow] = []
        open_: dict[str, FaultWindow] = {}
        invoked: dict[str, int] = {}
        for op in self.ops:
            if op.process != NEMESIS:
                continue
            if op.f.endswith("-start"):
                name = op.f[: -len("-start")]
                if op.type == "invoke":
                    invoked.setdefault(name, op.time)
                elif name not in open_:
                    w = FaultWindow(name, op.time, None, op.index, None, op.value,
                                    invoked.pop(name, None))
                    open_[name] = w
                    windows.append(w)
            elif op.f.endswith("-stop"):
                name = op.f[: -len("-stop")]
                w2 = open_.pop(name, None)
                if w2 is not None:
                    w2.end, w2.end_index = op.time, op.index
        return windows


def in_windows(windows: Sequence[FaultWindow], start: int, end: int | None) -> bool:
    """Whether the span [start, end] overlaps any fault window (end None: open to the end)."""
    for w in windows:
        if (w.end is None or start < w.end) and (end is None or end >= w.start):
            return True
    return False


def window_lookup(windows: Sequence[FaultWindow]) -> Any:
    """A fast predicate t -> bool over merged windows, for checkers on large histories."""
    spans: list[tuple[int, float]] = []
    for w in sorted(windows, key=lambda w: w.start):
        end = float("inf") if w.end is None else w.end
        if spans and w.start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((w.start, end))
    starts = [s for s, _ in spans]

    def active(t: int) -> bool:
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and t < spans[i][1]

    return active


def renumber(ops: Iterable[Operation]) -> list[Operation]:
    """Set each operation's index to its position."""
    out = list(ops)
    for i, op in enumerate(out):
        op.index = i
    return out
