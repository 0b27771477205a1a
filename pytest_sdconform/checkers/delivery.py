"""Message delivery and ordering: lost, duplicated, reordered and conflicting messages.

What a queue or log workload records:

- A producer op has ``f`` ``send`` or ``enqueue``; its ``value`` is the message, unique in the
  run, and its ``key`` the partition, FIFO group or message key (``None``: none). Its ok
  completion may carry the broker's answer as extra fields ``partition`` and ``offset``.
- A consumer op has ``f`` ``dequeue`` or ``poll``. A ``dequeue``'s ok completion value is one
  message (``None``: the queue was empty). A ``poll``'s is a list of ``[partition, offset,
  message]`` triples (offset may be ``None``), where ``partition`` is named as the send's
  ``partition`` field names it, or, when sends carry none, as their ``key``.
- The receive order is the order of consumer completions in the history, then the order within
  one poll's batch. A message's receive position is its first receipt.
- A drain: consumer ops marked ``"final": true`` (the runner's reads after heal and settle). A
  history without one, whose consumers still read after the last fault was healed, is taken as
  drained too: a weaker stand-in, since consumers may lag.

Guarantees, each selectable (``GUARANTEES``):

- ``at-least-once``: every acknowledged send is received (else ``lost-message``). It needs a
  drain, or it is unknown; a send acknowledged after the last consumer op began is not judged.
- ``at-most-once``: no message is received more often than it was sent, counting sends that may
  have happened (ok or info) (else ``duplicate``).
- ``exactly-once``: both.
- ``fifo``: per send ``key`` (group): if send a completed ok before send b was invoked and both
  were received, a is received before b (else ``reorder``, one per overtaken message).
- ``log-order``: per partition, the offsets each consumer process receives strictly increase
  (else ``offset-reorder``), and each partition+offset holds one message, whoever says so: a
  send's acknowledgement or any consumer (else ``offset-conflict``).

Whatever is selected, a message received that no send carried, or only sends that failed
(``fail`` means it did not happen), is an ``unexpected-message``.

``details`` holds the counts (``sent``, ``acked``, ``received`` messages, ``receipts``,
``duplicates``, ``lost`` (``None`` unless at-least-once was judged), ``unexpected``) and, in
``guarantees``, each selected guarantee (and each part of exactly-once) with its result,
its own counts and, when unknown, its reason.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history import Completed, History, freeze, paused_gc
from .verdict import Anomaly, Verdict, merge

NAME = "delivery"
PRODUCERS = frozenset(("send", "enqueue"))
CONSUMERS = frozenset(("poll", "dequeue"))
GUARANTEES = ("at-least-once", "at-most-once", "exactly-once", "fifo", "log-order")
PARTS = {"exactly-once": ("at-least-once", "at-most-once")}  # a guarantee made of others


@dataclass(slots=True)
class Receipt:
    """One delivery of a message to a consumer."""

    message: Any
    partition: Any
    offset: Any
    op: Completed
    seq: int  # position in the receive order


@dataclass(slots=True)
class Message:
    """One message: what sent it and how often it was received.

    Kept lean on purpose (one object per message, no lists): a million-op history has
    hundreds of thousands of them, and every extra container costs allocation and GC time.
    """

    send: Completed | None = None  # its first acknowledged send, else its first send
    possible: int = 0  # sends that may have happened: ok or info
    first: Receipt | None = None
    receipts: int = 0

    def add_send(self, c: Completed) -> None:
        t = c.type
        if t != "fail":
            self.possible += 1
        if self.send is None or (t == "ok" and self.send.type != "ok"):
            self.send = c


@dataclass
class Traffic:
    """Every message by value, all sends and consumer ops, and all receipts in receive order."""

    messages: dict[Any, Message] = field(default_factory=dict)
    sends: list[Completed] = field(default_factory=list)
    consumers: list[Completed] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)

    def message(self, m: Any) -> Message:
        msg = self.messages.get(m)
        if msg is None:
            msg = self.messages[m] = Message()
        return msg


def gather(history: History) -> Traffic:
    t = Traffic()
    for c in history.complete():
        if c.f in PRODUCERS:
            t.sends.append(c)
            t.message(freeze(c.invoke.value)).add_send(c)
        elif c.f in CONSUMERS:
            t.consumers.append(c)
    done = [c for c in t.consumers if c.completion is not None and c.completion.type == "ok"]
    done.sort(key=lambda c: c.completion.index if c.completion else 0)
    for c in done:
        for partition, offset, message in deliveries(history, c):
            r = Receipt(freeze(message), freeze(partition), offset, c, len(t.receipts))
            t.receipts.append(r)
            msg = t.message(r.message)
            msg.receipts += 1
            if msg.first is None:
                msg.first = r
    return t


def deliveries(history: History, c: Completed) -> Iterator[tuple[Any, Any, Any]]:
    """A consumer op's ``(partition, offset, message)`` deliveries."""
    if c.f == "dequeue":
        if c.value is not None:
            yield c.key, None, c.value
        return
    try:
        for triple in c.value or ():
            partition, offset, message = triple  # a malformed one raises here
            yield partition, offset, message
    except (TypeError, ValueError):
        assert c.completion is not None
        raise history.error(
            "a poll's value must be a list of [partition, offset, message] triples",
            c.completion.index,
        ) from None


def unexpected(t: Traffic) -> list[Anomaly]:
    out = []
    for m, msg in t.messages.items():
        if msg.first is None or msg.possible:
            continue
        why = "its send failed" if msg.send else "no producer sent it"
        ops = msg.first.op.indices + (msg.send.indices if msg.send else [])
        out.append(Anomaly("unexpected-message", sorted(ops), f"received {m!r}, but {why}"))
    return out


def drain_problem(t: Traffic, history: History) -> str:
    """Why the consumers cannot be taken to have drained, or ""."""
    final = [c for c in t.consumers if c.is_final]
    if any(c.type == "ok" for c in final):
        return ""
    if final:
        errors = sorted({str(c.completion.error) for c in final if c.completion is not None})
        return f"the final drain did not succeed ({'; '.join(errors) or 'no answer'})"
    windows = history.fault_windows()
    if any(w.end is None for w in windows):
        return "no drain: no consumer op is marked final and a fault was never healed"
    healed = max((w.end for w in windows if w.end is not None), default=None)
    if any(c.type == "ok" and (healed is None or c.start >= healed) for c in t.consumers):
        return ""
    return "no drain: no consumer op is marked final, and none read after the last fault"


def at_least_once(t: Traffic, history: History) -> Verdict:
    last_read = max((c.invoke.index for c in t.consumers if c.type == "ok"), default=-1)
    lost, unchecked = [], 0
    for m, msg in t.messages.items():
        c = msg.send
        if msg.first or c is None or c.completion is None or c.completion.type != "ok":
            continue
        if c.completion.index > last_read:
            unchecked += 1  # no consumer looked after it was acknowledged
            continue
        lost.append(Anomaly("lost-message", c.indices, f"{m!r} was acknowledged, never received"))
    details: dict[str, Any] = {"lost": len(lost), "not_received": len(lost), "unchecked": unchecked}
    problem = drain_problem(t, history)
    if problem:
        return Verdict("at-least-once", "unknown", [], {**details, "lost": None}, problem)
    if lost:
        return Verdict("at-least-once", "invalid", lost, details)
    if not any(c.type == "ok" for c in t.sends):
        return Verdict("at-least-once", "unknown", [], details, "no send was acknowledged")
    return Verdict("at-least-once", "valid", [], details)


def at_most_once(t: Traffic) -> Verdict:
    # a message never sent is an unexpected-message, not a duplicate
    over = {m: msg for m, msg in t.messages.items() if 0 < msg.possible < msg.receipts}
    evidence: dict[Any, set[int]] = {m: set() for m in over}
    for c in t.sends:
        m = freeze(c.invoke.value)
        if m in evidence:
            evidence[m].update(c.indices)
    shown: dict[Any, int] = {}
    for r in t.receipts:
        if r.message in evidence and shown.get(r.message, 0) < 2:  # the first two receipts
            shown[r.message] = shown.get(r.message, 0) + 1
            evidence[r.message].update(r.op.indices)
    out = [
        Anomaly(
            "duplicate",
            sorted(evidence[m]),
            f"{m!r} sent {msg.possible}x, received {msg.receipts}x",
        )
        for m, msg in over.items()
    ]
    details = {
        "duplicates": sum(msg.receipts - msg.possible for msg in over.values()),
        "duplicated_messages": len(out),
    }
    if out:
        return Verdict("at-most-once", "invalid", out, details)
    if not t.receipts:
        return Verdict("at-most-once", "unknown", [], details, "nothing was received")
    return Verdict("at-most-once", "valid", [], details)


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


def counts(t: Traffic) -> dict[str, Any]:
    messages = t.messages.values()
    return {
        "sent": len(t.sends),
        "acked": sum(1 for c in t.sends if c.type == "ok"),
        "received": sum(1 for msg in messages if msg.first),
        "receipts": len(t.receipts),
        "duplicates": sum(
            msg.receipts - msg.possible for msg in messages if 0 < msg.possible < msg.receipts
        ),
    }


CHECKS = {
    "at-least-once": at_least_once,
    "at-most-once": lambda t, h: at_most_once(t),
    "fifo": lambda t, h: fifo(t),
    "log-order": lambda t, h: log_order(t),
}


def check_delivery(
    history: History, *, guarantees: Iterable[str] = ("at-least-once", "at-most-once")
) -> Verdict:
    """Check the selected delivery guarantees (see the module docstring) on a queue/log history."""
    chosen = list(dict.fromkeys(guarantees))
    unknown_names = set(chosen) - set(GUARANTEES)
    if unknown_names:
        raise ValueError(f"unknown guarantee(s) {sorted(unknown_names)}; choose from {GUARANTEES}")
    needed = dict.fromkeys(p for g in chosen for p in PARTS.get(g, (g,)))
    with paused_gc():
        t = gather(history)
        parts = {p: CHECKS[p](t, history) for p in needed}  # once each, though shared
    verdicts = {g: merge_parts(g, [parts[p] for p in PARTS.get(g, (g,))]) for g in chosen}
    strays = unexpected(t)
    integrity = Verdict("integrity", "invalid" if strays else "valid", strays)
    overall = merge(NAME, [*verdicts.values(), integrity])
    overall.anomalies = strays + [a for v in parts.values() for a in v.anomalies]  # no repeats
    overall.reason = "; ".join(f"{g}: {v.reason}" for g, v in verdicts.items() if v.reason)
    overall.details = {
        **counts(t),
        "lost": parts["at-least-once"].details["lost"] if "at-least-once" in parts else None,
        "unexpected": len(strays),
        "guarantees": {g: entry(v) for g, v in {**verdicts, **parts}.items()},
    }
    return overall


def entry(v: Verdict) -> dict[str, Any]:
    """A guarantee's entry in ``details["guarantees"]``: its result, counts and reason."""
    out: dict[str, Any] = {"result": v.result, **v.details}
    if v.reason:
        out["reason"] = v.reason
    return out


def merge_parts(name: str, parts: list[Verdict]) -> Verdict:
    """A guarantee's verdict from its parts' (just the part, for a simple guarantee)."""
    if len(parts) == 1:
        return parts[0]
    v = merge(name, parts)
    v.details = {k: x for p in parts for k, x in p.details.items()}
    return v


class DeliveryChecker:
    """The Checker for ``check_delivery``."""

    name = NAME

    def __init__(self, guarantees: Iterable[str] = ("at-least-once", "at-most-once")) -> None:
        self.guarantees = tuple(guarantees)

    def check(self, history: History) -> Verdict:
        return check_delivery(history, guarantees=self.guarantees)
