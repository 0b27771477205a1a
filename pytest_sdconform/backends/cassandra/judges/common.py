"""What the Cassandra judges share: the operations that write (``WRITES``), whether an operation
ran wholly inside a fault window (``inside``: invoked after it opened, answered before it
closed), the writes acknowledged within a window (``acked_in``), and the final reads answered
by one node (``final_reads_from``), whose copy a durability or hinted-handoff claim judges,
and why a judge of a step after a fault (a repair, a purge) was not exercised (``unexercised``).
"""

from __future__ import annotations

from collections.abc import Sequence, Sized

from ....checkers.judge import Exercise, client_ops, windows_of
from ....history import Completed, FaultWindow, History

WRITES = ("write", "cas")


def inside(c: Completed, w: FaultWindow) -> bool:
    """Invoked after the window opened and answered (any type) before it closed."""
    done = c.completion
    return (w.start <= c.invoke.time and done is not None
            and (w.end is None or done.time < w.end))


def acked_in(history: History, w: FaultWindow, fs: Sequence[str]) -> list[Completed]:
    """Operations ``fs`` invoked and acknowledged (ok) while the window was open."""
    return [c for c in client_ops(history) if c.f in fs and c.type == "ok" and inside(c, w)]


def final_reads_from(history: History, node: str) -> list[Completed]:
    """Successful final reads answered by ``node``."""
    return [c for c in history.complete() if c.is_final and c.type == "ok"
            and c.completion is not None and c.completion.node == node]


def unexercised(history: History, fault: str | None, found: Sized, none_found: str,
                step_done: bool, step_undone: str) -> Exercise | None:
    """Why a judge of what a step after the ``fault`` (a repair, a tombstone purge) left was
    not exercised: no window of the fault, nothing ``found`` to judge (``none_found`` says
    what), or the step not completed (``step_undone``); None when none of these holds."""
    if not windows_of(history, fault):
        return Exercise(False, f"no {fault or 'fault'} window in the history")
    if not found:
        return Exercise(False, none_found)
    if not step_done:
        return Exercise(False, step_undone)
    return None
