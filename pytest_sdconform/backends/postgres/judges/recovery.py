"""Judges of what PostgreSQL's recovery brings back: a point-in-time restore from the WAL
archive (``rds-pitr-5min``) and, after a power cut, WAL redo rather than flushed data pages
(``pg-recovery-dirty-pages``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    healed,
    windows_of,
)
from ....checkers.verdict import Anomaly
from ....history import Completed, FaultWindow, History
from ..heap import expand

PITR = "pitr-restore"


def _stop_record(history: History, w: FaultWindow) -> dict[str, Any]:
    op = healed(history, w)
    return op.value if op is not None and isinstance(op.value, dict) else {}


def _values(c: Completed) -> set[Any]:
    if not isinstance(c.value, list):
        raise ValueError(f"final read at index {c.invoke.index} returned {c.value!r}, "
                         "not a list of the set's elements")
    return set(c.value)


@dataclass
class RestoredToTarget:
    """A point-in-time restore holds exactly the committed history up to its target: every
    ``f`` acknowledged before the restore's target was taken (the window's invocation) is in
    the restored database, and none invoked after it was taken (the window's start) is.
    Calls in flight at the target may be either way. The restored database is what the final
    read, from the restored node (the address its stop record names), shows.

    Exercised: writes acknowledged before the target and after it, and a final read from the
    restored node. Refuted: a write acknowledged before the target missing, or one made after
    it present (with the final read as evidence)."""

    f: str = "add"
    fault: str = PITR
    name: str = "restored-to-target"
    exercises: str = ("writes acknowledged before the restore's target and after it, and a "
                      "final read from the restored node")

    def _window(self, history: History) -> FaultWindow | None:
        ws = [w for w in windows_of(history, self.fault)
              if isinstance(w.value, dict) and "target" in w.value]
        return ws[0] if ws else None

    def _final(self, history: History, w: FaultWindow) -> Completed | None:
        address = _stop_record(history, w).get("address")
        reads = [c for c in history.complete() if c.is_final and c.type == "ok"
                 and c.completion is not None and c.completion.node == address]
        return reads[-1] if reads else None

    def _split(self, history: History, w: FaultWindow) -> tuple[list[Completed],
                                                                list[Completed]]:
        ops = [c for c in client_ops(history) if c.f == self.f]
        before = [c for c in ops if c.type == "ok" and c.completion is not None
                  and c.completion.time < w.onset]
        after = [c for c in ops if c.invoke.time >= w.start]
        return before, after

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        w = self._window(history)
        if w is None:
            return Exercise(False, f"no {self.fault} with a target")
        before, after = self._split(history, w)
        acked_after = sum(1 for c in after if c.type == "ok")
        if not before or not acked_after:
            return Exercise(False, f"{len(before)} {self.f}s acknowledged before the target, "
                                   f"{acked_after} after it (both are needed)")
        if self._final(history, w) is None:
            return Exercise(False, "no final read from the restored node succeeded")
        return Exercise(True, f"{len(before)} {self.f}s acknowledged before the target "
                              f"{w.value['target']}, {acked_after} after it; final read "
                              "from the restored node")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        w = self._window(history)
        if w is None:
            return Ruling(INCONCLUSIVE, f"no {self.fault} with a target")
        final = self._final(history, w)
        if final is None:
            return Ruling(INCONCLUSIVE, "no final read from the restored node: what it holds "
                                        "is unknown")
        held = _values(final)
        before, after = self._split(history, w)
        missing = [c for c in before if c.invoke.value not in held]
        extra = [c for c in after if c.invoke.value in held]
        anomalies = [Anomaly("missing-before-target", c.indices + final.indices,
                             f"{self.f} of {c.invoke.value!r}, acknowledged before the target, "
                             "is not in the restored database") for c in missing[:20]]
        anomalies += [Anomaly("present-after-target", c.indices + final.indices,
                              f"{self.f} of {c.invoke.value!r}, made after the target, is in "
                              "the restored database") for c in extra[:20]]
        target = w.value["target"]
        if anomalies:
            return Ruling(REFUTED, f"restored to {target}: {len(missing)} writes acknowledged "
                                   f"before it missing, {len(extra)} made after it present",
                          anomalies)
        stop = _stop_record(history, w)
        took = f"; restore took {stop['restore_s']:g}s" if "restore_s" in stop else ""
        return Ruling(UPHELD, f"restored to {target}: all {len(before)} writes acknowledged "
                              f"before it present, none of the {len(after)} made after it"
                              f"{took}")


POWER = "power-loss"


@dataclass
class RedoNotFlush:
    """"On restart, the OS flushes the remaining dirty pages to disk": the claim's model of
    recovery. ``faults.InspectedPowerLoss`` records, for one heap file, the rows its pages
    held in the page cache when the server died and on disk once the cut dropped the unsynced
    writes. Rows in the cache but gone from the disk are dirty pages the OS never flushed;
    if every acknowledged write is back after the restart anyway, recovery redid it from the
    WAL.

    Exercised: in every cut, the page cache held rows of writes acknowledged before it (the
    OS had dirty data pages to flush), and a final read. Refuted: rows the cache held were
    gone from the disk after a cut (the acknowledged writes among them are the evidence, with
    the final read; the reason says whether WAL redo brought them all back), or acknowledged
    writes lost. Upheld: every row the cache held was on disk after every cut, none lost."""

    f: str = "add"
    fault: str = POWER
    name: str = "redo-not-flush"
    exercises: str = ("data pages of acknowledged writes in the page cache when the power "
                      "went, and a final read")

    def _cuts(self, history: History) -> list[tuple[FaultWindow, set[int], set[int]]]:
        out = []
        for w in windows_of(history, self.fault):
            heap = w.value.get("heap") if isinstance(w.value, dict) else None
            if heap is None:
                continue
            out.append((w, expand(heap["cache"]["values"]), expand(heap["disk"]["values"])))
        return out

    def _acked(self, history: History, before: int) -> list[Completed]:
        return [c for c in client_ops(history) if c.f == self.f and c.type == "ok"
                and c.completion is not None and c.completion.time < before]

    def _final(self, history: History) -> Completed | None:
        reads = [c for c in history.complete() if c.is_final and c.type == "ok"]
        return reads[-1] if reads else None

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        cuts = self._cuts(history)
        if not cuts or len(cuts) < len(windows_of(history, self.fault)):
            return Exercise(False, f"a {self.fault} without a look at the heap file")
        cached = [len({c.invoke.value for c in self._acked(history, w.onset)} & cache)
                  for w, cache, _ in cuts]
        if not all(cached):
            return Exercise(False, f"in {cached.count(0)} of {len(cuts)} cuts no page of an "
                                   "acknowledged write had reached the page cache: nothing the "
                                   "OS could have flushed")
        if self._final(history) is None:
            return Exercise(False, "no final read succeeded: what recovery brought back is "
                                   "unknown")
        return Exercise(True, f"{sum(cached)} acknowledged rows in the page cache's data pages "
                              f"when the power went ({len(cuts)} cuts); final read ok")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        cuts = self._cuts(history)
        final = self._final(history)
        if not cuts or final is None:
            return Ruling(INCONCLUSIVE, "no inspected power loss, or no final read")
        held = _values(final)
        anomalies: list[Anomaly] = []
        dropped = redone = 0
        acked_all: list[Completed] = []
        for w, cache, disk in cuts:
            acked = self._acked(history, w.onset)
            acked_all += acked
            gone = cache - disk
            dropped += len(gone)
            redone += sum(1 for c in acked if c.invoke.value not in disk
                          and c.invoke.value in held)
            anomalies += [Anomaly("dirty-page-dropped",
                                  [*c.indices, w.start_index, *final.indices],
                                  f"the row of {self.f} {c.invoke.value!r} was in the page "
                                  f"cache when the power went and not on disk after the cut")
                          for c in acked if c.invoke.value in gone][:20]
        lost = {c.invoke.value: c for c in acked_all if c.invoke.value not in held}
        anomalies += [Anomaly("lost-write", [*c.indices, *final.indices],
                              f"{self.f} of {v!r} acknowledged before the cut, not in the "
                              "final read") for v, c in list(lost.items())[:20]]
        acked_n = len({c.invoke.value for c in acked_all})
        if dropped:
            how = (f"and yet all {acked_n} acknowledged writes are back after the restart "
                   f"({redone} of them not in the data file when the power came back: redone "
                   "from the WAL)" if not lost else
                   f"and {len(lost)} of {acked_n} acknowledged writes are lost")
            return Ruling(REFUTED, f"the OS did not flush its dirty pages: {dropped} rows the "
                                   "page cache held were gone from the data file after the "
                                   f"cut, {how}", anomalies)
        if lost:
            return Ruling(REFUTED, f"{len(lost)} of {acked_n} acknowledged writes lost",
                          anomalies)
        return Ruling(UPHELD, "every row the page cache held was on disk after the cut, and "
                              f"all {acked_n} acknowledged writes are back")
