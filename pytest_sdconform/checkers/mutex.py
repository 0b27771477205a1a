"""Mutual exclusion of leases: no two clients believe they hold the same lock at the same time.

A lock client calls ``acquire`` (key: the lock; an ``ok`` completion: it got the lock; ``fail``:
it did not; ``info``: it cannot tell, and never acts as a holder), then ``release`` (the same
process and key). A lease lock (Redis ``SET key token NX PX ttl``) also expires: the acquire may
carry ``ttl_ms`` (on its invocation or completion), and a careful client stops trusting its lock
``ttl_ms`` after it *asked* for it, since the server started the lease no earlier than that.

A client's hold of a lock is the span from its acquire's ``ok`` completion (it knows it holds
the lock from then) to the earlier of its next ``release`` invocation on that key and its
acquire's invocation + ``ttl_ms``; with neither, to the end of the history. The anomaly,
``two-holders``, is two holds of one key by different processes that overlap in real time: at
that instant both clients had been told they hold it and neither had let go or outlived its
lease. History times are one clock (the harness's monotonic clock), so the overlap is proven,
not estimated; a lease cut short by the server's expiry is not an anomaly (it ends at the
client's own deadline), and a server that expired a lease early shows as two holders.

The verdict is ``unknown`` when no acquire succeeded (nothing was checked); ``details`` count
the holds, the contended acquires (refused while held) and the overlaps, with the longest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..history import Completed, History, freeze
from .verdict import Anomaly, Verdict

NAME = "mutual-exclusion"
TWO_HOLDERS = "two-holders"
ACQUIRE, RELEASE = "acquire", "release"


@dataclass(frozen=True)
class Hold:
    process: Any
    key: Any
    start: int  # the acquire's ok completion (ns)
    end: int  # release invoked, lease deadline, or the history's end (ns)
    ops: tuple[int, ...]  # the acquire's indices (and the release's invocation)
    ended_by: str  # "release", "lease" or "end of history"


def _ttl_ns(c: Completed) -> int | None:
    raw = c.invoke.get("ttl_ms")
    if raw is None and c.completion is not None:
        raw = c.completion.get("ttl_ms")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise ValueError(f"acquire at index {c.invoke.index}: ttl_ms must be a positive "
                         f"number of milliseconds, not {raw!r}")
    return int(raw * 1_000_000)


def holds(history: History) -> list[Hold]:
    """Every hold of every lock in the history (see the module docstring)."""
    ops = [c for c in history.complete() if c.f in (ACQUIRE, RELEASE)]
    releases: dict[tuple[Any, Any], list[Completed]] = defaultdict(list)
    for c in ops:
        if c.f == RELEASE:
            releases[(c.process, freeze(c.key))].append(c)
    end_of_history = max((op.time for op in history.ops), default=0)
    out: list[Hold] = []
    for c in ops:
        if c.f != ACQUIRE or c.type != "ok":
            continue
        assert c.completion is not None
        start = c.completion.time
        ttl = _ttl_ns(c)
        release = next((r for r in releases[(c.process, freeze(c.key))]
                        if r.invoke.time >= start), None)
        candidates: list[tuple[int, str, tuple[int, ...]]] = []
        if release is not None:
            candidates.append((release.invoke.time, "release", (release.invoke.index,)))
        if ttl is not None:
            candidates.append((c.invoke.time + ttl, "lease", ()))
        if candidates:
            end, why, more = min(candidates, key=lambda x: x[0])
        else:
            end, why, more = end_of_history, "end of history", ()
        out.append(Hold(c.process, freeze(c.key), start, max(end, start),
                        (*c.indices, *more), why))
    return out


def check_mutual_exclusion(history: History, max_anomalies: int = 50) -> Verdict:
    """Two holders of one lock at once; see the module docstring."""
    all_holds = holds(history)
    contended = sum(1 for c in history.complete() if c.f == ACQUIRE and c.type == "fail")
    if not all_holds:
        return Verdict(NAME, "unknown", details={"holds": 0, "contended": contended},
                       reason="no acquire succeeded: there was no hold to check")
    by_key: dict[Any, list[Hold]] = defaultdict(list)
    for h in all_holds:
        by_key[h.key].append(h)
    anomalies: list[Anomaly] = []
    overlaps = 0
    longest = 0
    for key, hs in by_key.items():
        hs.sort(key=lambda h: h.start)
        active: list[Hold] = []
        for h in hs:
            active = [a for a in active if a.end > h.start]
            for a in active:
                if a.process == h.process:
                    continue
                overlaps += 1
                both = min(a.end, h.end) - h.start
                longest = max(longest, both)
                if len(anomalies) < max_anomalies:
                    anomalies.append(Anomaly(
                        TWO_HOLDERS, sorted({*a.ops, *h.ops}),
                        f"process {h.process} acquired {key!r} at {h.start / 1e9:.3f}s while "
                        f"process {a.process} held it (from {a.start / 1e9:.3f}s until its "
                        f"{a.ended_by} at {a.end / 1e9:.3f}s): both held it for "
                        f"{both / 1e6:.1f} ms", key))
            active.append(h)
    details = {"holds": len(all_holds), "locks": len(by_key), "contended": contended,
               "overlaps": overlaps, "longest_overlap_ms": round(longest / 1e6, 3),
               "ended_by": {w: sum(1 for h in all_holds if h.ended_by == w)
                            for w in ("release", "lease", "end of history")}}
    if anomalies:
        return Verdict(NAME, "invalid", anomalies, details)
    return Verdict(NAME, "valid", details=details)


class MutexChecker:
    """The mutual-exclusion checker as a ``Checker``."""

    name = NAME

    def check(self, history: History) -> Verdict:
        return check_mutual_exclusion(history)
