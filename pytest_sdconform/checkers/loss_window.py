"""Loss window: a crash may lose only what came after the last point the system reported safe.

Claims such as "RDB snapshots may lose the data written between two snapshot points" or "a
checkpoint bounds what a crash can take" do not bound the loss by a time a user could guess (a
background save takes longer on a loaded machine); they bound it by what the system itself did.
The system reports *safe points* while it runs (a snapshot that completed, a checkpoint, a
flushed WAL position), and each one keeps every write acknowledged before a known time.

``SafePoint(reported, covers)``: by history time ``reported`` the system had said that every
``f`` acknowledged before history time ``covers`` is kept (``covers <= reported``). Whoever
builds safe points must take ``covers`` on the safe side: a time before which every
acknowledged write is known to be inside, such as the invocation of a call that the system
answered before the snapshot began. ``LossWindow`` takes a function that finds them in a
history (for Redis: ``backends/redis/judges.rdb_snapshots``, from INFO persistence recorded
with every write).

Rule, for every acknowledged ``f`` the ``lost`` checker reports missing from the final reads:
the crash that lost it is the first ``fault`` window to begin after it was sent (a reply sent
just before the crash may be recorded after the crash's start, which is recorded once the
crash is proven). It is
an allowed loss when no safe point reported before that crash covers it; it refutes the claim
when one does (it was acknowledged before a completed snapshot, and the crash took it all the
same), and when no crash followed it at all (a loss the claim does not explain). Evidence:
the lost write, the final reads that miss it, and the calls that reported the safe point.

Exercised: acknowledged ``f`` before every crash, a final read that could show their loss,
and before every crash a safe point, reported since the previous crash, that covers some of
the writes acknowledged since then (a snapshot that had something to keep). Without one, "no
loss before the snapshot" was never put to the test: inconclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    acked_before_every_window,
    client_ops,
    windows_of,
)
from .verdict import Anomaly


@dataclass(frozen=True)
class SafePoint:
    """The system reported, by ``reported``, that every write acknowledged before ``covers``
    is kept (history times, in nanoseconds). ``ops``: the history indices that show it."""

    reported: int
    covers: int
    what: str = "snapshot"
    ops: tuple[int, ...] = ()


SafePoints = Callable[[History], Sequence[SafePoint]]


@dataclass
class LossWindow:
    safe_points: SafePoints  # finds the safe points the system reported in a history
    f: str = "add"  # the acknowledged writes
    fault: str = "kill"  # the crash
    lost: str = "lost-writes"  # the checker that reports acknowledged writes missing
    what: str = "snapshot"  # what a safe point is, for the reasons
    name: str = "loss-window"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"acknowledged {self.f}s before every {self.fault}, a completed "
                          f"{self.what} before each that covers some of them, and a final "
                          "read that could show their loss")

    # --- exercised --------------------------------------------------------------------------

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        base = acked_before_every_window(self.f, self.fault)(history, verdicts)
        if not base.done:
            return base
        points = list(self.safe_points(history))
        acks = self._acks(history)
        previous = 0
        missing = 0
        windows = sorted(windows_of(history, self.fault), key=lambda w: w.start)
        for w in windows:
            since = [p for p in points if previous <= p.reported < w.start]
            covered = [p for p in since
                       if any(previous <= t < p.covers for t in acks)]
            if not covered:
                missing += 1
            previous = w.end if w.end is not None else w.start
        if missing:
            return Exercise(False, f"no completed {self.what} covered acknowledged "
                                   f"{self.f}s before {missing} of {len(windows)} "
                                   f"{self.fault}s ({len(points)} {self.what}s seen)")
        return Exercise(True, f"{base.why}; a completed {self.what} covered acknowledged "
                              f"{self.f}s before each of the {len(windows)} {self.fault}s "
                              f"({len(points)} {self.what}s seen)")

    # --- rule -------------------------------------------------------------------------------

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = sorted(windows_of(history, self.fault), key=lambda w: w.start)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} window in the history")
        lost = verdicts[self.lost]
        if lost.result == "unknown":
            return Ruling(INCONCLUSIVE, f"{self.lost}: {lost.reason or 'unknown'}")
        if lost.result == "valid":
            return Ruling(UPHELD, f"no acknowledged {self.f} was lost in "
                                  f"{len(windows)} {self.fault}s")
        points = sorted(self.safe_points(history), key=lambda p: p.reported)
        acked = self._acked_by_index(history)
        bad: list[Anomaly] = []
        allowed = 0
        worst = 0.0  # how far before its crash an allowed loss reaches back
        for a in lost.anomalies:
            write = next((acked[i] for i in a.ops if i in acked), None)
            if a.kind != "lost-write" or write is None or write.completion is None:
                bad.append(a)  # a phantom, or anything else that is no loss: not the claim's
                continue
            ack = write.completion.time
            # The crash that could lose it: the first to begin after the write was sent. (Not
            # after its acknowledgement: a crash is recorded once proven, and a reply the
            # server sent before it died may be recorded a little after that.)
            crash = next((w for w in windows if w.start > write.invoke.time), None)
            if crash is None:
                bad.append(Anomaly("lost-without-crash", a.ops,
                                   f"{a.explanation}: sent at {write.invoke.time / NS:.3f}s, "
                                   f"after the last {self.fault} began, so no crash explains "
                                   "the loss",
                                   a.key))
                continue
            keeping = [p for p in points if p.reported < crash.start and p.covers > ack]
            if keeping:
                p = keeping[0]
                bad.append(Anomaly(
                    "lost-before-safe-point", sorted({*a.ops, *p.ops}),
                    f"{a.explanation}: acknowledged at {ack / NS:.3f}s, before a {self.what} "
                    f"that covers writes acknowledged up to {p.covers / NS:.3f}s and completed "
                    f"by {p.reported / NS:.3f}s, before the {self.fault} at "
                    f"{crash.start / NS:.3f}s", a.key))
                continue
            allowed += 1
            worst = max(worst, (crash.start - ack) / NS)
        if bad:
            kinds = sorted({b.kind for b in bad})
            return Ruling(REFUTED, f"{len(bad)} of {len(lost.anomalies)} lost acknowledged "
                                   f"{self.f}s are not explained by a crash after the last "
                                   f"{self.what} ({', '.join(kinds)})", bad)
        last = self._last_points(points, windows)
        return Ruling(UPHELD, f"{allowed} acknowledged {self.f}s lost, every one acknowledged "
                              f"after the last {self.what} completed before its "
                              f"{self.fault} (reaching back at most {worst:.2f}s before it; "
                              f"{last})")

    # --- helpers ----------------------------------------------------------------------------

    def _acks(self, history: History) -> list[int]:
        return [c.completion.time for c in client_ops(history)
                if c.f == self.f and c.type == "ok" and c.completion is not None]

    def _acked_by_index(self, history: History) -> dict[int, Completed]:
        out: dict[int, Completed] = {}
        for c in client_ops(history):
            if c.f == self.f and c.type == "ok":
                for i in c.indices:
                    out[i] = c
        return out

    def _last_points(self, points: Sequence[SafePoint], windows: Sequence[FaultWindow]) -> str:
        parts = []
        for w in windows:
            before = [p for p in points if p.reported < w.start]
            if before:
                p = max(before, key=lambda p: p.covers)
                parts.append(f"{(w.start - p.covers) / NS:.2f}s")
        if not parts:
            return f"no {self.what} completed before any {self.fault}"
        return (f"last {self.what} covered writes up to {', '.join(parts)} before the "
                f"{self.fault}{'s' if len(parts) > 1 else ''}")
