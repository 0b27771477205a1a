"""Judge of the Cassandra tombstone claim: a delete acknowledged while one replica was cut off
must stay a delete once that replica, which still holds the deleted value, comes back
(``DeletesStayDeleted``). After gc_grace_seconds a compaction may purge the tombstone; if the
replica never received it (no repair within gc_grace, hints expired with it), the old value
comes back to life.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    windows_of,
)
from ....checkers.verdict import Anomaly
from ....history import Completed, History
from .common import inside, unexercised


@dataclass
class DeletesStayDeleted:
    """Keys each written once (acknowledged by every replica, before the ``fault`` window) and
    deleted inside it (the cut-off replica missed the delete). A final read of such a key that
    returns its value refutes: the delete was undone (a resurrected row). Upheld when every
    such final read returns nothing. ``purged``: the purge step's records (the suite's
    ``PurgeTombstones.purged``); the judge states whether tombstones could have been purged.

    Exercised: at least one such key read at the end, after the purge step completed."""

    fault: str | None = None
    purged: Sequence[dict[str, Any]] = field(default_factory=list)
    name: str = "deletes-stay-deleted"
    exercises: str = ("keys written before the window, deleted while a replica was cut off, "
                      "read at the end after the flush and compaction")

    def _candidates(self, history: History) -> list[tuple[Completed, Completed, Completed]]:
        """(write, delete, final read) per key."""
        windows = windows_of(history, self.fault)
        if not windows:
            return []
        first = min(w.start for w in windows)
        ops = client_ops(history)
        writes = {c.key: c for c in ops if c.f == "write" and c.type == "ok"
                  and c.end is not None and c.end < first}
        deletes = {c.key: c for c in ops if c.f == "delete" and c.type == "ok"
                   and c.key in writes and any(inside(c, w) for w in windows)}
        finals = {c.key: c for c in history.complete()
                  if c.is_final and c.f == "read" and c.type == "ok" and c.key in deletes}
        # Each key is written once: a second write of a deleted key would make its value legal.
        twice = {c.key for c in ops if c.f == "write" and c.key in deletes
                 and c is not writes[c.key]}
        return [(writes[k], deletes[k], finals[k]) for k in finals if k not in twice]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        found = self._candidates(history)
        missing = unexercised(history, self.fault, found,
                              "no key written before the window and deleted during it was "
                              "read at the end",
                              bool(self.purged), "the flush and compaction did not complete")
        if missing is not None:
            return missing
        return Exercise(True, f"{len(found)} keys deleted while a replica was cut off, read at "
                              f"the end after a flush and compaction ({self.purged[-1]})")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        found = self._candidates(history)
        if not found:
            return Ruling(INCONCLUSIVE, "no key deleted while a replica was cut off was read "
                                        "at the end")
        back = [Anomaly("resurrected", w.indices + d.indices + r.indices,
                        f"deleted at {d.invoke.time / 1e9:.3f}s (acknowledged), yet the final "
                        f"read returned {r.value!r}, the value written before the delete",
                        r.key)
                for w, d, r in found if r.value is not None and r.value == w.invoke.value]
        other = [r for _, _, r in found if r.value is not None]
        if back:
            return Ruling(REFUTED, f"{len(back)} of {len(found)} deleted keys came back to life "
                                  "(their tombstones purged before the cut-off replica got "
                                  "them)", back)
        if other:
            return Ruling(INCONCLUSIVE, f"{len(other)} deleted keys read a value never written "
                                        "to them")
        return Ruling(UPHELD, f"all {len(found)} keys deleted while a replica was cut off "
                              "stayed deleted")
