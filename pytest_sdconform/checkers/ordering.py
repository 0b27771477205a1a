"""Message ordering on a queue or log history (gathered by ``traffic.py``): FIFO per key and
log offsets order. ``check_delivery`` selects these as the guarantees ``fifo`` and
``log-order``:

- ``fifo``: per send ``key`` (group): if send a completed ok before send b was invoked and both
  were received, a is received before b (else ``reorder``, one per overtaken message).
- ``log-order``: per partition, the offsets each consumer process receives strictly increase
  (else ``offset-reorder``), and each partition+offset holds one message, whoever says so: a
  send's acknowledgement or any consumer (else ``offset-conflict``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..history import Completed, freeze
from .traffic import Message, Receipt, Traffic
from .verdict import Anomaly, Verdict


def fifo(t: Traffic) -> Verdict:
    groups: dict[Any, list[Message]] = {}
    for msg in t.messages.values():
        if msg.first is not None and msg.send is not None:
            groups.setdefault(freeze(msg.send.key), []).append(msg)
    anomalies: dict[Any, Anomaly] = {}  # one per overtaken message
    reorders = pairs = 0
    for group in groups.values():
        n, bad = fifo_group(group, anomalies)
        pairs += n
        reorders += bad
    details = {"reorders": reorders, "overtaken_messages": len(anomalies)}
    if anomalies:
        return Verdict("fifo", "invalid", list(anomalies.values()), details)
    if not pairs:
        reason = "no two received messages of one key were sent one after the other"
        return Verdict("fifo", "unknown", [], details, reason)
    return Verdict("fifo", "valid", [], details)


def fifo_group(group: Sequence[Message], anomalies: dict[Any, Anomaly]) -> tuple[int, int]:
    """Check one key; returns (messages with a predecessor, messages received too early).

    For b, the predecessors are the sends acknowledged before b was invoked; if the one
    received last among them comes after b, that one was overtaken. A prefix maximum over
    the acknowledged sends, ordered by completion, answers this for every b in O(log n).
    """
    acks = sorted((m for m in group if m.send and m.send.type == "ok"), key=_acked_at)
    ends = [_acked_at(m) for m in acks]
    latest: list[Message] = []  # latest[i]: the last received among acks[: i + 1]
    for m in acks:
        latest.append(m if not latest or _seq(m) > _seq(latest[-1]) else latest[-1])
    with_predecessor = bad = 0
    for b in group:
        assert b.send is not None and b.first is not None
        i = bisect.bisect_left(ends, b.send.invoke.index)
        if i == 0:
            continue
        with_predecessor += 1
        a = latest[i - 1]
        if _seq(a) > b.first.seq:
            bad += 1
            assert a.send is not None and a.first is not None
            ra, rb = a.first, b.first
            why = f"{ra.message!r} was sent before {rb.message!r} but received after it"
            ops = sorted({*a.send.indices, *b.send.indices, *ra.op.indices, *rb.op.indices})
            anomalies.setdefault(ra.message, Anomaly("reorder", ops, why, a.send.key))
    return with_predecessor, bad


def _acked_at(m: Message) -> int:
    assert m.send is not None and m.send.completion is not None
    return m.send.completion.index


def _seq(m: Message) -> int:
    assert m.first is not None
    return m.first.seq


def log_order(t: Traffic) -> Verdict:
    reorders = offset_reorders(t.receipts)
    conflicts = offset_conflicts(t)
    details = {"offset_reorders": len(reorders), "offset_conflicts": len(conflicts)}
    if reorders or conflicts:
        return Verdict("log-order", "invalid", reorders + conflicts, details)
    if not any(r.offset is not None for r in t.receipts):
        return Verdict("log-order", "unknown", [], details, "no consumer saw an offset")
    return Verdict("log-order", "valid", [], details)


def offset_reorders(receipts: Iterable[Receipt]) -> list[Anomaly]:
    """Each consumer process's offsets in a partition must strictly increase."""
    last: dict[tuple[Any, Any], Receipt] = {}
    out = []
    for r in receipts:
        if r.offset is None:
            continue
        slot = (r.op.invoke.process, r.partition)
        prev = last.get(slot)
        if prev is not None and r.offset <= prev.offset:
            why = (
                f"process {r.op.process} read offset {r.offset} of {r.partition!r} "
                f"after offset {prev.offset}"
            )
            ops = sorted({*prev.op.indices, *r.op.indices})
            out.append(Anomaly("offset-reorder", ops, why, r.partition))
        last[slot] = r  # compare the next with this one, so one step back is one anomaly
    return out


def offset_conflicts(t: Traffic) -> list[Anomaly]:
    """Each partition+offset holds one message, by every acknowledgement and every read.

    The first pass keeps one message per slot in nested dicts (no tuple per slot: these
    live as long as the check and would weigh on the garbage collector); only slots found
    to clash get a second pass that gathers the evidence.
    """
    held: dict[Any, dict[Any, Any]] = {}
    clashing: set[tuple[Any, Any]] = set()
    for partition, offset, message, _ in offset_claims(t):
        slots = held.get(partition)
        if slots is None:
            slots = held[partition] = {}
        if slots.setdefault(offset, message) != message:
            clashing.add((partition, offset))
    claims: dict[tuple[Any, Any], dict[Any, Completed]] = {slot: {} for slot in clashing}
    if clashing:
        for partition, offset, message, c in offset_claims(t):
            if (partition, offset) in clashing:
                claims[partition, offset].setdefault(message, c)
    out = []
    for (partition, offset), by_message in claims.items():
        ops = sorted({i for c in by_message.values() for i in c.indices})
        why = f"offset {offset} of {partition!r} holds {', '.join(map(repr, by_message))}"
        out.append(Anomaly("offset-conflict", ops, why, partition))
    return out


def offset_claims(t: Traffic) -> Iterator[tuple[Any, Any, Any, Completed]]:
    """``(partition, offset, message, op)`` for every ack and receipt that names an offset."""
    for c in t.sends:
        done = c.completion
        if done is not None and done.type == "ok":
            offset = done.get("offset")
            if offset is not None:
                partition = freeze(done.get("partition", c.key))
                yield partition, offset, freeze(c.invoke.value), c
    for r in t.receipts:
        if r.offset is not None:
            yield r.partition, r.offset, r.message, r.op
