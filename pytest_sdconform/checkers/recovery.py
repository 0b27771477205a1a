"""Recovery: operations resume while a fault is still on (failover), within a bound (the RTO).

``Resumes`` is the judge of availability claims such as "Sentinel promotes a replica", "writes
continue while a broker is down", "the standby takes over within N seconds". For every window
of the fault it looks for the first successful ``f`` invoked inside the window (after its
onset) and completed before the window closed; the time from the onset to that completion is
the recovery time clients saw. The bound, when there is one, must come from the system's own
settings (a detection timeout plus an election), never from a guess about the machine. A judge
that measures from another onset (the promotion a fault saw, the kill before a failover window)
gives ``onset`` and names it in ``onset_name``, which the ruling's words use ("resumed 1.20s
after the promotion in a kill"; by default "into a kill", from the window's start).

Exercised: clients kept calling ``f`` during every window (a failover nobody tried to use was
not tested). Refuted: a window in which no call succeeded, a recovery slower than the bound, or
(``no_loss``) an invalid verdict from that checker (acknowledged writes lost in the failover).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..history import Completed, FaultWindow, History
from .judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    in_window,
    ops_in_every_window,
    windows_of,
)


@dataclass
class Resumes:
    f: str  # the operation that must resume ("add", "send", "write")
    fault: str | None = None  # the fault's name (None: every fault window)
    bound_s: float | None = None  # the longest recovery allowed, from the system's settings
    other_node: bool = False  # it must resume on a node that served nothing before the fault
    no_loss: str | None = None  # a checker whose invalid verdict refutes (e.g. "lost-writes")
    onset: Callable[[FaultWindow], int] | None = None  # when the failure began (default: start)
    onset_name: str | None = None  # what ``onset`` is, for the words ("the promotion")
    name: str = "recovery"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        if self.onset_name is not None and self.onset is None:
            raise ValueError(f"Resumes: onset_name {self.onset_name!r} names an onset, but no "
                             "onset was given (the recovery time is then measured from the "
                             "window's start)")
        if self.onset_name is not None and not self.onset_name.strip():
            raise ValueError("Resumes: onset_name is empty")
        self.exercises = (f"clients call {self.f} during every {self.fault or 'fault'} window")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return ops_in_every_window(self.fault, self.f)(history, verdicts)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault or 'fault'} window in the history")
        if self.no_loss is not None:
            lost = verdicts[self.no_loss]
            if lost.result == "invalid":
                return Ruling(REFUTED, f"{len(lost.anomalies)} acknowledged writes lost "
                                       f"({self.no_loss})", list(lost.anomalies))
        ops = client_ops(history)
        first = min(windows, key=lambda w: w.start)
        before = {c.completion.node for c in ops if c.type == "ok" and c.completion is not None
                  and c.completion.time < first.start}
        gaps: list[tuple[float, str | None]] = []
        for w in windows:
            onset = self.onset(w) if self.onset else w.start
            inside = [c for c in ops if c.f == self.f and in_window(c, w)]
            resumed = [c for c in inside if _resumed(c, w, onset, before if self.other_node
                                                      else None)]
            if not inside:  # nobody tried: nothing was shown either way
                return Ruling(INCONCLUSIVE, f"no {self.f} was invoked during a {w.fault} "
                                            "window")
            if not resumed:
                where = " on another node" if self.other_node else ""
                return Ruling(REFUTED, f"no {self.f} succeeded{where} during a {w.fault} "
                                       f"window ({len(inside)} tried)",
                              evidence("unavailable", inside,
                                       f"{self.f} during {w.fault}: not recovered"))
            c = min(resumed, key=lambda c: c.completion.time)  # type: ignore[union-attr]
            gap = (c.completion.time - onset) / NS  # type: ignore[union-attr]
            gaps.append((gap, c.completion.node))  # type: ignore[union-attr]
            if self.bound_s is not None and gap > self.bound_s:
                slow = [x for x in inside if x.invoke.time < c.invoke.time and x.type != "ok"]
                return Ruling(REFUTED, f"{self.f} resumed {gap:.2f}s {self._since(w.fault)} "
                                       f"(> {self.bound_s:g}s)",
                              evidence("slow-recovery", slow or [c],
                                       f"{self.f} not back within {self.bound_s:g}s"
                                       f"{self._of_onset()}"))
        worst, node = max(gaps, key=lambda g: g[0])
        bound = f" (<= {self.bound_s:g}s)" if self.bound_s is not None else ""
        on = f" on {node}" if node else ""
        return Ruling(UPHELD, f"{self.f} resumed{on} at worst {worst:.2f}s "
                              f"{self._since(windows[0].fault)}{bound}, over {len(windows)} "
                              f"window{'s' if len(windows) > 1 else ''}")

    def _since(self, fault: str) -> str:
        """Where the recovery time was measured from, in words: "into a kill" (its start) or
        "after the promotion in a kill" (``onset_name``)."""
        if self.onset_name is None:
            return f"into a {fault}"
        return f"after {self.onset_name} in a {fault}"

    def _of_onset(self) -> str:
        return "" if self.onset_name is None else f" of {self.onset_name}"


def _resumed(c: Completed, w: FaultWindow, onset: int, old: set[str | None] | None) -> bool:
    done = c.completion
    if c.type != "ok" or done is None or c.invoke.time < onset:
        return False
    if w.end is not None and done.time >= w.end:
        return False
    return old is None or done.node not in old
