"""The CAP row: which side of a partition answers, at a given consistency level.

A partition splits the coordinators into sides (``sides``: side name -> the node labels that
completions carry in ``node``). For every call invoked while the partition was on and answered
(ok, fail or info) before it healed, the side is the node that answered it; a call whose
completion names no node of any side (a client-side timeout, say) is counted apart and never
guessed. A side *answers* when at least ``at_least`` of its calls succeeded, *refuses* when at
most ``1 - at_least`` did, and is unclear in between.

``CapRow`` judges a claim stated as the row it expects: ``expect`` maps each side to True (it
answers) or False (it refuses), e.g. ``{"majority": True, "minority": True}`` for "every node
serves reads and writes on its own" (AP at consistency ONE), ``{"majority": True, "minority":
False}`` for CP, ``{"majority": False, "minority": False}`` for "every replica must answer".
Upheld when every side did what was expected; refuted when a side did the opposite, with that
side's calls as evidence (the refused calls, or the answered ones); inconclusive when a side
is unclear.

Exercised: every side received at least ``min_ops`` calls that were answered while the
partition was on, in every window: a side nobody asked tells nothing about its row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from ..history import Completed, History
from .judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    in_window,
    windows_of,
)

UNKNOWN_SIDE = "unknown"


def answered_in(c: Completed, end: int | None) -> bool:
    """The call has a completion (any type) before ``end`` (None: the window never closed)."""
    return c.completion is not None and (end is None or c.completion.time < end)


def side_of(c: Completed, sides: Mapping[str, Collection[str]]) -> str:
    node = c.completion.node if c.completion is not None else None
    for side, nodes in sides.items():
        if node is not None and node in nodes:
            return side
    return UNKNOWN_SIDE


def cap_row(history: History, sides: Mapping[str, Collection[str]], fault: str | None = None
            ) -> list[dict[str, list[Completed]]]:
    """Per window of ``fault``: per side (and ``unknown``), the calls invoked while it was on
    and answered before it healed."""
    ops = client_ops(history)
    rows = []
    for w in windows_of(history, fault):
        row: dict[str, list[Completed]] = {s: [] for s in [*sides, UNKNOWN_SIDE]}
        for c in ops:
            if in_window(c, w) and answered_in(c, w.end):
                row[side_of(c, sides)].append(c)
        rows.append(row)
    return rows


def answers(calls: list[Completed], at_least: float) -> bool | None:
    """True: the side answered (>= at_least ok); False: it refused (<= 1 - at_least ok);
    None: unclear, or nobody asked it."""
    if not calls:
        return None
    ratio = sum(1 for c in calls if c.type == "ok") / len(calls)
    return True if ratio >= at_least else False if ratio <= 1 - at_least else None


def describe(merged: Mapping[str, list[Completed]]) -> str:
    parts = []
    for side, calls in merged.items():
        if side == UNKNOWN_SIDE and not calls:
            continue
        n = {t: sum(1 for c in calls if c.type == t) for t in ("ok", "fail", "info")}
        parts.append(f"{side}: {n['ok']} ok, {n['fail']} fail, {n['info']} info")
    return "; ".join(parts)


@dataclass
class CapRow:
    sides: Mapping[str, Collection[str]]  # side -> node labels (as completions record them)
    expect: Mapping[str, bool]  # side -> answers (True) or refuses (False)
    fault: str | None = "partition"
    at_least: float = 0.8
    min_ops: int = 2
    name: str = "cap-row"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        unknown = set(self.expect) - set(self.sides)
        if unknown or not self.expect:
            raise ValueError(f"expect names sides {sorted(unknown)} not in sides")
        if not 0.5 < self.at_least <= 1:
            raise ValueError("at_least must be in (0.5, 1]")
        self.exercises = (f"at least {self.min_ops} calls answered on each side "
                          f"({', '.join(self.expect)}) during every "
                          f"{self.fault or 'fault'} window")

    def _merged(self, history: History) -> dict[str, list[Completed]]:
        merged: dict[str, list[Completed]] = {}
        for row in cap_row(history, self.sides, self.fault):
            for side, calls in row.items():
                merged.setdefault(side, []).extend(calls)
        return merged

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        rows = cap_row(history, self.sides, self.fault)
        if not rows:
            return Exercise(False, f"no {self.fault or 'fault'} window in the history")
        short = [(i, s, len(row[s])) for i, row in enumerate(rows) for s in self.expect
                 if len(row[s]) < self.min_ops]
        if short:
            i, side, n = short[0]
            return Exercise(False, f"the {side} side answered {n} calls during "
                                   f"{self.fault or 'fault'} window {i + 1} of {len(rows)} "
                                   f"(needed {self.min_ops})")
        least = {s: min(len(row[s]) for row in rows) for s in self.expect}
        return Exercise(True, "calls answered during every window on each side (at least "
                              + ", ".join(f"{n} on {s}" for s, n in least.items()) + ")")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        if not windows_of(history, self.fault):
            return Ruling(INCONCLUSIVE, f"no {self.fault or 'fault'} window in the history")
        merged = self._merged(history)
        text = describe(merged)
        got = {s: answers(merged[s], self.at_least) for s in self.expect}
        wrong = [s for s, want in self.expect.items() if got[s] is not None and got[s] != want]
        if wrong:
            side = wrong[0]
            if self.expect[side]:
                calls = [c for c in merged[side] if c.type != "ok"]
                why = f"the {side} side refused while it should answer"
                kind = "refused"
            else:
                calls = [c for c in merged[side] if c.type == "ok"]
                why = f"the {side} side answered while it should refuse"
                kind = "answered"
            return Ruling(REFUTED, f"{why}: {text}", evidence(kind, calls, why))
        unclear = [s for s in self.expect if got[s] is None]
        if unclear:
            return Ruling(INCONCLUSIVE, f"no clear answer from the {', '.join(unclear)} "
                                        f"side: {text}")
        row = ", ".join(f"{s} {'answers' if self.expect[s] else 'refuses'}" for s in self.expect)
        return Ruling(UPHELD, f"{row}: {text}")
