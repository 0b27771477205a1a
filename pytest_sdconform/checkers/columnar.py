"""A history's operations paired in columns, for the fast paths of checkers on large histories.

``History.complete`` makes a ``Completed`` object per operation; on a million-line history that
alone is a fifth of a checker's time. ``paired`` pairs the same way (a completion belongs to the
open invocation of its process) into two parallel lists, invocations and their completions
(``None``: never completed), in invocation order as ``complete`` has them, and builds nothing
else. It gives up (``None``) on anything irregular, so that the checker's reference path, built
on ``complete``, raises its ``HistoryError`` with the file and line.

The fast paths (``sessions_fast.py``, ``lost_writes_fast.py``, ``delivery_fast.py``) decide a
history that shows nothing to report, with the reference path's details; once they meet an
anomaly they hand the history to the reference path, which words it. Their tests check that both
paths agree, on valid and on violating histories.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..history import NEMESIS, FaultWindow, History, Operation


@dataclass(slots=True)
class Columns:
    """Invocations and their completions, position by position, in invocation order."""

    invokes: list[Operation]
    completions: list[Operation | None]
    increasing: bool  # whether operation indices increase in file order
    nemesis: list[Operation]  # the nemesis's events, in order (``History.fault_windows``)


def paired(history: History) -> Columns | None:
    """The history's client operations paired in columns, or ``None`` when a completion has no
    invocation or a process invokes while its previous operation is open."""
    open_: dict[int | str, int] = {}
    nemesis: list[Operation] = []
    invokes: list[Operation] = []
    completions: list[Operation | None] = []
    add_invoke, add_completion = invokes.append, completions.append
    pop = open_.pop
    last, increasing = -1, True
    for op in history.ops:
        i = op.index
        if i <= last:
            increasing = False
        last = i
        p = op.process
        if op.type == "invoke":
            if p == NEMESIS:
                nemesis.append(op)
                continue
            if p in open_:
                return None
            open_[p] = len(invokes)
            add_invoke(op)
            add_completion(None)
        elif p != NEMESIS:
            at = pop(p, None)
            if at is None:
                return None
            completions[at] = op
        else:
            nemesis.append(op)
    return Columns(invokes, completions, increasing, nemesis)


def fault_windows(cols: Columns) -> list[FaultWindow]:
    """``History.fault_windows`` from the nemesis's events alone."""
    return History(cols.nemesis).fault_windows()
