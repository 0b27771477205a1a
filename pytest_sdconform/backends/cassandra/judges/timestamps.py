"""Judge of the Cassandra last-write-wins claim: a write acknowledged after another must win over
it (``LastWriteWins``). A read begun after the later write that returns the earlier one shows
the later write silently dropped; with client-supplied timestamps, clock skew that gave the
later write an older timestamp explains it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ....checkers.judge import (
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    in_window,
    windows_of,
)
from ....checkers.verdict import Anomaly
from ....history import Completed, History

# --- last write wins -----------------------------------------------------------------------


def _ts(c: Completed) -> int | None:
    v = c.completion.get("timestamp_us") if c.completion is not None else None
    return int(v) if v is not None else None


@dataclass
class LastWriteWins:
    """"The most recent write propagates": a write acknowledged after another (real-time
    order) must win over it. Refuted by a read begun after the later write was acknowledged
    that returns the earlier one: the later write was silently dropped. With client-supplied
    timestamps (``timestamp_us`` on the ok completion), a dropped write whose timestamp is
    older than the one that beat it is explained by the clock skew.

    Exercised: a write was acknowledged after another on the same key yet given an older
    timestamp (the skew really produced an inversion), and the key was read after it."""

    fault: str | None = "clock-skew"
    name: str = "last-write-wins"
    exercises: str = ("an acknowledged write given an older timestamp than a write acknowledged "
                      "before it began (clock skew), and a read of the key after it")

    def _inversions(self, history: History) -> list[tuple[Completed, Completed]]:
        writes = [c for c in client_ops(history) if c.f == "write" and c.type == "ok"]
        out = []
        for w2 in writes:
            t2 = _ts(w2)
            if t2 is None:
                continue
            for w1 in writes:
                t1 = _ts(w1)
                if (w1.key == w2.key and t1 is not None and t2 < t1 and w1.end is not None
                        and w1.end < w2.invoke.time):
                    out.append((w1, w2))
                    break
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        pairs = [(w1, w2) for w1, w2 in self._inversions(history)
                 if any(in_window(w2, w) for w in windows)]
        if not pairs:
            return Exercise(False, f"no write acknowledged after another was given an older "
                                   f"timestamp during a {self.fault or 'fault'} window (the "
                                   "skew produced no inversion)")
        reads = [c for c in history.complete() if c.f == "read" and c.type == "ok"]
        read_after = sum(1 for _, w2 in pairs
                         if any(r.key == w2.key and w2.end is not None
                                and r.invoke.time > w2.end for r in reads))
        if not read_after:
            return Exercise(False, f"{len(pairs)} timestamp inversions, but no read after any")
        return Exercise(True, f"{len(pairs)} writes acknowledged after another with an older "
                              f"timestamp, {read_after} of them read after")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        everything = history.complete()
        writes = [c for c in everything if c.f == "write" and c.type == "ok"
                  and c.process != "nemesis"]
        by_value = {(c.key, c.invoke.value): c for c in writes}
        reads = [c for c in everything if c.f == "read" and c.type == "ok"]
        dropped: list[Anomaly] = []
        skewed = 0
        for r in reads:
            w1 = by_value.get((r.key, r.value))
            if w1 is None or w1.end is None:
                continue
            # A write begun after w1 was acknowledged and acknowledged before r began: it is
            # more recent than w1 in real time, yet r returned w1.
            later = [w2 for w2 in writes if w2.key == r.key and w2.end is not None
                     and w2.invoke.time > w1.end and w2.end < r.invoke.time]
            if not later:
                continue
            w2 = max(later, key=lambda c: c.invoke.time)
            assert w2.end is not None
            t1, t2 = _ts(w1), _ts(w2)
            why = (f"write of {w2.invoke.value!r} acknowledged at {w2.end / NS:.3f}s (after the "
                   f"write of {w1.invoke.value!r} was acknowledged at {w1.end / NS:.3f}s) was "
                   f"dropped: a read begun at {r.invoke.time / NS:.3f}s returned "
                   f"{w1.invoke.value!r}")
            if t1 is not None and t2 is not None:
                why += (f" (its timestamp is {(t1 - t2) / 1000:.0f} ms older)" if t2 < t1 else
                        f" (its timestamp is {(t2 - t1) / 1000:.0f} ms newer)")
                skewed += t2 < t1
            dropped.append(Anomaly("lost-update", w1.indices + w2.indices + r.indices, why,
                                   r.key))
        if dropped:
            return Ruling(REFUTED, f"{len(dropped)} reads returned a write that a later "
                                   f"acknowledged write should have replaced ({skewed} "
                                   "explained by an older client timestamp)", dropped)
        return Ruling(UPHELD, "every read after an acknowledged write returned it or a newer one")
