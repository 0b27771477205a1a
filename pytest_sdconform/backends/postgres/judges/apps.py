"""Judges of application claims built on PostgreSQL: ticket servers that hand out unique IDs
(``pg-global-counter-unique``) and bookings that never oversell (``pg-bookings-strong``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
)
from ....checkers.verdict import Anomaly
from ....history import Completed, History
from .failover import FAILOVER, timelines


def _acked(c: Completed) -> int:
    assert c.completion is not None
    return c.completion.time


@dataclass
class UniqueIds:
    """Ticket servers never hand out an ID twice, through a failover of one of them: every
    acknowledged ``next`` returned an ID no other acknowledged ``next`` returned (gaps are
    allowed), and each server keeps to its parity (``parity``: server -> 1 odd, 0 even), so the
    two never collide.

    Exercised: IDs acknowledged by the server that failed over both before its primary died
    and after the standby was promoted (the window opens then): a reissue could show. Refuted:
    an ID acknowledged twice (both calls are the evidence) or one of the wrong parity."""

    server: str = "odd"  # the ticket server whose primary fails over
    parity: tuple[tuple[str, int], ...] = (("odd", 1), ("even", 0))
    f: str = "next"
    fault: str = FAILOVER
    name: str = "unique-ids"
    exercises: str = ("IDs acknowledged by the failed-over ticket server before its primary "
                      "died and after its standby was promoted")

    def _ids(self, history: History) -> list[Completed]:
        return [c for c in client_ops(history) if c.f == self.f and c.type == "ok"]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        lines = timelines(history, self.fault)
        if not lines:
            return Exercise(False, f"no {self.fault} with a recorded kill")
        ids = [c for c in self._ids(history) if c.key == self.server]
        before = [sum(1 for c in ids if _acked(c) < t.killed) for t in lines]
        after = [sum(1 for c in ids if c.invoke.time >= t.window.start) for t in lines]
        if not all(before) or not all(after):
            return Exercise(False, f"{self.server}: {sum(before)} IDs acknowledged before the "
                                   f"primary died, {sum(after)} after the promotion (each "
                                   "failover needs both)")
        return Exercise(True, f"{self.server}: {sum(before)} IDs acknowledged before the "
                              f"primary died, {sum(after)} after the standby was promoted")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        ids = self._ids(history)
        if not ids:
            return Ruling(INCONCLUSIVE, f"no {self.f} was acknowledged")
        parity = dict(self.parity)
        seen: dict[Any, list[Completed]] = defaultdict(list)
        anomalies: list[Anomaly] = []
        for c in sorted(ids, key=_acked):
            if not isinstance(c.value, int) or isinstance(c.value, bool):
                raise ValueError(f"{self.f} at index {c.invoke.index} returned {c.value!r}, "
                                 "not an integer ID")
            seen[c.value].append(c)
            want = parity.get(str(c.key))
            if want is not None and c.value % 2 != want:
                anomalies.append(Anomaly("wrong-parity", c.indices,
                                         f"{c.key} handed out {c.value}, not "
                                         f"{'odd' if want else 'even'}"))
        twice = {v: cs for v, cs in seen.items() if len(cs) > 1}
        for v, cs in sorted(twice.items())[:20]:
            anomalies.append(Anomaly("duplicate-id", [i for c in cs for i in c.indices],
                                     f"ID {v} acknowledged {len(cs)} times, by "
                                     f"{', '.join(str(c.key) for c in cs)}, at "
                                     f"{', '.join(f'{_acked(c) / 1e9:.3f}s' for c in cs)}"))
        if anomalies:
            return Ruling(REFUTED, f"{len(twice)} IDs handed out more than once, "
                                   f"{len(anomalies) - min(len(twice), 20)} of the wrong "
                                   f"parity, among {len(ids)} acknowledged", anomalies)
        return Ruling(UPHELD, f"{len(ids)} acknowledged IDs, all unique and of their "
                              "server's parity")


@dataclass
class NoOversell:
    """Bookings are confirmed only for available rooms: no room has more than ``capacity``
    acknowledged bookings, the final count of every room is at most ``capacity``, and every
    acknowledged booking is in it (none lost).

    Exercised: rooms that sold out (a ``full`` answer) while bookings of them overlapped in
    time (the last places were fought over), and a final read. Refuted: an oversold room (its
    confirmed bookings are the evidence, with the final read) or a lost booking."""

    capacity: int
    f: str = "book"
    name: str = "no-oversell"
    exercises: str = ("rooms sold out while bookings of them ran concurrently, and a final "
                      "read of every room's bookings")

    def _final(self, history: History) -> Completed | None:
        reads = [c for c in history.complete() if c.is_final and c.type == "ok"]
        return reads[-1] if reads else None

    def _contended(self, history: History) -> tuple[int, int]:
        """Rooms that sold out; of them, rooms with overlapping bookings."""
        rooms: dict[Any, list[Completed]] = defaultdict(list)
        for c in client_ops(history):
            if c.f == self.f:
                rooms[c.key].append(c)
        full = [r for r, cs in rooms.items() if any(c.type == "ok" and c.value == "full"
                                                    for c in cs)]
        raced = 0
        for r in full:
            cs = sorted(rooms[r], key=lambda c: c.invoke.time)
            ends = [c.completion.time if c.completion is not None else float("inf")
                    for c in cs]
            if any(cs[i + 1].invoke.time < max(ends[:i + 1]) for i in range(len(cs) - 1)):
                raced += 1
        return len(full), raced

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        full, raced = self._contended(history)
        if not raced:
            return Exercise(False, f"{full} rooms sold out, none with concurrent bookings")
        if self._final(history) is None:
            return Exercise(False, "no final read of the bookings succeeded")
        return Exercise(True, f"{full} rooms sold out, {raced} of them with concurrent "
                              "bookings; final read ok")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        booked: dict[Any, list[Completed]] = defaultdict(list)
        for c in client_ops(history):
            if c.f == self.f and c.type == "ok" and c.value == "booked":
                booked[str(c.key)].append(c)  # keys as the final read's rooms, in text
        final = self._final(history)
        counts: dict[str, int] = {}
        if final is not None:
            if not isinstance(final.value, list):
                raise ValueError(f"final read at index {final.invoke.index} returned "
                                 f"{final.value!r}, not [[room, bookings], ...]")
            counts = {str(room): n for room, n in final.value}
        anomalies = []
        for room in sorted(set(booked) | set(counts)):
            confirmed = booked.get(room, [])
            stored = counts.get(room)
            extra = final.indices if final is not None else []
            if len(confirmed) > self.capacity or (stored or 0) > self.capacity:
                anomalies.append(Anomaly("oversold", [i for c in confirmed for i in c.indices]
                                         + extra, f"room {room}: {len(confirmed)} bookings "
                                         f"confirmed, {stored} stored, capacity "
                                         f"{self.capacity}"))
            elif final is not None and (stored or 0) < len(confirmed):
                anomalies.append(Anomaly("lost-booking", [i for c in confirmed
                                                          for i in c.indices] + extra,
                                         f"room {room}: {len(confirmed)} bookings confirmed, "
                                         f"only {stored or 0} stored"))
        if anomalies:
            over = sum(1 for a in anomalies if a.kind == "oversold")
            return Ruling(REFUTED, f"{over} rooms oversold, {len(anomalies) - over} with "
                                   f"lost bookings (capacity {self.capacity})", anomalies[:20])
        if final is None:
            return Ruling(INCONCLUSIVE, "no final read: what the rooms hold is unknown")
        total = sum(len(cs) for cs in booked.values())
        return Ruling(UPHELD, f"{total} bookings confirmed in {len(booked)} rooms, none over "
                              f"capacity {self.capacity}; the final read holds every one")
