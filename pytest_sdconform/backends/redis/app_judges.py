"""Judges of the application patterns of ``apps.py``: a leaderboard's scores against the model
of acknowledged points, a crawler's duplicate detection, a key generation service's IDs, cache
entries that expire, and what exercises a lease lock (decided by ``checkers/mutex.py``)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ...checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    ExerciseRule,
    Ruling,
    Verdicts,
    client_ops,
    described,
    windows_of,
)
from ...checkers.mutex import holds
from ...checkers.verdict import Anomaly
from ...history import Completed, History

LIMIT = 20  # anomalies kept per kind


def _done(c: Completed) -> int:
    assert c.completion is not None
    return c.completion.time


def _at(c: Completed) -> str:
    return f"{_done(c) / 1e9:.3f}s"


def _per_window(history: History, fault: str | None, count: Any, what: str) -> Exercise | None:
    """None when every window of ``fault`` has ``count(window) > 0``; else why not."""
    windows = windows_of(history, fault)
    if not windows:
        return None
    counts = [count(w) for w in windows]
    if not all(counts):
        return Exercise(False, f"no {what} in {counts.count(0)} of {len(windows)} "
                               f"{fault or 'fault'} windows")
    return None


def failed_over(history: History, fault: str | None) -> Exercise | None:
    """None when acknowledged calls came from two or more nodes (a primary was replaced), or
    there is no fault to fail over; else why the failover was not exercised."""
    if not windows_of(history, fault):
        return None
    nodes = {str(c.completion.node) for c in client_ops(history)
             if c.type == "ok" and c.completion is not None and c.completion.node is not None}
    if len(nodes) < 2:
        return Exercise(False, f"every acknowledged call came from {', '.join(sorted(nodes))}: "
                               "no failover happened")
    return None


def lock_contended(fault: str | None = None) -> ExerciseRule:
    """Exercised when two or more clients held the lock, acquires were refused because it was
    held, and (with faults) the lock was taken both before and after the start of every
    window: mutual exclusion was really contended, across the fault."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        hs = holds(history)
        refused = sum(1 for c in client_ops(history) if c.f == "acquire" and c.type == "fail")
        holders = len({h.process for h in hs})
        if holders < 2 or not refused:
            return Exercise(False, f"{len(hs)} holds by {holders} clients, {refused} acquires "
                                   "refused: the lock was not contended")
        missing = _per_window(history, fault, lambda w: sum(
            1 for h in hs if h.start < w.start) * sum(1 for h in hs if h.start >= w.start),
            "hold both before and after the start") or (failed_over(history, fault)
                                                       if fault else None)
        if missing:
            return missing
        return Exercise(True, f"{len(hs)} holds by {holders} clients, {refused} acquires "
                              "refused while the lock was held")

    return described(rule, "two or more clients holding the lock, acquires refused while it "
                           "was held" + (f", holds before and after every {fault}" if fault
                                         else ""))


@dataclass
class LeaderboardMatches:
    """Every ranking read shows each player's score as the model of points has it: no less
    than the points acknowledged before the read began (up to date; for the final read: none
    lost), no more than the points attempted before it ended (no phantom). Ranks follow from
    the scores, so a wrong score is a wrong rank; the reason counts the ranks it displaced.

    Exercised: a final read, and ranking reads made while points were being scored."""

    fault: str | None = None  # with a fault: points acknowledged by two primaries
    name: str = "leaderboard-model"
    exercises: str = "ranking reads while points were scored concurrently, and a final read"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        ops = client_ops(history)
        incrs = sorted((c for c in ops if c.f == "incr"), key=lambda c: c.invoke.time)
        starts = [c.invoke.time for c in incrs]
        reach: list[float] = []  # the latest end among the points invoked so far
        for c in incrs:
            end = float("inf") if c.end is None else c.end
            reach.append(max(end, reach[-1]) if reach else end)
        busy = 0
        for r in ops:
            if r.f == "read" and r.type == "ok":
                n = bisect.bisect_left(starts, _done(r))
                busy += n > 0 and reach[n - 1] > r.invoke.time
        final = [c for c in history.complete() if c.is_final and c.type == "ok"]
        if not final or not busy:
            return Exercise(False, f"{len(final)} final reads, {busy} ranking reads overlapping "
                                   "a score")
        if self.fault and (why := failed_over(history, self.fault)):
            return why
        return Exercise(True, f"{busy} ranking reads overlapped scoring, {len(incrs)} points "
                              "scored, a final read")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        everything = history.complete()
        incrs = [c for c in everything if c.f == "incr" and c.process != "nemesis"]
        reads = [c for c in everything if c.f == "read" and c.type == "ok"]
        if not reads:
            return Ruling(INCONCLUSIVE, "no ranking read succeeded")
        acked = sorted((_done(c), c) for c in incrs if c.type == "ok")
        tried = sorted((c.invoke.time, c) for c in incrs if c.type != "fail")
        low: dict[int, dict[str, int]] = {}
        high: dict[int, dict[str, int]] = {}
        for events, at, out in ((acked, lambda r: r.invoke.time, low),
                                (tried, _done, high)):
            totals: dict[str, int] = defaultdict(int)
            i = 0
            for r in sorted(reads, key=at):
                while i < len(events) and events[i][0] < at(r):
                    c = events[i][1]
                    totals[str(c.value[0])] += int(c.value[1])
                    i += 1
                out[r.invoke.index] = dict(totals)
        anomalies: dict[str, list[Anomaly]] = defaultdict(list)
        counts: dict[str, int] = defaultdict(int)
        displaced = 0
        for r in reads:
            shown = {str(p): int(s) for p, s in (r.value or [])}
            lo, hi = low[r.invoke.index], high[r.invoke.index]
            kind_lo = "lost-points" if r.is_final else "stale-score"
            bad = False
            for player in sorted(set(shown) | set(lo) | set(hi)):
                s, a, t = shown.get(player, 0), lo.get(player, 0), hi.get(player, 0)
                kind = kind_lo if s < a else "phantom-score" if s > t else None
                if kind is None:
                    continue
                bad = True
                counts[kind] += 1
                if len(anomalies[kind]) < LIMIT:
                    anomalies[kind].append(Anomaly(kind, list(r.indices), (
                        f"{'final' if r.is_final else 'ranking'} read shows {player} at {s}: "
                        f"{a} points were acknowledged before it began, {t} attempted "
                        "before it ended"), player))
            if bad:
                model = sorted(lo, key=lambda p: (-lo[p], p))
                ranks = [p for p, _ in sorted(shown.items(), key=lambda x: (-x[1], x[0]))]
                displaced += sum(1 for i, p in enumerate(ranks)
                                 if i >= len(model) or model[i] != p)
        found = [a for kind in sorted(anomalies) for a in anomalies[kind]]
        if found:
            what = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            return Ruling(REFUTED, f"{what} among {len(reads)} ranking reads; "
                                   f"{displaced} ranks shown out of the model's order", found)
        return Ruling(UPHELD, f"{len(reads)} ranking reads all within the model of "
                              f"{len(acked)} acknowledged points")


@dataclass
class ProcessedOnce:
    """A URL is processed once: of the ``visit`` calls of one URL, at most one is acknowledged
    as its first sighting (``True``); the rest must be caught as duplicates (``False``).

    Exercised: duplicates caught, and (with faults) URLs already processed offered again after
    the start of every window. The reason also counts URLs never processed (the first sighting
    was lost in flight and every later offer was told it was a duplicate)."""

    fault: str | None = None
    name: str = "processed-once"
    exercises: str = "URLs offered again after they were processed, across every fault"

    def _visits(self, history: History) -> dict[Any, list[Completed]]:
        out: dict[Any, list[Completed]] = defaultdict(list)
        for c in client_ops(history):
            if c.f == "visit":
                out[c.key].append(c)
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        visits = self._visits(history)
        caught = sum(1 for cs in visits.values() for c in cs
                     if c.type == "ok" and c.value is False)
        if not caught:
            return Exercise(False, "no duplicate offer was caught")
        first = {u: min((_done(c) for c in cs if c.type == "ok" and c.value is True),
                        default=None) for u, cs in visits.items()}

        def again(w: Any) -> int:
            n = 0
            for u, cs in visits.items():
                done = first[u]
                if done is not None:
                    n += sum(1 for c in cs if c.invoke.time >= w.start and c.invoke.time > done)
            return n

        missing = _per_window(history, self.fault, again, "re-offer of a processed URL "
                                                          "after the start") or (
            failed_over(history, self.fault) if self.fault else None)
        if missing:
            return missing
        return Exercise(True, f"{caught} duplicate offers caught among {len(visits)} URLs")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        visits = self._visits(history)
        if not visits:
            return Ruling(INCONCLUSIVE, "no URL was offered")
        anomalies: list[Anomaly] = []
        twice = never = 0
        for url, cs in visits.items():
            firsts = sorted((c for c in cs if c.type == "ok" and c.value is True), key=_done)
            if len(firsts) > 1:
                twice += 1
                if len(anomalies) < LIMIT:
                    anomalies.append(Anomaly("processed-twice",
                                             [i for c in firsts for i in c.indices],
                                             f"{url} acknowledged as new {len(firsts)} times, "
                                             f"at {', '.join(_at(c) for c in firsts)}",
                                             url))
            never += not firsts and any(c.type == "ok" for c in cs)
        tail = f"; {never} URLs were never processed (first sighting lost in flight)"
        if anomalies:
            return Ruling(REFUTED, f"{twice} of {len(visits)} URLs processed more than once"
                          + tail, anomalies)
        return Ruling(UPHELD, f"{len(visits)} URLs, none processed twice" + tail)


@dataclass
class HandedOutOnce:
    """No ID is handed out twice: every acknowledged ``take`` returned an ID no other did.

    Exercised: IDs handed out before and after the start of every fault window (without
    faults: concurrent takes), so a reissue could show."""

    fault: str | None = None
    name: str = "handed-out-once"
    exercises: str = "IDs taken before and after the start of every fault"

    def _taken(self, history: History) -> list[Completed]:
        return [c for c in client_ops(history)
                if c.f == "take" and c.type == "ok" and c.value is not None]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        ids = self._taken(history)
        if len(ids) < 2:
            return Exercise(False, f"{len(ids)} IDs taken")
        missing = _per_window(history, self.fault, lambda w: sum(
            1 for c in ids if _done(c) < w.start) * sum(
            1 for c in ids if c.invoke.time >= w.start), "ID taken both before and after "
                                                          "the start") or (
            failed_over(history, self.fault) if self.fault else None)
        if missing:
            return missing
        return Exercise(True, f"{len(ids)} IDs taken by {len({c.process for c in ids})} "
                              "clients")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        ids = self._taken(history)
        empty = sum(1 for c in client_ops(history)
                    if c.f == "take" and c.type == "ok" and c.value is None)
        seen: dict[Any, list[Completed]] = defaultdict(list)
        for c in ids:
            if not isinstance(c.value, int) or isinstance(c.value, bool):
                raise ValueError(f"take at index {c.invoke.index} returned {c.value!r}, not "
                                 "an integer ID")
            seen[c.value].append(c)
        twice = {v: cs for v, cs in seen.items() if len(cs) > 1}
        note = f" ({empty} takes found the list empty)" if empty else ""
        if twice:
            return Ruling(REFUTED, f"{len(twice)} IDs handed out more than once among "
                                   f"{len(ids)}{note}", [
                Anomaly("duplicate-id", [i for c in cs for i in c.indices],
                        f"ID {v} handed out {len(cs)} times, at "
                        f"{', '.join(_at(c) for c in cs)}")
                for v, cs in sorted(twice.items())[:LIMIT]])
        return Ruling(UPHELD, f"{len(ids)} IDs handed out, all unique{note}")


@dataclass
class ExpiredNeverServed:
    """A key written with a time to live is never served after it expired, and is served until
    it does. Values are unique, so a read names the write it saw. The server starts the TTL
    when it applies the write, between the write's invocation and its acknowledgement; its
    clock has a resolution of ``resolution_ms`` (Redis: 1 ms). Refuted by a read invoked more
    than ttl + resolution after the acknowledgement of the write it shows (``served-expired``),
    a key gone in a read that ended before ttl after its write's invocation with no other
    write of that key in between (``gone-early``), or a value never written (``phantom``).
    Writes with an unknown outcome have no known start: reads of them are not judged.
    ``early=False`` (reads from a replica): a key not yet there may be replication lag, which
    the replica cases decide; only serving expired values counts.

    Exercised: reads invoked after a key's latest write expired that found it gone."""

    resolution_ms: float = 1.0
    early: bool = True
    name: str = "expired-never-served"
    exercises: str = "reads of keys whose latest write had expired"

    def _findings(self, history: History) -> tuple[list[Anomaly], dict[str, int]]:
        ops = client_ops(history)
        writes = [c for c in ops if c.f == "setex" and c.type != "fail"]
        by_value = {c.value: c for c in writes}
        by_key: dict[Any, list[Completed]] = defaultdict(list)
        for w in writes:
            by_key[w.key].append(w)
        margin = int(self.resolution_ms * 1e6)
        counts: dict[str, int] = defaultdict(int)
        anomalies: list[Anomaly] = []

        def ttl(w: Completed) -> int:
            raw = w.completion.get("ttl_ms") if w.completion is not None else None
            raw = raw if raw is not None else w.invoke.get("ttl_ms")
            if not isinstance(raw, int | float) or isinstance(raw, bool) or raw <= 0:
                raise ValueError(f"setex at index {w.invoke.index}: no positive ttl_ms "
                                 f"({raw!r})")
            return int(raw * 1e6)

        def flag(kind: str, r: Completed, w: Completed | None, why: str) -> None:
            counts[kind] += 1
            if counts[kind] <= LIMIT:
                anomalies.append(Anomaly(kind, [*(w.indices if w else []), *r.indices], why,
                                         r.key))

        for r in (c for c in ops if c.f == "read" and c.type == "ok"):
            if r.value is not None:
                seen = by_value.get(r.value)
                if seen is None or seen.key != r.key:
                    flag("phantom", r, None, f"{r.key} read {r.value}, never written there")
                elif seen.type == "ok" and r.invoke.time > _done(seen) + ttl(seen) + margin:
                    late = (r.invoke.time - _done(seen) - ttl(seen)) / 1e6
                    flag("served-expired", r, seen, f"{r.key} served {r.value} {late:.1f} ms "
                                                    "after its time to live ran out")
                else:
                    counts["served-live"] += 1
                continue
            before = [w for w in by_key[r.key] if w.invoke.time < _done(r)]
            if not before:
                continue
            last = max(before, key=lambda w: w.invoke.time)
            if any(w is not last and w.end is not None and w.end > last.invoke.time
                   for w in before) or last.type != "ok":
                continue  # overlapping or unknown writes: which one counts is not known
            if r.invoke.time > _done(last) + ttl(last) + margin:
                counts["expired-gone"] += 1
            elif (self.early and _done(r) < last.invoke.time + ttl(last)
                  and _done(last) < r.invoke.time):
                gone = (_done(r) - last.invoke.time) / 1e6
                flag("gone-early", r, last, f"{r.key} gone {gone:.1f} ms after its write of "
                                            f"{last.value}, before its time to live")
        return anomalies, counts

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        _, counts = self._findings(history)
        n = counts["expired-gone"]
        return Exercise(n > 0, f"{n} reads found an expired key gone, {counts['served-live']} "
                               "served a live one")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        anomalies, counts = self._findings(history)
        bad = {k: n for k, n in counts.items() if k in ("phantom", "served-expired",
                                                         "gone-early")}
        if bad:
            return Ruling(REFUTED, ", ".join(f"{n} {k}" for k, n in sorted(bad.items())),
                          anomalies)
        return Ruling(UPHELD, f"{counts['expired-gone']} reads after expiry found the key "
                              f"gone, {counts['served-live']} before it served the value")
