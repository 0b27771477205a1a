"""Delivery counted in columns: the fast path of ``delivery.py`` for at-least-once and
at-most-once.

The same reading as ``traffic.py`` (sends, consumer ops, the ``(partition, offset, message)``
deliveries of a poll or dequeue), over ``columnar.paired``'s lists, with counts per message in
dictionaries instead of a ``Message`` per message and a ``Receipt`` per delivery. It decides a
history with no duplicated or unexpected message, and names its lost messages (which
``delivery.py`` words as the reference path does); at a duplicate, an unexpected message or a
poll whose value is malformed it returns ``None``, and ``delivery.py`` runs the reference
path, which words them (and raises on bad input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..history import Completed, freeze
from .columnar import Columns
from .traffic import CONSUMERS, PRODUCERS

_SCALARS = frozenset((str, int, float, bool, type(None)))


@dataclass(slots=True)
class Decided:
    """What ``delivery.py`` needs to say when nothing was duplicated or unexpected."""

    counts: dict[str, int]  # sent, acked, received, receipts, duplicates (as delivery.counts)
    unchecked: int  # acknowledged, not received, and no consumer looked after the ack
    final: list[Completed]  # consumer ops marked final
    last_ok_start: int | None  # the latest start of an ok consumer op
    lost: list[tuple[Any, Completed]]  # each lost message and its first acknowledged send


def scan(cols: Columns) -> Decided | None:
    """The counts of a history with nothing to report, else ``None``."""
    invokes, completions = cols.invokes, cols.completions
    possible: dict[Any, int] = {}  # sends of each message that may have happened
    acked_send: dict[Any, int] = {}  # the first acknowledged send of each message
    first_send: dict[Any, int] = {}  # each message's first send: the reference path's order
    receipts: dict[Any, int] = {}
    sent = acked = delivered = 0
    last_read = -1  # the latest invocation index of an ok consumer op
    last_ok_start: int | None = None
    final: list[Completed] = []
    for j in range(len(invokes)):
        inv, done = invokes[j], completions[j]
        f = inv.f
        if f in PRODUCERS:
            sent += 1
            m = inv.value
            if m.__class__ not in _SCALARS:
                m = freeze(m)
            if m not in first_send:
                first_send[m] = j
            if done is None or done.type != "fail":
                possible[m] = possible.get(m, 0) + 1
                if done is not None and done.type == "ok":
                    acked += 1
                    if m not in acked_send:
                        acked_send[m] = j
            continue
        if f not in CONSUMERS:
            continue
        if (inv.extra is not None and inv.extra.get("final")) or (
            done is not None and done.extra is not None and done.extra.get("final")
        ):
            final.append(Completed(inv, done))
        if done is None or done.type != "ok":
            continue
        if inv.index > last_read:
            last_read = inv.index
        if last_ok_start is None or inv.time > last_ok_start:
            last_ok_start = inv.time
        value = done.value
        if f == "dequeue":
            if value is None:
                continue
            batch: Any = ((None, None, value),)
        else:
            batch = value or ()
        try:
            for _partition, _offset, message in batch:
                m = message if message.__class__ in _SCALARS else freeze(message)
                receipts[m] = receipts.get(m, 0) + 1
                delivered += 1
        except (TypeError, ValueError):
            return None  # malformed: the reference path says where
    unchecked = 0
    for m, n in receipts.items():
        if not 0 < possible.get(m, 0) >= n:
            return None  # unexpected (never sent, or only by failed sends) or duplicated
    lost: list[tuple[Any, Completed]] = []
    for m, j in acked_send.items():
        if m not in receipts:
            done = completions[j]
            assert done is not None
            if done.index <= last_read:
                lost.append((m, Completed(invokes[j], done)))
            else:
                unchecked += 1
    lost.sort(key=lambda pair: first_send[pair[0]])
    counts = {
        "sent": sent,
        "acked": acked,
        "received": len(receipts),
        "receipts": delivered,
        "duplicates": 0,
    }
    return Decided(counts, unchecked, final, last_ok_start, lost)
