"""Judges and exercise rules of the Kafka suite (what its histories must show, how they rule).

What the Kafka clients (``client.py``) put in the history for them:

- a send's completion: ``producer`` (its name), ``seq`` (the order of its ``produce`` call in
  that producer), ``retries_before``/``retries`` (the producer's request retries when it was
  produced and when its report came), and when ok ``partition`` and ``offset``;
- a poll or transactional step that ended in a consumer crash: ``crashed`` (the point:
  ``after-processing``, ``after-commit``, ``mid-transaction``, ``unresponsive``), ``in_hand``
  (messages it held) and ``killed`` (its exit status shows the SIGKILL);
- the final drain's completion: ``partitions``, per partition ``log_start`` (the log's start
  offset: below it, retention removed the messages), ``committed`` (the group's offset when
  the drain ended) and ``read_after_s`` (a time, after the drain's start, before which it did not
  read the partition).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    ExerciseRule,
    Ruling,
    Verdicts,
    client_ops,
    described,
    evidence,
    windows_of,
)
from ...history import Completed, History


def _got(c: Completed, name: str) -> Any:
    """A field of the operation's completion (None without one)."""
    return None if c.completion is None else c.completion.get(name)


def _done(c: Completed) -> int:
    """When the operation completed (its invocation time when it never did)."""
    return c.invoke.time if c.completion is None else c.completion.time


# --- consumer crashes ----------------------------------------------------------------------------


def crashes(history: History, points: Sequence[str] = ()) -> list[Completed]:
    """Client operations that ended in a consumer crash (at one of ``points``, any by default)
    that really killed a consumer holding messages."""
    out = []
    for c in client_ops(history):
        done = c.completion
        if done is None or done.get("crashed") is None:
            continue
        if points and done.get("crashed") not in points:
            continue
        if done.get("killed") and int(done.get("in_hand") or 0) > 0:
            out.append(c)
    return out


def consumer_crashes(*points: str, at_least: int = 1) -> ExerciseRule:
    """Exercised when at least ``at_least`` consumers were killed (SIGKILL, proven by their
    exit status) at one of ``points`` while holding messages, and a final drain succeeded."""
    where = " or ".join(points) or "any point"

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        found = crashes(history, points)
        held = sum(int(_got(c, "in_hand") or 0) for c in found)
        if len(found) < at_least:
            other = len(crashes(history))
            return Exercise(False, f"{len(found)} consumer crashes {where} with messages in hand "
                                   f"(need {at_least}; {other} at any point)")
        if not any(c.type == "ok" for c in history.complete() if c.is_final):
            return Exercise(False, "no final drain succeeded: what the crashes did cannot be seen")
        return Exercise(True, f"{len(found)} consumers killed {where} holding {held} messages; "
                              "final drain ok")

    return described(rule, f"consumers killed {where} while holding messages, then a drain")


def polled_in_every_window(fault: str | None = None) -> ExerciseRule:
    """Exercised when, during every window of ``fault``, polls handed consumers messages."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, fault)
        if not windows:
            return Exercise(False, f"no {fault or 'fault'} window in the history")
        polls = [c for c in client_ops(history) if c.f == "poll" and c.type == "ok" and c.value
                 and c.completion is not None]
        counts = []
        for w in windows:
            end = w.end if w.end is not None else float("inf")
            counts.append(sum(1 for c in polls if c.invoke.time < end and _done(c) >= w.start))
        if not all(counts):
            return Exercise(False, f"no poll got messages during {counts.count(0)} of "
                                   f"{len(windows)} {fault or 'fault'} windows")
        return Exercise(True, f"{sum(counts)} polls got messages during the {len(windows)} "
                              "fault windows")

    return described(rule, f"polls get messages during every {fault or 'fault'} window")


# --- duplicates after consumer crashes --------------------------------------------------------


def receipts(history: History) -> dict[Any, int]:
    """How often each message was handed to a consumer (polls and the drain)."""
    seen: dict[Any, int] = {}
    for c in history.complete():
        if c.f == "poll" and c.type == "ok" and isinstance(c.value, list):
            for triple in c.value:
                seen[triple[2]] = seen.get(triple[2], 0) + 1
    return seen


@dataclass
class DuplicatesDelivered:
    """es-consumer-idempotency: events may be delivered more than once, so consumers must be
    idempotent. Upheld when messages held by consumers that crashed before committing were
    delivered again (the group hands them to the next member) and none acknowledged was lost;
    refuted by acknowledged messages never delivered."""

    name: str = "duplicates-delivered"
    exercises: str = ("consumers killed after processing and before committing, holding "
                      "messages, then a drain")
    point: str = "after-processing"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return consumer_crashes(self.point)(history, verdicts)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        v = verdicts["delivery"]
        lost = [a for a in v.anomalies if a.kind == "lost-message"]
        if lost:
            return Ruling(REFUTED, f"{len(lost)} acknowledged messages never delivered", lost)
        if v.details.get("lost") is None:
            return Ruling(INCONCLUSIVE, f"delivery not judged: {v.reason or 'no drain'}")
        seen = receipts(history)
        held = {t[2] for c in crashes(history, [self.point]) for t in (c.value or [])}
        again = sorted(m for m in held if seen.get(m, 0) > 1)
        if not again:
            return Ruling(INCONCLUSIVE, f"no message was delivered twice ({len(held)} held by "
                                        "crashed consumers)")
        extra = sum(n - 1 for n in seen.values() if n > 1)
        return Ruling(UPHELD, f"{len(again)} of the {len(held)} messages held by consumers that "
                              f"crashed before committing were delivered again ({extra} extra "
                              "deliveries in all); none lost")


# --- retention --------------------------------------------------------------------------------


@dataclass
class DeletedByRetention:
    """stream-data-not-deleted: what is acknowledged stays in the stream. Refuted by missing
    messages: those acknowledged more than ``retention_ms`` before the drain read their
    partition, and below the log's start offset, count as deleted by retention; any other
    missing message is a lost message (a different finding, refuted as such)."""

    retention_ms: int
    name: str = "retention"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"acknowledged messages older than retention.ms ({self.retention_ms} "
                          "ms) when the drain read their partition")

    def _drain(self, history: History) -> Completed | None:
        return next((c for c in history.complete()
                     if c.is_final and c.f == "poll" and c.type == "ok"), None)

    def _ages(self, history: History, drain: Completed) -> list[tuple[Completed, float | None]]:
        """Acknowledged sends and their age (seconds) when the drain first read their
        partition, a lower bound (None: the drain did not say when)."""
        parts = (drain.completion.get("partitions") or {}) if drain.completion else {}
        out: list[tuple[Completed, float | None]] = []
        for c in client_ops(history):
            if c.f != "send" or c.type != "ok" or c.completion is None:
                continue
            p = parts.get(str(c.completion.get("partition")))
            if p is None or p.get("read_after_s") is None:
                out.append((c, None))
                continue
            read = drain.invoke.time + float(p["read_after_s"]) * NS
            out.append((c, (read - c.completion.time) / NS))
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        drain = self._drain(history)
        if drain is None:
            return Exercise(False, "no final drain succeeded")
        old = [c for c, age in self._ages(history, drain)
               if age is not None and age * 1000 > self.retention_ms]
        if not old:
            return Exercise(False, "no acknowledged message was older than retention.ms when "
                                   "the drain read its partition")
        return Exercise(True, f"{len(old)} acknowledged messages were older than retention.ms "
                              "when the drain read their partition")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        drain = self._drain(history)
        if drain is None:
            return Ruling(INCONCLUSIVE, "the drain did not finish")
        parts = _got(drain, "partitions") or {}
        seen = receipts(history)
        retained, lost = [], []
        for c, age in self._ages(history, drain):
            if seen.get(c.invoke.value) or seen.get(str(c.invoke.value)):
                continue
            done = c.completion
            assert done is not None
            start = (parts.get(str(done.get("partition"))) or {}).get("log_start")
            below = start is not None and done.get("offset") is not None and \
                done.get("offset") < start
            if age is not None and age * 1000 > self.retention_ms and below:
                retained.append(c)
            else:
                lost.append(c)
        if lost:
            return Ruling(REFUTED, f"{len(lost)} acknowledged messages missing that retention "
                                   f"cannot explain (younger than retention.ms when their "
                                   f"partition was read, or above its start offset): lost"
                                   + (f"; {len(retained)} more deleted by retention"
                                      if retained else ""),
                          evidence("lost-message", lost, "acknowledged, missing from the "
                                   "drain, not old enough for retention"))
        if retained:
            return Ruling(REFUTED, f"{len(retained)} acknowledged messages were deleted by "
                                   f"retention (older than {self.retention_ms} ms when the "
                                   "drain read their partition, below its start offset)",
                          evidence("deleted-by-retention", retained,
                                   "acknowledged, removed by retention before any read"))
        return Ruling(UPHELD, "every acknowledged message was still in the stream")


# --- order of one producer's sends -----------------------------------------------------------


def _sends_by_producer(history: History) -> dict[str, list[Completed]]:
    out: dict[str, list[Completed]] = {}
    for c in client_ops(history):
        if c.f == "send" and c.completion is not None and c.completion.get("producer"):
            out.setdefault(str(c.completion.get("producer")), []).append(c)
    return out


def in_flight_together(history: History) -> tuple[int, list[Completed]]:
    """The most sends of one producer in flight at once, and the sends that were in flight
    with another of their producer's."""
    most, overlapped = 0, []
    for sends in _sends_by_producer(history).values():
        spans = sorted(((c.invoke.time, _done(c), c) for c in sends), key=lambda s: s[0])
        together: set[int] = set()
        open_: list[tuple[int, int]] = []  # (end, position) of those still in flight
        for i, (start, end, _) in enumerate(spans):
            while open_ and open_[0][0] <= start:
                heapq.heappop(open_)
            if open_:
                together.add(i)
                together.update(j for _, j in open_)
            heapq.heappush(open_, (end, i))
            most = max(most, len(open_))
        overlapped += [spans[i][2] for i in sorted(together)]
    return most, overlapped


@dataclass
class PartitionOrder:
    """kafka-partition-order: a producer's sends to one partition get offsets in the order it
    sent them (the order of its ``produce`` calls, ``seq``). Refuted by two acknowledged sends
    whose offsets invert that order (or by the delivery checker's order anomalies).

    Exercised: two or more sends of one producer were in flight at once, and among such sends
    the producer retried requests or a fault was on (the suite's fault kills the partition's
    leader: a leader change).
    ``not_guaranteed``: why the configuration does not guarantee order (retries without
    idempotence); there a run without a reorder is inconclusive, never upheld: a short run
    that did not provoke it says nothing."""

    not_guaranteed: str | None = None
    name: str = "partition-order"
    exercises: str = ("two or more sends of one producer in flight at once, with retries or a "
                      "fault (a leader change) during them")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        most, together = in_flight_together(history)
        if most < 2:
            return Exercise(False, f"at most {most} send of a producer in flight at once")
        windows = history.fault_windows()
        retried = [c for c in together
                   if int(_got(c, "retries") or 0) > int(_got(c, "retries_before") or 0)]
        faulted = [c for c in together if any(
            c.invoke.time < (w.end if w.end is not None else float("inf"))
            and _done(c) >= w.start for w in windows)]
        if not retried and not faulted:
            return Exercise(False, f"up to {most} sends of a producer in flight at once, but "
                                   "no retry and no fault during them")
        return Exercise(True, f"up to {most} sends of a producer in flight at once; "
                              f"{len(retried)} of those in flight together saw retries, "
                              f"{len(faulted)} overlapped a fault")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        inverted: list[tuple[Completed, Completed]] = []
        acked = 0
        for sends in _sends_by_producer(history).values():
            by_part: dict[Any, list[Completed]] = {}
            for c in sends:
                done = c.completion
                if c.type == "ok" and done is not None and done.get("offset") is not None:
                    by_part.setdefault(done.get("partition"), []).append(c)
            for ok in by_part.values():
                ok.sort(key=lambda c: _got(c, "seq"))
                acked += len(ok)
                top: Completed | None = None  # the highest offset so far in produce order
                for c in ok:
                    off = _got(c, "offset")
                    if top is not None and off < _got(top, "offset"):
                        inverted.append((top, c))
                    if top is None or off > _got(top, "offset"):
                        top = c
        if inverted:
            ops = [c for pair in inverted for c in pair]
            a, b = inverted[0]
            return Ruling(REFUTED, f"{len(inverted)} sends got a lower offset than a send the "
                                   f"same producer made before them (e.g. seq "
                                   f"{_got(a, 'seq')} at offset {_got(a, 'offset')}, seq "
                                   f"{_got(b, 'seq')} at offset {_got(b, 'offset')})",
                          evidence("produce-reorder", ops, "sent later, written earlier", 40))
        v = verdicts.get("delivery")
        if v is not None and v.result == "invalid":
            order = [a for a in v.anomalies if a.kind in ("reorder", "offset-reorder",
                                                          "offset-conflict")]
            if order:
                return Ruling(REFUTED, f"delivery: {len(order)} order anomalies", order)
        if acked < 2:
            return Ruling(INCONCLUSIVE, "fewer than two sends acknowledged")
        if self.not_guaranteed:
            return Ruling(INCONCLUSIVE, f"no reordering provoked in this run ({acked} sends "
                                        f"acknowledged in order); {self.not_guaranteed}")
        return Ruling(UPHELD, f"{acked} acknowledged sends got offsets in their producer's "
                              "send order")
