"""Judges of the S3 claims: "eventually consistent" read as "reads may miss a completed write"
(``StrongRefutesEventual``: refuted by a history where every read right after a write saw it,
as S3 promises since December 2020), and versioned buckets keeping every acknowledged put as a
version readable by its id after a delete (``VersionsKept``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
)
from ....history import Completed, History
from .common import path_faults


def read_after_write(history: History) -> list[tuple[Completed, Completed]]:
    """(write, read) for reads invoked after a write (or delete) of their key completed, with
    no other write of that key in flight since: reads that could have been stale, whatever
    they returned."""
    ops = sorted(client_ops(history), key=lambda c: c.invoke.time)
    writes = [c for c in ops if c.f == "write"]
    out = []
    for r in ops:
        if r.f != "read" or r.type != "ok":
            continue
        before = [w for w in writes if w.key == r.key and w.type == "ok" and w.end is not None
                  and w.end <= r.invoke.time]
        if not before:
            continue
        last = max(before, key=lambda w: w.end or 0)
        busy = any(w.key == r.key and w is not last and w.type != "fail"
                   and w.invoke.time < r.invoke.time
                   and (w.end is None or w.end > last.invoke.time) for w in writes)
        if not busy:
            out.append((last, r))
    return out


@dataclass
class StrongRefutesEventual:
    """"S3 is eventually consistent", read as "reads may miss a completed write": refuted
    when every read saw the latest completed put, overwrite or delete (the history is
    linearizable), as S3 promises since December 2020; upheld by a stale read. Exercised:
    reads made right after a completed write or delete of their key (where a stale answer
    could show), and the path faults exercised."""

    name: str = "strong-refutes-eventual"
    exercises: str = ("reads right after a completed write or delete of their key, of both "
                      "kinds, and the path faults exercised")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        pairs = read_after_write(history)
        deleted = sum(1 for w, _ in pairs if w.invoke.value is None)
        why = (f"{len(pairs)} reads right after a completed write of their key, {deleted} of "
               "them after a delete")
        if not deleted or deleted == len(pairs):
            return Exercise(False, why)
        faults = path_faults()(history, verdicts)
        return Exercise(faults.done, f"{why}; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        lin = verdicts["linearizable"]
        if lin.result == "unknown":
            return Ruling(INCONCLUSIVE, lin.reason or "linearizability unknown")
        if lin.result == "invalid":
            return Ruling(UPHELD, f"a read missed a completed write or delete: "
                                  f"{len(lin.anomalies)} anomalies")
        # No stale read: the refutation this claim expects, which only means something when
        # reads could have been stale (decide checks exercise for upheld alone).
        exercise = self.exercised(history, verdicts)
        if not exercise.done:
            return Ruling(INCONCLUSIVE, f"not exercised: {exercise.why} (needed: "
                                        f"{self.exercises})")
        rs = [r for _, r in read_after_write(history)]
        reads = sum(1 for c in client_ops(history) if c.f == "read" and c.type == "ok")
        text = (f"strong, not merely eventual: all {reads} reads saw the latest completed put, "
                f"overwrite or delete (linearizable), {len(rs)} of them right after it")
        return Ruling(REFUTED, text, evidence("read-after-write", rs, text))


@dataclass
class VersionsKept:
    """A versioned bucket keeps every acknowledged put as a version, readable by its version
    id, "even a deleted file": the loss half is the lost-writes checker's (every acknowledged
    put is among the versions the final read lists and reads back by id), the deletion half
    this judge's: each key is deleted (a delete marker) before its final read, which must
    find the object gone and still read every earlier version by its id. A version listed
    but unreadable refutes. Exercised: every key's final delete acknowledged, then its final
    read seeing it deleted and reading its earlier versions by id."""

    name: str = "versions-kept"
    exercises: str = ("each key deleted, then its earlier versions read back by version id, "
                      "and the path faults exercised")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        finals = [c for c in history.complete() if c.is_final]
        keys = {c.key for c in finals}
        done = []
        for k in keys:
            mine = [c for c in finals if c.key == k]
            dels = [c for c in mine if c.f == "delete" and c.type == "ok"]
            reads = [c for c in mine if c.f == "read" and c.type == "ok" and c.completion
                     and c.completion.get("deleted") and c.value
                     and dels and c.invoke.time >= (dels[-1].end or 0)]
            if reads:
                done.append(k)
        why = (f"{len(done)} of {len(keys)} keys deleted and then read back by version id "
               "(the object gone, its earlier versions there)")
        if not keys or len(done) < len(keys):
            return Exercise(False, why)
        # Any call during a timeout window (a read or delete too): the claim is about
        # acknowledged puts, which the latency windows give; under load a late timeout
        # window once caught no put.
        faults = path_faults()(history, verdicts)
        return Exercise(faults.done, f"{why}; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        unreadable = [c for c in history.complete() if c.f == "read" and c.type == "ok"
                      and c.completion is not None and c.completion.get("unreadable")]
        if unreadable:
            text = (f"{len(unreadable)} reads listed versions they could not read by version "
                    f"id, e.g. {unreadable[0].completion.get('unreadable')}")  # type: ignore
            return Ruling(REFUTED, text, evidence("unreadable-version", unreadable, text))
        lost = verdicts["lost-writes"]
        if lost.result == "invalid":
            return Ruling(REFUTED, f"lost-writes: {len(lost.anomalies)} acknowledged versions "
                                   "missing", lost.anomalies)
        if lost.result == "unknown":
            return Ruling(INCONCLUSIVE, f"lost-writes: {lost.reason}")
        return Ruling(UPHELD, "every acknowledged put is a version, read back by its id after "
                              "its key was deleted")
