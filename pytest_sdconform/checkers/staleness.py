"""Staleness: how old, in time and in versions, a value a cache served was, against the source
of truth's history.

A caching claim is about reads served from a copy (a cache, a CDN, a resolver) of data whose
source of truth (a database, an origin) orders its versions. The history gives that order:
every acknowledged ``write`` carries the ``version`` the source of truth gave it (a row's
version counter, an origin's ETag number), and every written value is unique per key, so a
read's value names the write it came from (``None``: the key's initial state, version 0).

For an acknowledged read of key k that returned the value of version v, the writes that had
*superseded* it before the read began are the acknowledged writes of k with a version above v
that completed before the read's invocation. None: the read was fresh (it may still have
raced a write, which is not staleness). Otherwise the read was stale by

- ``versions``: how many such versions it was behind (a lower bound: writes whose outcome is
  unknown are not counted);
- ``stale_s``: the read's invocation minus the earliest completion of those writes: the value
  had been superseded at least that long when the read began (the commit came at the latest at
  the write's completion, the serving at the earliest at the read's invocation). A lower
  bound, so a read over a bound refutes that bound soundly.

``check_staleness(history, bound_s=None)``: with ``bound_s`` None, any stale read is an
anomaly (``stale-read``: "data never stale"); with a bound, only reads stale by more than
``bound_s`` seconds are (``stale-beyond-bound``). A read of a value no write wrote is a
``thin-air-read``. ``unknown``: no acknowledged write has a version, or no read began after a
write of its key completed (nothing could have been stale). Details give the counts and the
worst reads, per the ``source`` a read recorded (``hit``, ``miss``...), when it did.

``StalenessBound`` is the judge of claims of the form "a cache may serve stale data, at most
this long" (a TTL) or "never stale" (``bound`` None), its bound given or computed from the
history (a TTL plus the fill delays the clients measured, never a guess at the wall clock).
"Never stale" is exercised only when the history held a race that could have staled the cache
(``races``: overlapping writes of one key, a fill overlapping a write of its key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..history import Completed, History
from .judge import INCONCLUSIVE, NS, REFUTED, UPHELD, Exercise, Ruling, Verdicts
from .verdict import Anomaly, Verdict

NAME = "staleness"
WORST = 5  # the stalest reads kept in the details


@dataclass(frozen=True)
class _Write:
    version: int
    end: int
    index: int


@dataclass(frozen=True)
class StaleRead:
    read: Completed
    version: int
    versions_behind: int
    stale_s: float
    superseded_by: list[int]  # history indices of the superseding writes' completions


def _versions(history: History) -> tuple[dict[Any, dict[Any, int]], dict[Any, list[_Write]],
                                          dict[Any, set[Any]]]:
    """Per key: value -> version of every write that gave one, the acknowledged writes in
    completion order, and every value written (acknowledged or not)."""
    by_value: dict[Any, dict[Any, int]] = {}
    acked: dict[Any, list[_Write]] = {}
    written: dict[Any, set[Any]] = {}
    for c in history.complete():
        if c.f != "write" or not c.invoke.is_client:
            continue
        written.setdefault(c.key, set()).add(_hashable(c.invoke.value))
        if c.type != "ok" or c.completion is None:
            continue
        version = c.completion.get("version")
        if version is None:
            continue
        if not isinstance(version, int) or isinstance(version, bool):
            raise history.error(f"write of key {c.key!r}: version must be an integer, "
                                f"not {version!r}", c.completion.index)
        by_value.setdefault(c.key, {})[_hashable(c.invoke.value)] = version
        acked.setdefault(c.key, []).append(_Write(version, c.completion.time,
                                                  c.completion.index))
    for writes in acked.values():
        writes.sort(key=lambda w: w.end)
    return by_value, acked, written


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def stale_reads(history: History) -> tuple[list[StaleRead], list[Completed], int, list[Completed]]:
    """The stale reads, the thin-air reads, how many reads began after a write of their key
    had completed (those that could have been stale), and every acknowledged read."""
    by_value, acked, written = _versions(history)
    stale: list[StaleRead] = []
    thin_air: list[Completed] = []
    exposed = 0
    reads = [c for c in history.complete()
             if c.f == "read" and c.type == "ok" and c.invoke.is_client]
    for r in reads:
        value = _hashable(r.value)
        writes = acked.get(r.key, [])
        if value is None:
            version = 0
        elif value in by_value.get(r.key, {}):
            version = by_value[r.key][value]
        elif value in written.get(r.key, set()):
            continue  # a write whose outcome is unknown: no version to rank it by
        else:
            thin_air.append(r)
            continue
        before = [w for w in writes if w.end < r.start]
        if before:
            exposed += 1
        newer = [w for w in before if w.version > version]
        if newer:
            first = min(w.end for w in newer)
            stale.append(StaleRead(r, version, len({w.version for w in newer}),
                                   (r.start - first) / NS, [w.index for w in newer][:3]))
    return stale, thin_air, exposed, reads


def check_staleness(history: History, bound_s: float | None = None) -> Verdict:
    """Every acknowledged read against the versions the source of truth had acknowledged
    before it began; see the module docstring."""
    if bound_s is not None and bound_s < 0:
        raise ValueError(f"bound_s must be >= 0 seconds, not {bound_s}")
    by_value, _, _ = _versions(history)
    stale, thin_air, exposed, reads = stale_reads(history)
    anomalies = [Anomaly("thin-air-read", r.indices, f"read of {r.key!r} returned "
                         f"{r.value!r}, which no write wrote", key=r.key) for r in thin_air]
    for s in stale:
        if bound_s is not None and s.stale_s <= bound_s:
            continue
        kind = "stale-read" if bound_s is None else "stale-beyond-bound"
        limit = "" if bound_s is None else f", over the bound of {bound_s:.3f}s"
        anomalies.append(Anomaly(
            kind, [*s.read.indices, *s.superseded_by],
            f"read of {s.read.key!r} served version {s.version} ({s.read.value!r}), "
            f"{s.versions_behind} version(s) behind, superseded at least {s.stale_s:.3f}s "
            f"before the read began{limit}", key=s.read.key,
            details={"stale_s": round(s.stale_s, 4), "versions_behind": s.versions_behind,
                     "source": s.read.completion.get("source") if s.read.completion else None}))
    details = _details(stale, exposed, reads, bound_s)
    if anomalies:
        return Verdict(NAME, "invalid", anomalies, details)
    if not by_value:
        return Verdict(NAME, "unknown", [], details,
                       "no acknowledged write carries a version: no order to measure against")
    if not exposed:
        return Verdict(NAME, "unknown", [], details,
                       "no read began after a write of its key had completed: nothing could "
                       "have been stale")
    return Verdict(NAME, "valid", [], details)


def _details(stale: list[StaleRead], exposed: int, reads: list[Completed],
             bound_s: float | None) -> dict[str, Any]:
    worst = sorted(stale, key=lambda s: -s.stale_s)[:WORST]
    sources: dict[str, dict[str, int]] = {}
    for r in reads:
        src = str((r.completion.get("source") if r.completion else None) or "-")
        sources.setdefault(src, {"reads": 0, "stale": 0})["reads"] += 1
    for s in stale:
        src = str((s.read.completion.get("source") if s.read.completion else None) or "-")
        sources[src]["stale"] += 1
    return {
        "reads": len(reads), "reads_after_a_write": exposed, "stale_reads": len(stale),
        "max_stale_s": round(max((s.stale_s for s in stale), default=0.0), 4),
        "max_versions_behind": max((s.versions_behind for s in stale), default=0),
        "bound_s": bound_s, "by_source": sources,
        "worst": [{"ops": s.read.indices, "key": s.read.key, "stale_s": round(s.stale_s, 4),
                   "versions_behind": s.versions_behind} for s in worst],
    }


class StalenessChecker:
    name = NAME

    def __init__(self, bound_s: float | None = None):
        self.bound_s = bound_s

    def check(self, history: History) -> Verdict:
        return check_staleness(history, self.bound_s)


Bound = Callable[[History], tuple[float, str]]

FILLS = ("miss", "refilled", "fill")  # a read's ``source`` when it filled the cache


def races(history: History) -> tuple[int, int]:
    """Chances for a "never stale" cache to go stale: pairs of writes of one key whose
    intervals overlap (write-through: they may commit in one order and SET the cache in the
    other), and fills (reads whose ``source`` is a miss or refill) overlapping a write of their
    key (invalidate-on modify: the fill's old row may be SET after the write's DEL). An
    operation whose outcome is unknown is open until the end of the history."""
    last = max((op.time for op in history.ops), default=0)
    writes: dict[Any, list[tuple[int, int]]] = {}
    fills: list[tuple[Any, int, int]] = []
    for c in history.complete():
        if not c.invoke.is_client or c.type == "fail":
            continue
        span = (c.start, last if c.end is None else c.end)
        if c.f == "write":
            writes.setdefault(c.key, []).append(span)
        elif (c.f == "read" and c.completion is not None
              and c.completion.get("source") in FILLS):
            fills.append((c.key, *span))
    overlapping = 0
    for spans in writes.values():
        spans.sort()
        for i, (_, end) in enumerate(spans):
            overlapping += sum(1 for start, _ in spans[i + 1:] if start < end)
    filled = sum(1 for key, start, end in fills
                 if any(ws < end and start < we for ws, we in writes.get(key, [])))
    return overlapping, filled


@dataclass
class StalenessBound:
    """Judge: reads are stale by at most ``bound`` (seconds, or a function of the history
    giving the bound and why; None: never stale). ``stale_expected``: the claim says stale
    data can be served, so an upheld needs a stale read (else the possibility was never
    shown: inconclusive)."""

    bound: float | Bound | None
    stale_expected: bool = False
    only_final: bool = False  # judge only the final reads (the cache after quiesce)
    name: str = "staleness-bound"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        limit = ("never" if self.bound is None else "within the bound")
        self.exercises = (f"reads that began after a write of their key completed, each stale "
                          f"{limit}" + (", and a stale read served" if self.stale_expected
                                        else "")
                          + (", with a race that could stale the cache (overlapping writes "
                             "of one key, or a fill overlapping a write)" if self.bound is None
                             else ""))

    def _bound(self, history: History) -> tuple[float | None, str]:
        if self.bound is None:
            return None, "never stale"
        if callable(self.bound):
            return self.bound(history)
        return float(self.bound), f"{self.bound}s"

    def _verdict(self, history: History) -> tuple[Verdict, str]:
        bound, why = self._bound(history)
        h = history
        if self.only_final:
            keep = {i for c in history.complete() if c.f != "read" or c.is_final
                    for i in c.indices}
            h = History([op for op in history.ops if op.index in keep or not op.is_client],
                        meta=history.meta)
        return check_staleness(h, bound), why

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        v, why = self._verdict(history)
        d = v.details
        exposed, n_stale = d.get("reads_after_a_write", 0), d.get("stale_reads", 0)
        if not exposed:
            return Exercise(False, "no read began after a write of its key had completed")
        race = ""
        if self.bound is None:  # "never stale": only a race could make it stale
            overlapping, filled = races(history)
            if not overlapping + filled:
                return Exercise(False, f"{exposed} reads after a write, but no two writes of "
                                       "one key overlapped and no cache fill overlapped a "
                                       "write of its key: nothing could have gone stale")
            race = (f"; {overlapping} pairs of overlapping writes of one key, {filled} fills "
                    "overlapping a write of their key")
        if self.stale_expected and not n_stale:
            return Exercise(False, f"{exposed} reads after a write, none served stale data: "
                                   "the possibility was not shown")
        return Exercise(True, f"{exposed} reads began after a write of their key completed; "
                              f"{n_stale} served stale data (worst {d.get('max_stale_s')}s, "
                              f"{d.get('max_versions_behind')} versions behind; bound: {why})"
                              f"{race}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        v, why = self._verdict(history)
        if v.result == "invalid":
            n = len(v.anomalies)
            return Ruling(REFUTED, f"{n} read(s) stale beyond the bound ({why}): worst "
                                   f"{v.details.get('max_stale_s')}s, "
                                   f"{v.details.get('max_versions_behind')} versions behind",
                          v.anomalies)
        if v.result == "unknown":
            return Ruling(INCONCLUSIVE, v.reason)
        if self.stale_expected and not v.details.get("stale_reads"):
            return Ruling(INCONCLUSIVE, "no stale read was served")
        return Ruling(UPHELD, f"{v.details['stale_reads']} stale read(s) of "
                              f"{v.details['reads_after_a_write']}, all within the bound "
                              f"({why}); worst {v.details['max_stale_s']}s")
