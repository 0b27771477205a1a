"""What survives a crash is a prefix: a log that loses its tail, not its middle.

An append-only log (Redis's AOF, a write-ahead log) that is cut short by a crash, or torn in
its last write, must come back as a prefix of what it had acknowledged: losing the last writes
is the price of not fsyncing them, but keeping a write while losing one acknowledged before it
was invoked (a hole) is corruption, and so is an element nobody wrote (a torn value read back).

``PrefixSurvives`` judges sets built by ``add``: the history is cut into epochs at each crash
(a window of ``fault``); within an epoch, no acknowledged add missing from the final read may
have been acknowledged before a surviving one was invoked; an add acknowledged after the last
crash may not be missing at all (nothing crashed since). The final read also may not show an
element that no add attempted. Exercised only when writes were acknowledged before every crash
and a crash tore a write (``torn`` in the fault's record): otherwise the log was never cut
mid-write, and a clean prefix proves nothing about torn tails.
"""

from __future__ import annotations

from typing import Any

from ..history import NEMESIS, Completed, History, freeze
from .durability import elements
from .judge import (
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    acked_before_every_window,
    windows_of,
)
from .verdict import Anomaly

NS = 1e9


def torn_writes(history: History, fault: str) -> int:
    """How many files the crashes tore, from the fault's own record of each cut."""
    torn = 0
    for w in windows_of(history, fault):
        dropped = (w.value or {}).get("dropped", {}) if isinstance(w.value, dict) else {}
        torn += sum(int(d.get("torn", 0)) for d in dropped.values() if isinstance(d, dict))
    return torn


class PrefixSurvives:
    name = "prefix"

    def __init__(self, fault: str = "power-loss", f: str = "add"):
        self.fault, self.f = fault, f
        self.acked = acked_before_every_window(f, fault)
        self.exercises = (f"acknowledged {f}s before every {fault}, a {fault} that tore a "
                          "write, and a final read")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        base = self.acked(history, verdicts)
        if not base.done:
            return base
        torn = torn_writes(history, self.fault)
        if not torn:
            return Exercise(False, f"no {self.fault} tore a write (each file's last unsynced "
                                   "write lay within one sector, or there was none)")
        return Exercise(True, f"{base.why}; {torn} torn writes")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        ops = [c for c in history.complete() if c.process != NEMESIS]
        finals = [c for c in ops if c.is_final and c.type == "ok"]
        if not finals:
            return Ruling("inconclusive", "no final read succeeded")
        shown: set[Any] = set()
        for c in finals:
            shown |= elements(c.value)
        writes = [c for c in ops if c.f == self.f and not c.is_final]
        acked = [c for c in writes if c.type == "ok"]
        # A crash is proven at its window's start; what was acknowledged before that was in
        # the log it cut (a kill takes a moment: writes acknowledged then preceded it).
        crashes = sorted(w.start for w in windows_of(history, self.fault))
        anomalies = (self._holes(acked, shown, finals, crashes)
                     + self._phantoms(writes, shown, finals))
        lost = sum(1 for c in acked if freeze(c.invoke.value) not in shown)
        if anomalies:
            return Ruling(REFUTED, f"not a prefix: {len(anomalies)} anomalies "
                                   f"({', '.join(sorted({a.kind for a in anomalies}))})",
                          anomalies)
        return Ruling(UPHELD, f"what survived is a prefix of each epoch between crashes: "
                              f"{lost} acknowledged {self.f}s lost, each after every one kept, "
                              "and nothing read back that was not written")

    def _holes(self, acked: list[Completed], shown: set[Any], finals: list[Completed],
               crashes: list[int]) -> list[Anomaly]:
        """Per epoch: a lost write acknowledged before a kept one was invoked."""
        evidence = [i for c in finals for i in c.indices][:2]
        anomalies = []
        for k in range(len(crashes) + 1):
            lo = crashes[k - 1] if k else -1
            hi = crashes[k] if k < len(crashes) else None
            epoch = [c for c in acked if c.invoke.time > lo
                     and (hi is None or c.completion.time < hi)]  # type: ignore[union-attr]
            kept = [c for c in epoch if freeze(c.invoke.value) in shown]
            latest_start = max((c.invoke.time for c in kept), default=None)
            for c in epoch:
                if freeze(c.invoke.value) in shown:
                    continue
                acked_at = c.completion.time  # type: ignore[union-attr]
                if hi is None:
                    why = (f"{self.f} of {c.invoke.value!r} acknowledged at {acked_at / NS:.3f}s,"
                           " after the last crash, is missing from the final read")
                elif latest_start is not None and acked_at < latest_start:
                    why = (f"{self.f} of {c.invoke.value!r} acknowledged at {acked_at / NS:.3f}s"
                           " is lost while writes invoked after it survived the crash")
                else:
                    continue
                anomalies.append(Anomaly("hole", c.indices + evidence, why))
        return anomalies

    def _phantoms(self, writes: list[Completed], shown: set[Any],
                  finals: list[Completed]) -> list[Anomaly]:
        attempted = {freeze(c.invoke.value) for c in writes if c.type != "fail"}
        evidence = [i for c in finals for i in c.indices][:2]
        return [Anomaly("phantom", evidence, f"the final read shows {v!r}, which no {self.f} "
                                             "attempted (a torn or corrupt entry)")
                for v in sorted(shown - attempted, key=repr)]
