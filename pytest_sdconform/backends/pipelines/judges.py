"""Judges of the pipeline claims: how fresh a copy fed by a pipeline (a CDC topic, an event
sourcing projection) is against the source whose writes were acknowledged, whether a relay
crash between publish and mark was really exercised, and whether an acknowledged append is
readable at once (``Visibility``: the high watermark against the append's offset).

A read of key ``k`` from the copy is *stale* when a write of ``k`` was acknowledged before the
read began and the read returned nothing, or a value whose own write had completed before
that write began (so the source held the newer one, in real time, before the read). Values
are unique per history, so a value names its write (a value no write wrote is a *phantom*,
``phantom-read``, refuting either freshness claim). Concurrent writes may show in either
order: no read is called stale for them. No clock bound is assumed anywhere; the figures
(how long before the read the missed write was acknowledged) are what the history shows.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Any

from ...checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    ExerciseRule,
    Ruling,
    Verdicts,
    evidence,
    windows_of,
)
from ...history import NEMESIS, Completed, History


@dataclass
class Stale:
    read: Completed
    missed: Completed  # the newest write acknowledged before the read that it did not see

    @property
    def behind_ms(self) -> float:
        """How long before the read began the missed write had been acknowledged."""
        return (self.read.start - (self.missed.end or self.read.start)) / 1e6


def _writes(history: History) -> dict[object, list[Completed]]:
    by_key: dict[object, list[Completed]] = defaultdict(list)
    for c in history.complete():
        if c.f == "write" and c.process != NEMESIS:
            by_key[c.key].append(c)
    return by_key


def stale_reads(history: History) -> tuple[list[Stale], int]:
    """The stale reads, and how many reads could have been (began after an acknowledged write
    of their key)."""
    writes = _writes(history)
    by_value = {w.invoke.value: w for ws in writes.values() for w in ws}
    stale: list[Stale] = []
    judged = 0
    for r in history.complete():
        if r.f != "read" or r.type != "ok" or r.key not in writes:
            continue
        before = [w for w in writes[r.key] if w.type == "ok" and w.end is not None
                  and w.end < r.start]
        if not before:
            continue
        if r.value is not None and r.value not in by_value:
            continue  # a value no write wrote: a phantom (phantom_reads), not a stale read
        judged += 1
        seen = by_value.get(r.value) if r.value is not None else None
        newer = [w for w in before if seen is None or (
            seen is not w and seen.end is not None and seen.end < w.start)]
        if newer:
            stale.append(Stale(r, max(newer, key=lambda w: w.end or 0)))
    return stale, judged


def phantom_reads(history: History) -> list[Completed]:
    """Reads of a written key that returned a value no write wrote (invented, or another
    system's data): not stale, wrong."""
    writes = _writes(history)
    values = {w.invoke.value for ws in writes.values() for w in ws}
    return [r for r in history.complete() if r.f == "read" and r.type == "ok"
            and r.key in writes and r.value is not None and r.value not in values]


def racing_reads(history: History) -> list[Completed]:
    """Reads that began while an acknowledged write of their key may still have been on its
    way to the copy: after the write's acknowledgement and before the first read that showed
    the copy holding it (the earliest completion of a read returning its value or a value
    written after it), the propagation the history measured. A read begun after that showed
    nothing about the claim (the copy already had the write)."""
    writes = _writes(history)
    by_value = {w.invoke.value: w for ws in writes.values() for w in ws}
    reads = [r for r in history.complete() if r.f == "read" and r.type == "ok"
             and r.end is not None and r.key in writes]
    by_key: dict[object, list[Completed]] = defaultdict(list)
    for r in reads:
        by_key[r.key].append(r)
    windows: dict[object, list[tuple[int, float]]] = defaultdict(list)  # (ack, first shown)
    for key, ws in writes.items():
        for w in ws:
            if w.type != "ok" or w.end is None:
                continue
            shown = [float(o.end) for o in by_key[key] if o.end is not None
                     and (seen := by_value.get(o.value)) is not None
                     and (seen is w or seen.start > w.end)]
            windows[key].append((w.end, min(shown, default=float("inf"))))
    return [r for r in reads if any(ack < r.start < shown for ack, shown in windows[r.key])]


def _figures(stale: list[Stale], judged: int) -> str:
    behind = [s.behind_ms for s in stale]
    return (f"{len(stale)} of {judged} reads after an acknowledged write missed it (the missed "
            f"write acknowledged {median(behind):.0f} ms before the read at the median, "
            f"{max(behind):.0f} ms at most)")


@dataclass
class Freshness:
    """``immediate``: the claim that the copy reflects every acknowledged write at once;
    refuted by any stale read. ``may-lag``: the claim that reads may lag and the copy
    converges: upheld when a stale read shows the lag and every final read is fresh, refuted
    by a stale final read (no convergence after the heal), inconclusive when no lag showed."""

    claim: str = "immediate"
    name: str = "freshness"
    exercises: str = ("reads of the copy begun after an acknowledged write of their key "
                      "(immediate: before a read had shown the copy holding it)")

    def __post_init__(self) -> None:
        if self.claim not in ("immediate", "may-lag"):
            raise ValueError(f"freshness claim {self.claim!r}: immediate or may-lag")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        _, judged = stale_reads(history)
        finals = [c for c in history.complete() if c.f == "read" and c.is_final
                  and c.type == "ok"]
        if not judged:
            return Exercise(False, "no read began after an acknowledged write of its key")
        if self.claim == "may-lag" and not finals:
            return Exercise(False, "no final read of the copy succeeded")
        if self.claim == "immediate":
            racing = len(racing_reads(history))
            if not racing:
                return Exercise(False, f"{judged} reads after acknowledged writes, none begun "
                                       "before a read had shown the copy holding the write")
            return Exercise(True, f"{judged} reads after acknowledged writes, {racing} begun "
                                  "before a read had shown the copy holding the write")
        return Exercise(True, f"{judged} reads after acknowledged writes, "
                              f"{len(finals)} final reads")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        phantoms = phantom_reads(history)
        if phantoms:
            text = (f"{len(phantoms)} reads of the copy returned a value no write wrote "
                    f"(first: {phantoms[0].key!r} = {phantoms[0].value!r})")
            return Ruling(REFUTED, text, evidence("phantom-read", phantoms, text))
        stale, judged = stale_reads(history)
        final = [s for s in stale if s.read.is_final]
        if self.claim == "immediate":
            if stale:
                text = "not immediate: " + _figures(stale, judged)
                return Ruling(REFUTED, text, evidence("stale-read", [s.read for s in stale],
                                                      text))
            return Ruling(UPHELD, f"all {judged} reads after acknowledged writes saw them")
        if final:
            text = f"{len(final)} final reads (after the heal and settle) still stale"
            return Ruling(REFUTED, text, evidence("not-converged", [s.read for s in final],
                                                  text))
        if not stale:
            return Ruling(INCONCLUSIVE, f"no read lagged ({judged} reads after acknowledged "
                                        "writes all saw them): the lag never showed")
        return Ruling(UPHELD, f"reads lagged and the copy converged: {_figures(stale, judged)}")


def published_twice(fault: str = "kill") -> ExerciseRule:
    """Exercised when the relay was crashed (``fault`` windows) and a message was published
    twice: a crash landed between publish and mark, the case the claim is about."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault} window in the history")
        v = verdicts.get("outbox")
        duplicates = int(v.details.get("duplicates", 0)) if v is not None else 0
        if not duplicates:
            return Exercise(False, f"{len(windows)} relay crashes, none between publish and "
                                   "mark (no message published twice)")
        return Exercise(True, f"{len(windows)} relay crashes; {duplicates} messages published "
                              "again after a crash between publish and mark")

    return rule


def invisible_reads(history: History) -> tuple[list[tuple[Completed, Completed]], int]:
    """Reads of a partition's high watermark that show an append acknowledged before the read
    began as not yet readable (watermark at or below its offset), each with the highest such
    append; and how many reads began after an acknowledged append. Offsets are compared only
    within one partition (the ``partition`` an append's or a read's completion names; none
    named: one partition), and two acknowledged appends at one offset of one partition are
    refused (appends to several partitions that do not say which)."""
    acked: dict[Any, list[tuple[int, int, Completed]]] = defaultdict(list)
    offsets: dict[tuple[Any, int], Completed] = {}
    for c in history.complete():
        if not (c.f == "write" and c.type == "ok" and c.end is not None
                and c.completion is not None and c.completion.get("offset") is not None):
            continue
        partition, offset = c.completion.get("partition"), int(c.completion.get("offset"))
        other = offsets.setdefault((partition, offset), c)
        if other is not c:
            raise history.error(
                f"appends {other.invoke.value!r} and {c.invoke.value!r} were both acknowledged "
                f"at offset {offset} of partition {partition!r}: appends to several "
                "partitions must name theirs (``partition``) for their offsets to be compared",
                c.completion.index)
        acked[partition].append((c.end, offset, c))
    ends: dict[Any, list[int]] = {}
    highest: dict[Any, list[tuple[int, Completed]]] = {}  # the highest offset by each end
    for partition, appends in acked.items():
        appends.sort(key=lambda t: t[0])
        ends[partition] = [end for end, _, _ in appends]
        best: list[tuple[int, Completed]] = []
        for _, offset, c in appends:
            best.append(max(best[-1], (offset, c), key=lambda t: t[0]) if best else (offset, c))
        highest[partition] = best
    found: list[tuple[Completed, Completed]] = []
    judged = 0
    for r in history.complete():
        if r.f != "read" or r.type != "ok" or not isinstance(r.value, int):
            continue
        partition = r.completion.get("partition") if r.completion is not None else None
        n = bisect_left(ends.get(partition, []), r.start)  # acknowledged before the read began
        if not n:
            continue
        judged += 1
        offset, append = highest[partition][n - 1]
        if offset >= r.value:
            found.append((r, append))
    return found, judged


@dataclass
class Visibility:
    """The claim "messages are available immediately after they are written": every read of
    the high watermark begun after an append was acknowledged must count it as readable.
    Refuted by a read that does not. ``not_guaranteed``: why the configuration does not promise it
    (acks=1 acknowledges before the followers have the message); there a run without an
    invisible read is inconclusive, never upheld."""

    not_guaranteed: str | None = None
    name: str = "visibility"
    exercises: str = "high-watermark reads begun after acknowledged appends"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        _, judged = invisible_reads(history)
        if not judged:
            return Exercise(False, "no read began after an acknowledged append")
        return Exercise(True, f"{judged} reads after acknowledged appends")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        found, judged = invisible_reads(history)
        if found:
            behind = [(r.start - (w.end or r.start)) / 1e6 for r, w in found]
            text = (f"{len(found)} of {judged} reads after an acknowledged append found it not "
                    f"yet readable (high watermark at or below its offset; acknowledged up to "
                    f"{max(behind):.1f} ms before the read)")
            return Ruling(REFUTED, text, evidence("invisible-append",
                                                  [r for r, _ in found], text))
        if self.not_guaranteed:
            return Ruling(INCONCLUSIVE, f"no invisible append in {judged} reads, but "
                                        f"{self.not_guaranteed}")
        return Ruling(UPHELD, f"all {judged} reads after acknowledged appends counted them "
                              "as readable")


ORDERINGS = {"ts": 3, "seq": 2, "offset": 5}  # the field of an event row each order sorts by


def causal_inversions(history: History, by: str) -> tuple[list[tuple[Completed, str]], int]:
    """Events ordered by ``by`` (``ts``: the publisher's wall clock; ``seq``: the counter one
    past the event it read; ``offset``: the log) before the event their publisher had read
    when publishing them (``prev``: a causal link): each with the poll that first showed it;
    and how many causal links between different publishers there were."""
    field = ORDERINGS[by]
    events: dict[Any, list[Any]] = {}
    first_seen: dict[Any, Completed] = {}
    polls = sorted((c for c in history.complete() if c.f == "poll" and c.type == "ok"
                    and isinstance(c.value, list)), key=lambda c: (c.is_final, c.start))
    for c in polls:
        for row in c.value:
            if isinstance(row, list) and len(row) == 6:
                events.setdefault(row[0], row)
                first_seen.setdefault(row[0], c)
    found: list[tuple[Completed, str]] = []
    crossing = 0
    for value, row in events.items():
        prev = events.get(row[1])
        if prev is None:
            continue
        crossing += prev[4] != row[4]
        if not row[field] > prev[field]:
            found.append((first_seen[value], f"{value} ({by} {row[field]}) follows {prev[0]} "
                                             f"({by} {prev[field]}) causally"))
    return found, crossing


def skewed_links(history: History, fault: str = "clock-skew") -> int:
    """Causal links between two publishers with an end published inside a ``fault`` window:
    first shown by a (non-final) poll that ended inside the window, by a poller whose previous
    poll, begun inside the window too, had not shown it (published at most at the end of the
    poll that showed it, and not yet fetched when the window was already open)."""
    windows = windows_of(history, fault)
    last = max((op.time for op in history.ops), default=0)
    polls = sorted((c for c in history.complete() if c.f == "poll" and c.type == "ok"
                    and isinstance(c.value, list) and not c.is_final and c.end is not None),
                   key=lambda c: c.start)
    previous: dict[Any, Completed] = {}
    inside: set[Any] = set()
    rows: dict[Any, list[Any]] = {}
    for c in polls:
        before = previous.get(c.process)
        previous[c.process] = c
        for row in c.value:
            if not (isinstance(row, list) and len(row) == 6) or row[0] in rows:
                continue
            rows[row[0]] = row
            if before is not None and c.end is not None and any(
                    w.start <= before.start and c.end <= (w.end if w.end is not None else last)
                    for w in windows):
                inside.add(row[0])
    return sum(1 for value, row in rows.items() if (prev := rows.get(row[1])) is not None
               and prev[4] != row[4] and (value in inside or prev[0] in inside))


@dataclass
class CausalOrder:
    """The claim "timestamps or incremental identifiers resolve ordering": ordering the events by
    ``by`` must put every event after the one its publisher had read. Refuted by an event
    ordered before its causal predecessor; exercised by causal links between two publishers
    (and, for timestamps, a clock-skew window: the claim is about clocks that disagree)."""

    by: str = "seq"
    name: str = "causal-order"
    exercises: str = "events published by one publisher after reading another's"

    def __post_init__(self) -> None:
        if self.by not in ORDERINGS:
            raise ValueError(f"order by {self.by!r}: one of {', '.join(ORDERINGS)}")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        _, crossing = causal_inversions(history, self.by)
        if not crossing:
            return Exercise(False, "no event followed another publisher's event")
        if self.by == "ts":
            if not windows_of(history, "clock-skew"):
                return Exercise(False, "no clock-skew window: the publishers' clocks agreed")
            skewed = skewed_links(history)
            if not skewed:
                return Exercise(False, f"{crossing} causal links between publishers, none "
                                       "with an event published inside a clock-skew window")
            return Exercise(True, f"{crossing} causal links between publishers, {skewed} "
                                  "with an event published inside a clock-skew window")
        return Exercise(True, f"{crossing} causal links between publishers")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        found, crossing = causal_inversions(history, self.by)
        if found:
            text = (f"ordered by {self.by}, {len(found)} events come before the event their "
                    f"publisher had read (first: {found[0][1]})")
            return Ruling(REFUTED, text, evidence("causal-inversion", [c for c, _ in found],
                                                  text))
        return Ruling(UPHELD, f"ordered by {self.by}, every event follows its causal "
                              f"predecessor ({crossing} links between publishers)")
