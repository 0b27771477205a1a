"""Judges of the caching claims that the staleness checker alone does not decide.

- ``ttl_bound(ttl_s, granularity_s)``: the staleness bound of a TTL cache, from the history:
  the configured TTL, plus the cache's expiry granularity (Memcached counts whole seconds),
  plus the longest fill the clients measured (a value read from the database at t and SET by
  t + fill lives until t + fill + TTL, so it can be that much staler than its superseding
  commit). No wall-clock guess.
- ``WriteAround``: with writes going to the database only, a cache hit on a written value
  follows a miss that fetched it (a fill that began before the hit completed); a hit on a
  value no fill had begun to fetch refutes it. Stale hits (the old value served while it was
  still cached: what the claim omits) are counted.
- ``FlushLoss``: a write-back buffer loses acknowledged writes when it crashes, and only those
  acknowledged within the flush window before the crash (the flusher's longest gap between
  reads of the buffer plus its longest flush, as it measured them: ``topology.flush_window``).
- ``StaleWhileDown``: a CDN edge serving expired entries while its origin is down
  (``proxy_cache_use_stale``): available for what it had cached, staler than the TTL only
  when it says ``STALE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...checkers.judge import (
    INCONCLUSIVE,
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
from ...checkers.staleness import Bound, stale_reads
from ...checkers.verdict import Anomaly
from ...history import Completed, History


def longest_fill_s(history: History) -> float:
    return max((float(c.completion.get("fill_s") or 0.0) for c in history.complete()
                if c.f == "read" and c.type == "ok" and c.completion is not None), default=0.0)


def ttl_bound(ttl_s: float, granularity_s: float = 0.0) -> Bound:
    """The bound of a TTL cache, see the module docstring."""

    def bound(history: History) -> tuple[float, str]:
        fill = longest_fill_s(history)
        extra = f" + expiry granularity {granularity_s}s" if granularity_s else ""
        return (ttl_s + granularity_s + fill,
                f"TTL {ttl_s}s{extra} + longest measured fill {fill:.3f}s")

    return bound


@dataclass
class WriteAround:
    name: str = "write-around"
    exercises: str = "cache hits on values written to the database, and stale hits after writes"

    def _hits(self, history: History) -> tuple[list[Completed], list[Completed], int]:
        """Hits on written values, those no fill explains, and the stale hits. A fill (a
        miss that fetched the value from the database and SET it) explains a hit on its value
        when it began before the hit completed: its SET may have come first."""
        reads = [c for c in history.complete() if c.invoke.is_client and c.f == "read"
                 and c.type == "ok" and c.value is not None and c.completion is not None]
        fills: dict[tuple[object, object], int] = {}
        for c in reads:
            if c.completion is not None and c.completion.get("source") != "hit":
                k = (c.key, _hashable(c.value))
                fills[k] = min(fills.get(k, c.start), c.start)
        hits = [c for c in reads if c.completion is not None
                and c.completion.get("source") == "hit"]
        unexplained = [c for c in hits
                       if fills.get((c.key, _hashable(c.value)), c.end or 0) >= (c.end or 0)]
        stale = sum(1 for s in stale_reads(history)[0]
                    if s.read.completion is not None and s.read.completion.get("source") == "hit")
        return hits, unexplained, stale

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        hits, _, stale = self._hits(history)
        if not hits:
            return Exercise(False, "no cache hit returned a written value")
        return Exercise(True, f"{len(hits)} cache hits on written values; {stale} of them "
                              "stale (the old value served after the write)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        hits, unexplained, stale = self._hits(history)
        if not hits:
            return Ruling(INCONCLUSIVE, "no cache hit returned a written value")
        if unexplained:
            return Ruling(REFUTED, f"{len(unexplained)} cache hit(s) on a value no fill had "
                                   "fetched: the write reached the cache", [
                Anomaly("cache-hit-before-fill", c.indices,
                        f"read of {c.key!r} hit {c.value!r}, which no miss had begun to fetch "
                        "before the hit completed", key=c.key) for c in unexplained[:20]])
        return Ruling(UPHELD, f"each of {len(hits)} cache hits on a written value came after "
                              f"a miss that fetched it from the database; {stale} hits served "
                              "the old value after a write (stale, not a miss)")


def _hashable(v: object) -> object:
    return tuple(v) if isinstance(v, list) else v


@dataclass
class FlushLoss:
    """Write-back: the crash of the buffer (``fault``) loses acknowledged writes, each
    acknowledged within ``window(history)`` seconds (the flush window, and why) before the
    crash. Lost: an acknowledged write whose key's final read (of the database) does not
    show its value, and that was the key's last write (every other write of the key, not
    failed, had completed before it began: a write overwritten later, or racing another, may
    rightly be gone)."""

    window: Callable[[History], tuple[float, str]]
    fault: str = "kill"
    name: str = "flush-loss"
    exercises: str = field(default="acknowledged writes before every crash of the buffer, "
                                   "and final reads of the database that could show their loss")

    def _lost(self, history: History) -> list[Completed]:
        finals: dict[object, object] = {}
        for c in history.complete():
            if c.is_final and c.f == "read" and c.type == "ok":
                finals[c.key] = c.value
        writes: dict[object, list[Completed]] = {}
        for c in client_ops(history):
            if c.f == "write" and c.type != "fail":
                writes.setdefault(c.key, []).append(c)

        def last(c: Completed) -> bool:  # every other write of its key completed before it
            return all(w is c or (w.end is not None and w.end < c.start)
                       for w in writes[c.key])

        return [c for ws in writes.values() for c in ws if c.type == "ok"
                and c.key in finals and finals[c.key] != c.invoke.value and last(c)]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} window")
        lost = self._lost(history)
        if not lost:
            return Exercise(False, f"no acknowledged write was lost by the {len(windows)} "
                                   f"{self.fault}(s): nothing was in the buffer")
        return Exercise(True, f"{len(lost)} acknowledged writes lost by "
                              f"{len(windows)} {self.fault}(s)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = sorted(windows_of(history, self.fault), key=lambda w: w.start)
        lost = self._lost(history)
        if not lost:
            return Ruling(INCONCLUSIVE, "no acknowledged write was lost")
        window, why = self.window(history)
        beyond: list[Anomaly] = []
        worst = 0.0
        for c in lost:
            assert c.completion is not None
            crash = next((w for w in windows if w.start >= c.invoke.time), None)
            if crash is None:
                beyond.append(Anomaly("lost-without-crash", c.indices,
                                      f"{c.key!r} acknowledged after the last crash and lost",
                                      key=c.key))
                continue
            age = (crash.onset - c.completion.time) / NS
            worst = max(worst, age)
            if age > window:
                beyond.append(Anomaly(
                    "lost-beyond-flush-window", c.indices,
                    f"{c.key!r} acknowledged {age:.3f}s before the crash, longer than the "
                    f"flush window ({why}): a flush should have saved it", key=c.key))
        if beyond:
            return Ruling(REFUTED, f"{len(beyond)} of {len(lost)} lost writes are not explained "
                                   f"by the flush window ({why})", beyond)
        return Ruling(UPHELD, f"{len(lost)} acknowledged writes lost, all acknowledged within "
                              f"the flush window before the crash (oldest {worst:.3f}s; "
                              f"window: {why})")


@dataclass
class StaleWhileDown:
    """A CDN with ``proxy_cache_use_stale`` while its origin is down (``fault``): every read of
    an object the edge had cached is answered (availability over freshness), the expired
    entry served as ``STALE``, and any read not served ``STALE`` is within ``bound``."""

    bound: Bound
    fault: str = "pause"
    name: str = "stale-while-origin-down"
    exercises: str = field(default="reads of cached objects during every origin outage, "
                                   "answered from expired entries (STALE)")

    def _during(self, history: History) -> tuple[list[Completed], list[Completed]]:
        """Reads of objects read before the outage, begun during it: answered, failed."""
        answered: list[Completed] = []
        failed: list[Completed] = []
        ops = [c for c in client_ops(history) if c.f == "read"]
        for w in windows_of(history, self.fault):
            cached = {c.key for c in ops if c.type == "ok" and c.end is not None
                      and c.end < w.onset}
            for c in ops:
                if c.key in cached and in_window(c, w):
                    (answered if c.type == "ok" else failed).append(c)
        return answered, failed

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        if not windows_of(history, self.fault):
            return Exercise(False, f"no {self.fault} window")
        answered, failed = self._during(history)
        stale = [c for c in answered if c.completion is not None
                 and c.completion.get("source") == "STALE"]
        if not stale:
            return Exercise(False, f"{len(answered)} reads of cached objects answered during "
                                   "the outage, none from an expired entry (STALE)")
        return Exercise(True, f"{len(stale)} reads answered STALE during the outage "
                              f"({len(answered)} answered, {len(failed)} failed)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        answered, failed = self._during(history)
        bound, why = self.bound(history)
        beyond = [s for s in stale_reads(history)[0] if s.stale_s > bound and (
            s.read.completion is None or s.read.completion.get("source") != "STALE")]
        anomalies = [Anomaly("unavailable-while-cached", c.indices,
                             f"read of {c.key!r} failed during the outage although the edge "
                             "had it cached", key=c.key) for c in failed[:20]]
        anomalies += [Anomaly("stale-beyond-bound", s.read.indices,
                              f"read of {s.read.key!r} stale by {s.stale_s:.3f}s, not served "
                              f"as STALE, beyond {why}", key=s.read.key) for s in beyond[:20]]
        if anomalies:
            return Ruling(REFUTED, f"{len(failed)} reads of cached objects failed during the "
                                   f"outage; {len(beyond)} fresh-looking reads beyond the TTL "
                                   f"bound ({why})", anomalies)
        if not answered:
            return Ruling(INCONCLUSIVE, "no read of a cached object during the outage")
        return Ruling(UPHELD, f"all {len(answered)} reads of cached objects during the outage "
                              f"answered; reads not served STALE within {why}")
