"""Judge of DynamoDB's TTL claim ("automatically clear out the data after a fixed timestamp"):
``TtlDeletes``, from reads of items whose last write set their expiry (``exp``, epoch
seconds) in the past or the future."""

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


def settled_reads(history: History) -> list[tuple[Completed, Completed]]:
    """(read, the write it must reflect): ok reads of a key whose last acknowledged write
    ended before the read began, with no other write of the key in flight meanwhile."""
    ops = client_ops(history)
    writes = [c for c in ops if c.f == "write"]
    out = []
    for r in ops:
        if r.f != "read" or r.type != "ok" or r.end is None:
            continue
        mine = [w for w in writes if w.key == r.key]
        done = [w for w in mine if w.type == "ok" and w.end is not None and w.end < r.invoke.time]
        if not done:
            continue
        last = max(done, key=lambda w: w.end or 0)
        busy = any(w is not last and (w.end is None or w.end > last.invoke.time)
                   and w.invoke.time < r.end for w in mine)
        if not busy:
            out.append((r, last))
    return out


def _exp(c: Completed) -> float:
    return float(c.completion.get("exp")) if c.completion is not None else 0.0


def _now(c: Completed) -> float:
    return float(c.completion.get("now")) if c.completion is not None else 0.0


@dataclass
class TtlDeletes:
    """Refuted when an item vanished before its expiry (a read found nothing although the
    write it must reflect set an expiry still ahead); upheld when items past their expiry were
    found deleted; inconclusive while expired items are all still readable (AWS deletes them
    in the background, typically within days). Exercised: reads of items past their expiry."""

    name: str = "ttl-deletes"
    exercises: str = "reads of items whose expiry had passed"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        expired = [r for r, w in settled_reads(history) if _exp(w) < _now(r)]
        return Exercise(bool(expired), f"{len(expired)} reads of items past their expiry")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        pairs = settled_reads(history)
        early = [(r, w) for r, w in pairs if r.value is None and _exp(w) > _now(r)]
        if early:
            r, w = early[0]
            text = (f"{len(early)} items gone before their expiry, e.g. {r.key} read "
                    f"{_exp(w) - _now(r):.0f}s before it")
            return Ruling(REFUTED, text, evidence("deleted-early",
                                                  [x for p in early for x in p], text))
        expired = [(r, w) for r, w in pairs if _exp(w) < _now(r)]
        gone = [r for r, _ in expired if r.value is None]
        if gone:
            return Ruling(UPHELD, f"{len(gone)} of {len(expired)} reads past an item's expiry "
                                  "found it deleted; none gone before")
        if not expired:
            return Ruling(INCONCLUSIVE, "no read of an item past its expiry")
        late = max(_now(r) - _exp(w) for r, w in expired)
        return Ruling(INCONCLUSIVE, f"all {len(expired)} reads past an item's expiry still found "
                                    f"it (up to {late:.0f}s after): TTL deletion was not seen")
