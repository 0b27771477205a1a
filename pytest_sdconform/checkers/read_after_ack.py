"""Read-after-acknowledgement per replica: what one document calls "monotonic write consistency".

The document (claim ``gen-monotonic-writes``) defines it as: "once a write operation has been
acknowledged by a replica node, all subsequent reads from that replica node will return the
updated value". Checked as that sentence says, on registers with unique values: once node n
acknowledged a write w to key k (w's ok completion names n), every read of k answered by n
and invoked after that acknowledgement returns w's value or the value of a write not provably
older than w (a later or concurrent write lawfully replaces w; read literally, "the updated
value" would forbid any later write). The anomaly, ``stale-read-after-ack``: such a read
returned the initial value or a write that provably took effect before w began.

Where it departs from the textbook. Monotonic writes (Terry et al. 1994; ``monotonic_writes.py``
and ``sessions.py``) is a session guarantee about order: a session's writes are applied
everywhere in the order the session issued them. This property is about one replica and
recency, and knows no sessions: it is read-after-write (a read-your-writes that binds every
client, not only the writer) on the node that acknowledged the write, and says nothing of the
order two writes are applied in or of any other replica. A store can keep either without the
other: a primary that acknowledges and serves reads passes this one while an asynchronous
replica applies a session's writes out of order; replicas that apply every session's writes in
order but acknowledge before applying fail this one.

"Provably older" is ``version_order.py``'s order (versions when the database returned them,
else real time: the older write completed, or was read, before w was invoked). Reads and
writes that name no node, ``fail`` operations and writes not acknowledged (``info``) are not
checked; reads it cannot place are counted in ``details["reads_skipped"]``. ``unknown``: no
read was answered by a node after it had acknowledged a write of that key, or ``time_limit``
ran out.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from ..history import Completed, History, paused_gc
from .verdict import Anomaly, Verdict
from .version_order import Seen, Write, by_key, observe, place_writes, rule_for

NAME = "read-after-ack"
STALE = "stale-read-after-ack"


def check_read_after_ack(
    history: History, *, time_limit: float | None = None, max_anomalies: int = 1000
) -> Verdict:
    """Check the document's per-replica read-after-ack property; see the module docstring."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    stats: dict[str, Any] = {"reads": 0, "reads_checked": 0, "reads_skipped": {}, "writes": 0,
                             "reads_after_an_ack": 0}
    anomalies: list[Anomaly] = []
    count = 0
    initial = history.meta.get("initial")
    with paused_gc():
        for n, events in enumerate(by_key(history.complete()).values()):
            if deadline is not None and n % 64 == 0 and time.monotonic() > deadline:
                return _verdict(anomalies, count, stats, f"time limit of {time_limit}s reached")
            rule = rule_for(events, "auto")
            table, steps = place_writes(events, rule, initial, stats)
            for w, seen in _stale(observe(steps, table, rule, stats), stats):
                count += 1
                if len(anomalies) < max_anomalies:
                    anomalies.append(_anomaly(w, seen))
    return _verdict(anomalies, count, stats, None)


class ReadAfterAckChecker:
    """``check_read_after_ack`` as a ``Checker``."""

    name = NAME

    def __init__(self, time_limit: float | None = None):
        self.time_limit = time_limit

    def check(self, history: History) -> Verdict:
        return check_read_after_ack(history, time_limit=self.time_limit)


def _node(c: Completed) -> Hashable:
    done = c.completion
    return done.node if done is not None and done.node is not None else c.invoke.node


def _stale(steps: list[Write | Seen], stats: dict[str, Any]) -> list[tuple[Write, Seen]]:
    """Per node: reads, in invocation order, against the newest write it had acknowledged."""
    acks: dict[Hashable, list[Write]] = {}
    reads: dict[Hashable, list[Seen]] = {}
    for step in steps:
        op = step.op
        if op is None or _node(op) is None:
            continue
        if isinstance(step, Write):
            acks.setdefault(_node(op), []).append(step)
        else:
            reads.setdefault(_node(op), []).append(step)
    out: list[tuple[Write, Seen]] = []
    for node, rs in reads.items():
        ws = sorted(acks.get(node, []), key=lambda w: w.acked)
        newest: Write | None = None
        i = 0
        for seen in sorted(rs, key=lambda s: s.op.invoke.index):
            while i < len(ws) and ws[i].acked < seen.op.invoke.index:
                if newest is None or ws[i].start > newest.start:
                    newest = ws[i]
                i += 1
            if newest is None:
                continue
            stats["reads_after_an_ack"] += 1
            if seen.end < newest.start:
                out.append((newest, seen))
    return out


def _anomaly(w: Write, seen: Seen) -> Anomaly:
    assert w.op is not None
    node = _node(w.op)
    got = (f"the initial value {seen.op.value!r}" if seen.write is not None
           and seen.write.op is None else repr(seen.op.value))
    proof = [] if seen.write is None else [seen.write.op, seen.write.bound_by]
    ops = sorted({i for c in (w.op, seen.op, *proof) if c is not None for i in c.indices})
    return Anomaly(STALE, ops, f"node {node} acknowledged the write of {w.value!r} to "
                               f"{w.op.key!r}, then answered a read of it with {got}, which is "
                               "older", w.op.key)


def _verdict(anomalies: list[Anomaly], count: int, stats: dict[str, Any],
             out_of_budget: str | None) -> Verdict:
    details = {**stats, "anomaly_counts": {STALE: count}}
    if count > len(anomalies):
        details["anomalies_truncated"] = count - len(anomalies)
    if count:
        return Verdict(NAME, "invalid", anomalies, details,
                       f"stopped early: {out_of_budget}" if out_of_budget else "")
    if out_of_budget:
        return Verdict(NAME, "unknown", details=details, reason=out_of_budget)
    if not stats["reads_after_an_ack"]:
        return Verdict(NAME, "unknown", details=details, reason=(
            "no read was answered by a node after it had acknowledged a write of that key"))
    return Verdict(NAME, "valid", details=details)
