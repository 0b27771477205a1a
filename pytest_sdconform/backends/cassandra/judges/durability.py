"""Exercise rules of the Cassandra durability claims, decided by the lost-writes checker: writes
acknowledged while a replica was down (``acked_while_down``: only the live replicas hold them),
and a final read answered by the node whose copy is judged (``with_final_read_from``), so that a
loss could be seen.
"""

from __future__ import annotations

from ....checkers.judge import (
    Exercise,
    ExerciseRule,
    Verdicts,
    described,
    windows_of,
)
from ....history import History
from .common import acked_in, final_reads_from


def acked_while_down(f: str, fault: str | None = None) -> ExerciseRule:
    """``f`` acknowledged while the fault was on (only the live replicas hold it), in every
    window, and a final read that succeeded: the loss of a replica could cost those writes."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault or 'fault'} window in the history")
        counts = [len(acked_in(history, w, (f,))) for w in windows]
        if not all(counts):
            return Exercise(False, f"no {f} acknowledged during {counts.count(0)} of "
                                   f"{len(windows)} {fault or 'fault'} windows")
        if not any(c.is_final and c.type == "ok" for c in history.complete()):
            return Exercise(False, "no final read succeeded: a loss could not be seen")
        return Exercise(True, f"{sum(counts)} {f}s acknowledged while the replica was down "
                              f"(at least {min(counts)} per window), final read ok")

    return described(rule, f"{f}s acknowledged during every {fault or 'fault'} window, and a "
                           "final read")


def with_final_read_from(node: str, label: str, base: ExerciseRule) -> ExerciseRule:
    """``base``, and a successful final read answered by ``node`` (whose copy is judged)."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        done = base(history, verdicts)
        if not done.done:
            return done
        if not final_reads_from(history, node):
            return Exercise(False, f"no final read was answered by {label}")
        return Exercise(True, f"{done.why}; final read answered by {label}")

    return described(rule, f"{base.__doc__ or ''}; the final read answered by {label}")
