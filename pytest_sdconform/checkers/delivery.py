"""Message delivery: lost, duplicated and unexpected messages, and the selection of guarantees.

What a queue or log workload records (producers ``send``/``enqueue``, consumers
``dequeue``/``poll``) and what counts as a drain is in ``traffic.py``.

Guarantees, each selectable (``GUARANTEES``):

- ``at-least-once``: every acknowledged send is received (else ``lost-message``). It needs a
  drain, or it is unknown; a send acknowledged after the last consumer op began is not judged.
- ``at-most-once``: no message is received more often than it was sent, counting sends that may
  have happened (ok or info) (else ``duplicate``).
- ``exactly-once``: both.
- ``fifo`` and ``log-order``: ordering, checked by ``ordering.py`` (see there).

Whatever is selected, a message received that no send carried, or only sends that failed
(``fail`` means it did not happen), is an ``unexpected-message``.

``details`` holds the counts (``sent``, ``acked``, ``received`` messages, ``receipts``,
``duplicates``, ``lost`` (``None`` unless at-least-once was judged), ``unexpected``) and, in
``guarantees``, each selected guarantee (and each part of exactly-once) with its result,
its own counts and, when unknown, its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..history import Completed, FaultWindow, History, freeze, paused_gc
from .columnar import Columns, fault_windows, paired
from .delivery_fast import Decided, scan
from .ordering import fifo, log_order
from .traffic import Traffic, gather
from .verdict import Anomaly, Verdict, merge

NAME = "delivery"
GUARANTEES = ("at-least-once", "at-most-once", "exactly-once", "fifo", "log-order")
PARTS = {"exactly-once": ("at-least-once", "at-most-once")}  # a guarantee made of others


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
    last_ok = max((c.start for c in t.consumers if c.type == "ok"), default=None)
    return drain_problem_of(final, last_ok, history.fault_windows())


def drain_problem_of(
    final: list[Completed], last_ok_start: int | None, windows: list[FaultWindow]
) -> str:
    """``drain_problem`` from the consumer ops marked final, the latest start of an ok
    consumer op, and the fault windows."""
    if any(c.type == "ok" for c in final):
        return ""
    if final:
        errors = sorted({str(c.completion.error) for c in final if c.completion is not None})
        return f"the final drain did not succeed ({'; '.join(errors) or 'no answer'})"
    if any(w.end is None for w in windows):
        return "no drain: no consumer op is marked final and a fault was never healed"
    healed = max((w.end for w in windows if w.end is not None), default=None)
    if last_ok_start is not None and (healed is None or last_ok_start >= healed):
        return ""
    return "no drain: no consumer op is marked final, and none read after the last fault"


def at_least_once(t: Traffic, history: History) -> Verdict:
    last_read = max((c.invoke.index for c in t.consumers if c.type == "ok"), default=-1)
    # The drain that does not show a lost message is part of the evidence (as a final read is
    # for a lost write): the loss is seen after the faults, whenever the send was acknowledged.
    drain = [i for c in t.consumers if c.is_final and c.type == "ok" for i in c.indices][:2]
    lost, unchecked = [], 0
    for m, msg in t.messages.items():
        c = msg.send
        if msg.first or c is None or c.completion is None or c.completion.type != "ok":
            continue
        if c.completion.index > last_read:
            unchecked += 1  # no consumer looked after it was acknowledged
            continue
        lost.append(lost_message(m, c, drain))
    acked = any(c.type == "ok" for c in t.sends)
    return at_least_once_of(lost, unchecked, drain_problem(t, history), acked)


def lost_message(m: Any, send: Completed, drain: list[int]) -> Anomaly:
    """A message acknowledged (``send``) and never received, with the drain that missed it."""
    return Anomaly("lost-message", send.indices + drain, f"{m!r} was acknowledged, never received")


def at_least_once_of(lost: list[Anomaly], unchecked: int, problem: str, acked: bool) -> Verdict:
    """The at-least-once verdict from the lost messages and the drain."""
    details: dict[str, Any] = {"lost": len(lost), "not_received": len(lost), "unchecked": unchecked}
    if problem:
        return Verdict("at-least-once", "unknown", [], {**details, "lost": None}, problem)
    if lost:
        return Verdict("at-least-once", "invalid", lost, details)
    if not acked:
        return Verdict("at-least-once", "unknown", [], details, "no send was acknowledged")
    return Verdict("at-least-once", "valid", [], details)


def at_most_once(t: Traffic) -> Verdict:
    # a message never sent is an unexpected-message, not a duplicate
    over = {m: msg for m, msg in t.messages.items() if 0 < msg.possible < msg.receipts}
    evidence: dict[Any, set[int]] = {m: set() for m in over}
    for c in t.sends if evidence else ():
        m = freeze(c.invoke.value)
        if m in evidence:
            evidence[m].update(c.indices)
    shown: dict[Any, int] = {}
    for r in t.receipts if evidence else ():
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
    duplicates = sum(msg.receipts - msg.possible for msg in over.values())
    return at_most_once_of(out, duplicates, len(t.receipts))


def at_most_once_of(out: list[Anomaly], duplicates: int, receipts: int) -> Verdict:
    """The at-most-once verdict from the duplicated messages."""
    details = {"duplicates": duplicates, "duplicated_messages": len(out)}
    if out:
        return Verdict("at-most-once", "invalid", out, details)
    if not receipts:
        return Verdict("at-most-once", "unknown", [], details, "nothing was received")
    return Verdict("at-most-once", "valid", [], details)


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
    if set(needed) <= set(FAST):
        with paused_gc():  # first the fast path, for a history with nothing to report
            cols = paired(history)
            fast = None if cols is None else scan(cols)
        if cols is not None and fast is not None:
            parts = {p: FAST[p](fast, cols) for p in needed}
            return assemble(chosen, parts, [], fast.counts)
    with paused_gc():
        t = gather(history)
        parts = {p: CHECKS[p](t, history) for p in needed}  # once each, though shared
    return assemble(chosen, parts, unexpected(t), counts(t))


FAST: dict[str, Callable[[Decided, Columns], Verdict]] = {
    "at-least-once": lambda d, cols: at_least_once_of(
        [lost_message(m, c, fast_drain(d)) for m, c in d.lost],
        d.unchecked,
        drain_problem_of(d.final, d.last_ok_start, fault_windows(cols)),
        d.counts["acked"] > 0,
    ),
    "at-most-once": lambda d, cols: at_most_once_of([], 0, d.counts["receipts"]),
}


def fast_drain(d: Decided) -> list[int]:
    """``at_least_once``'s drain evidence from the fast path's final consumer ops."""
    return [i for c in d.final if c.type == "ok" for i in c.indices][:2]


def assemble(
    chosen: list[str], parts: dict[str, Verdict], strays: list[Anomaly], counted: dict[str, Any]
) -> Verdict:
    """The delivery verdict from its parts' verdicts, the unexpected messages and the counts."""
    verdicts = {g: merge_parts(g, [parts[p] for p in PARTS.get(g, (g,))]) for g in chosen}
    integrity = Verdict("integrity", "invalid" if strays else "valid", strays)
    overall = merge(NAME, [*verdicts.values(), integrity])
    overall.anomalies = strays + [a for v in parts.values() for a in v.anomalies]  # no repeats
    overall.reason = "; ".join(f"{g}: {v.reason}" for g, v in verdicts.items() if v.reason)
    overall.details = {
        **counted,
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
