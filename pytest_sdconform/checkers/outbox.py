"""The transactional outbox across two systems' histories: what the database committed against
what the message log holds.

A business transaction writes a row and an outbox row together (``write``: key = aggregate,
value = a value unique in the history); a relay publishes outbox rows and marks them sent. At
the end two final reads say what each system holds: ``read`` of key ``"table"`` (the committed
outbox rows, ``[aggregate, value]`` or ``[aggregate, value, sent]``) and ``poll`` of key
``"topic"`` (every message in the log, ``[aggregate, value, offset]`` in offset order per
aggregate's partition). The guarantee checked (at-least-once with per-aggregate order):

- ``lost-message``: a committed row (in the table, or a write acknowledged) with no message,
  unless the table read says the row is still unsent (the relay had not reached it: pending,
  which leaves the verdict unknown when nothing else is wrong, never valid);
- ``phantom-message``: a message for a value the table does not hold (its transaction failed,
  or never ran);
- ``aggregate-order``: two writes of one aggregate, the first acknowledged before the second
  began (so committed in that order), whose messages (first copies) are in the other order in
  the log; concurrent transactions may commit, and be published, in either order;
- duplicates are allowed (a relay killed between publish and mark sends again): counted in the
  details (``duplicates``), never an anomaly.

Unknown when either final read is missing or failed: then nothing can be compared.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..history import Completed, History
from .verdict import Anomaly, Verdict

NAME = "outbox"


def _final(history: History, f: str, key: str) -> Completed | None:
    found = [c for c in history.complete() if c.f == f and c.key == key and c.is_final
             and c.type == "ok"]
    return found[-1] if found else None


def _pairs(value: Any, widths: tuple[int, ...], what: str) -> list[tuple[Any, ...]]:
    if not isinstance(value, list) or not all(
            isinstance(v, list | tuple) and len(v) in widths for v in value):
        raise ValueError(f"outbox: the final {what} must be a list of "
                         f"{' or '.join(map(str, widths))}-item lists, not {str(value)[:80]}")
    return [tuple(v) for v in value]


def check_outbox(history: History) -> Verdict:
    table_read, log_read = _final(history, "read", "table"), _final(history, "poll", "topic")
    if table_read is None or log_read is None:
        missing = [w for w, c in (("table", table_read), ("topic", log_read)) if c is None]
        return Verdict(NAME, "unknown",
                       reason=f"no successful final read of the {' and '.join(missing)}")
    rows = _pairs(table_read.value, (2, 3), "table read")
    messages = _pairs(log_read.value, (3,), "topic read")
    committed = {row[1]: row[0] for row in rows}
    unsent = {row[1] for row in rows if len(row) == 3 and not row[2]}
    writes: dict[Any, Completed] = {}
    for c in history.complete():
        if c.f == "write" and not c.is_final:
            writes[c.invoke.value] = c
    acked = {v: c.key for v, c in writes.items() if c.type == "ok"}
    anomalies: list[Anomaly] = []
    published: dict[Any, int] = defaultdict(int)
    for _, value, _ in messages:
        published[value] += 1
    pending = 0
    for value, aggregate in {**acked, **committed}.items():
        if value not in published and value in unsent:
            pending += 1
        elif value not in published:
            ops = writes[value].indices if value in writes else []
            where = "committed" if value in committed else "acknowledged (missing from the table)"
            anomalies.append(Anomaly(
                "lost-message", ops + table_read.indices,
                f"value {value} of {aggregate} {where}, never published", key=aggregate))
    for value in published:
        if value not in committed:
            w = writes.get(value)
            why = f"its transaction was {w.type}" if w is not None else "never written"
            anomalies.append(Anomaly(
                "phantom-message", (w.indices if w else []) + log_read.indices,
                f"message {value} published but not in the table ({why})"))
    anomalies += _order(messages, writes, log_read)
    details = {
        "committed": len(committed),
        "messages": len(messages),
        "distinct_published": len(published),
        "duplicates": sum(n - 1 for n in published.values()),
        "duplicated_values": sum(1 for n in published.values() if n > 1),
        "pending": pending,
    }
    if anomalies:
        return Verdict(NAME, "invalid", anomalies, details)
    if not committed:
        return Verdict(NAME, "unknown", details=details, reason="nothing was committed")
    if pending:
        return Verdict(NAME, "unknown", details=details,
                       reason=f"{pending} committed rows still unsent and unpublished at the "
                              "final read: the relay had not caught up")
    return Verdict(NAME, "valid", details=details)


def _order(messages: list[tuple[Any, ...]], writes: dict[Any, Completed],
           log_read: Completed) -> list[Anomaly]:
    """Per aggregate, writes ordered in real time whose first copies are not in that order."""
    position: dict[Any, int] = {}
    for i, (_, value, _) in enumerate(sorted(messages, key=lambda m: m[2])):
        position.setdefault(value, i)
    by_aggregate: dict[Any, list[Completed]] = defaultdict(list)
    for value, c in writes.items():
        if c.type == "ok" and value in position:
            by_aggregate[c.key].append(c)
    found: list[Anomaly] = []
    for aggregate, done in by_aggregate.items():
        done.sort(key=lambda c: c.start)
        for i, early in enumerate(done):
            late = next((c for c in done[i + 1:] if early.end is not None
                         and early.end < c.start
                         and position[c.invoke.value] < position[early.invoke.value]), None)
            if late is not None:
                found.append(Anomaly(
                    "aggregate-order", early.indices + late.indices + log_read.indices,
                    f"{aggregate}: message {late.invoke.value} came before "
                    f"{early.invoke.value}, whose transaction was acknowledged before it "
                    "began", key=aggregate))
                break
    return found


class OutboxChecker:
    name = NAME

    def check(self, history: History) -> Verdict:
        return check_outbox(history)
