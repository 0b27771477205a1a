"""Judges of the S3 object claims: Object Lock (``ObjectLocked``: no locked version deleted or
changed), whole objects (``NotTorn``: a GET returns one PUT's bytes whole) and multipart uploads
resumed after a client crash (``Resumed``: ListParts keeps every acknowledged part, the
completed object is byte-exact). Histories from ``backends/aws/objects.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ....checkers.judge import (
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
)
from ....history import Completed, History
from .settings import answered


def _extra(c: Completed, name: str) -> object:
    return c.completion.get(name) if c.completion is not None else None


@dataclass
class ObjectLocked:
    """"Objects are stored write once, read many": a version under retention can be neither
    deleted nor changed. Refuted when a delete of a version still under retention was
    acknowledged, or the final read of every acknowledged version found one gone or holding
    another value. Exercised: deletes of locked versions answered (refused) by S3, and a final
    read of every key that succeeded."""

    name: str = "object-locked"
    exercises: str = "deletes of versions under retention answered by S3, and a final read " \
                     "of every acknowledged version"

    def _deletes(self, history: History) -> list[Completed]:
        return [c for c in client_ops(history) if c.f == "delete" and answered(c)
                and float(_extra(c, "locked_for_s") or 0) > 0]  # type: ignore[arg-type]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        deletes = self._deletes(history)
        finals = [c for c in history.complete() if c.is_final]
        ok = finals and all(c.type == "ok" for c in finals)
        return Exercise(bool(deletes) and bool(ok),
                        f"{len(deletes)} deletes of locked versions answered; "
                        f"{sum(1 for c in finals if c.type == 'ok')} of {len(finals)} final "
                        "reads succeeded")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        deleted = [c for c in self._deletes(history) if c.type == "ok"]
        if deleted:
            text = (f"{len(deleted)} deletes of versions under retention were acknowledged, "
                    f"e.g. version {_extra(deleted[0], 'version')} of {deleted[0].key} with "
                    f"{_extra(deleted[0], 'locked_for_s')}s of retention left")
            return Ruling(REFUTED, text, evidence("locked-version-deleted", deleted, text))
        written = {(c.key, _extra(c, "version")): c for c in history.complete()
                   if c.f == "put" and c.type == "ok"}
        changed = []
        for c in history.complete():
            if c.is_final and c.f == "read" and c.type == "ok":
                for version, got in c.value or ():
                    put = written.get((c.key, version))
                    if put is not None and got != put.invoke.value:
                        changed.append((put, c, got))
        if changed:
            put, _, got = changed[0]
            text = (f"{len(changed)} acknowledged locked versions gone or changed, e.g. "
                    f"{put.key} version {_extra(put, 'version')}: wrote {put.invoke.value}, "
                    f"read {got}")
            return Ruling(REFUTED, text, evidence("locked-version-changed",
                                                  [x for p, r, _ in changed for x in (p, r)],
                                                  text))
        refused = sorted({str(c.completion.error) for c in self._deletes(history)
                          if c.completion is not None})
        return Ruling(UPHELD, f"{len(self._deletes(history))} deletes of locked versions "
                              f"refused ({', '.join(refused)}); {len(written)} versions read "
                              "back unchanged")


@dataclass
class NotTorn:
    """"Objects are written entirely at once": a GET returns the whole body of one PUT.
    Refuted by a read whose bytes mix values (``torn``) or hold a value never written.
    Exercised: reads that overlapped a write of another value to their key."""

    name: str = "not-torn"
    exercises: str = "reads concurrent with a write of another value to the same key"

    def _overlapping(self, history: History) -> list[Completed]:
        ops = client_ops(history)
        writes = [w for w in ops if w.f == "write"]
        out = []
        for r in ops:
            if r.f != "read" or r.type != "ok" or r.end is None:
                continue
            if any(w.key == r.key and w.invoke.value != r.value and w.invoke.time < r.end
                   and (w.end is None or w.end > r.invoke.time) for w in writes):
                out.append(r)
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        n = len(self._overlapping(history))
        return Exercise(n > 0, f"{n} reads overlapped a write of another value to their key")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        written = {c.invoke.value for c in history.complete() if c.f == "write"}
        reads = [c for c in history.complete() if c.f == "read" and c.type == "ok"]
        torn = [c for c in reads if c.value == "torn"]
        if torn:
            text = (f"{len(torn)} reads returned a torn object, e.g. pieces "
                    f"{_extra(torn[0], 'pieces')} ({_extra(torn[0], 'bytes')} bytes)")
            return Ruling(REFUTED, text, evidence("torn-read", torn, text))
        phantom = [c for c in reads if c.value is not None and c.value not in written]
        if phantom:
            text = f"{len(phantom)} reads returned a value never written, e.g. {phantom[0].value}"
            return Ruling(REFUTED, text, evidence("unexpected-value", phantom, text))
        return Ruling(UPHELD, f"{len(reads)} reads, each one whole object of one write "
                              f"({len(self._overlapping(history))} concurrent with a write)")


@dataclass
class Resumed:
    """"Uploads resume from wherever they left off": after the uploading process was killed,
    ListParts holds every part it saw acknowledged (same ETag), and the upload completed from
    there is byte-exact. Refuted by an acknowledged part missing or changed in ListParts, or a
    completed object that differs. Exercised: uploads whose client was killed after at least
    one acknowledged part and before the last, then completed."""

    name: str = "resumed"
    exercises: str = "uploads killed part-way (parts acknowledged, not all) and completed"

    def _uploads(self, history: History) -> list[Completed]:
        return [c for c in history.complete() if c.f == "upload" and c.type == "ok"]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        crashed = [c for c in self._uploads(history) if _extra(c, "killed")
                   and _extra(c, "acked") and _extra(c, "resumed")]
        return Exercise(bool(crashed), f"{len(crashed)} of {len(self._uploads(history))} uploads "
                                       "killed part-way, resumed and completed")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        lost, bad = [], []
        for c in self._uploads(history):
            acked = _extra(c, "acked") or {}
            listed = _extra(c, "listed") or {}
            assert isinstance(acked, dict) and isinstance(listed, dict)
            if any(listed.get(n) != e for n, e in acked.items()):
                lost.append(c)
            if not _extra(c, "sha_ok"):
                bad.append(c)
        if lost:
            text = (f"{len(lost)} uploads resumed without parts acknowledged before the crash "
                    f"(acked {_extra(lost[0], 'acked')}, listed {_extra(lost[0], 'listed')})")
            return Ruling(REFUTED, text, evidence("lost-part", lost, text))
        if bad:
            text = f"{len(bad)} completed uploads differ from the bytes uploaded"
            return Ruling(REFUTED, text, evidence("not-byte-exact", bad, text))
        n = len(self._uploads(history))
        return Ruling(UPHELD, f"{n} uploads resumed with every acknowledged part listed, each "
                              "completed byte-exact")
