"""Monotonic writes as readers see them (Terry et al. 1994), on registers with unique values.

Terry's guarantee: a server that has a session's write w2 also has the session's earlier
writes, applied before w2. For a register, a server that has returned w2 of a key and later
returns an earlier write w1 of the same session to that key applied w1 after w2: that is the
``monotonic-writes`` anomaly. ``sessions.py`` checks the same guarantee from the writers' end
(the store's version order, when the history carries one); this module needs no version
order, only what reads returned, and so also judges histories ordered by real time alone.

``scope="node"`` (the default): per node that answered (the ``node`` of the read's completion,
else of its invocation; reads naming none are skipped), since another replica may lawfully
still lag behind w2. ``scope="history"``: the store is one copy, so once any read returned w2,
no read invoked after that read completed, by any session, may return w1. A session is a
process (a new one after every ``info``); its writes are its ``write`` and ``cas`` operations
that may have happened (``fail`` never did), in invocation order. Reads of the initial value,
of a value written twice, or of a value nobody wrote are not any one session's write and are
skipped (``details["reads_skipped"]`` by reason).

``unknown``: no read observed a session's second or later write to a key (nothing could go
back), or ``time_limit`` ran out; never ``valid`` then. The document's own, different
"monotonic write consistency" is ``read_after_ack.py``.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from ..history import Completed, History, paused_gc
from .sessions import MW, _Findings, _require_increasing_indices
from .verdict import Verdict
from .version_order import cas_new, hashable

SCOPES = ("node", "history")


def check_monotonic_writes(
    history: History,
    *,
    scope: str = "node",
    time_limit: float | None = None,
    max_anomalies: int = 1000,
) -> Verdict:
    """Check monotonic writes as readers see them; see the module docstring."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    _require_increasing_indices(history)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    findings = _Findings([MW], max_anomalies)
    stats: dict[str, Any] = {"scope": scope, "reads": 0, "reads_checked": 0, "reads_skipped": {},
                             "later_writes_observed": 0}
    with paused_gc():
        events = _observations(history, scope, stats)
        seen: dict[tuple[Any, ...], tuple[int, Completed]] = {}
        for n, (_, invoked, c, group, sw) in enumerate(events):
            if deadline is not None and n % 1024 == 0 and time.monotonic() > deadline:
                return _mw_verdict(findings, stats, f"time limit of {time_limit}s reached")
            slot, seq = (group, hashable(c.key), sw[0]), sw[1]
            best = seen.get(slot)
            if not invoked:
                if best is None or seq > best[0]:
                    seen[slot] = (seq, c)
            elif best is not None and best[0] > seq:
                _went_back(findings, c, group, sw, best)
    return _mw_verdict(findings, stats, None)


class MonotonicWritesChecker:
    """``check_monotonic_writes`` as a ``Checker``."""

    name = MW

    def __init__(self, scope: str = "node", time_limit: float | None = None):
        self.scope, self.time_limit = scope, time_limit

    def check(self, history: History) -> Verdict:
        return check_monotonic_writes(history, scope=self.scope, time_limit=self.time_limit)


_SessionWrite = tuple[Hashable, int, list[Completed]]  # process, its position, its writes


def _observations(
    history: History, scope: str, stats: dict[str, Any]
) -> list[tuple[int, bool, Completed, Any, _SessionWrite]]:
    """Each attributed read twice, at its invocation (check) and completion (observe)."""
    completed = history.complete()
    mine: dict[tuple[Hashable, Hashable], list[Completed]] = {}
    table: dict[tuple[Hashable, Hashable], _SessionWrite | None] = {}
    for c in completed:
        if c.f in ("write", "cas") and c.type != "fail":
            value = c.invoke.value if c.f == "write" else cas_new(c.invoke.value)
            k = hashable(c.key)
            ws = mine.setdefault((c.process, k), [])
            ws.append(c)
            token = (k, hashable(value))
            table[token] = None if token in table else (c.process, len(ws) - 1, ws)
    initial = hashable(history.meta.get("initial"))
    events = []
    skipped = stats["reads_skipped"]
    for c in completed:
        if c.f != "read" or c.type != "ok":
            continue
        stats["reads"] += 1
        node = c.completion.node if c.completion and c.completion.node else c.invoke.node
        sw = table.get((hashable(c.key), hashable(c.value)), "unattributed")
        why = ("no node" if scope == "node" and node is None else "initial"
               if hashable(c.value) == initial else "ambiguous" if sw is None
               else sw if isinstance(sw, str) else None)
        if why is not None or not isinstance(sw, tuple):
            skipped[why] = skipped.get(why, 0) + 1
            continue
        stats["reads_checked"] += 1
        stats["later_writes_observed"] += sw[1] > 0
        assert c.completion is not None
        group = node if scope == "node" else None
        events += [(c.invoke.index, True, c, group, sw), (c.completion.index, False, c, group, sw)]
    events.sort(key=lambda e: e[0])
    return events


def _went_back(
    findings: _Findings, r: Completed, group: Any, sw: _SessionWrite, best: tuple[int, Completed]
) -> None:
    p, seq, writes = sw
    w1, w2, saw = writes[seq], writes[best[0]], best[1]
    where = "the store" if group is None else f"node {group}"
    findings.add(MW, r.key, [w1, w2, saw, r], lambda: (
        f"process {p} wrote {w1.invoke.value!r} and later {w2.invoke.value!r} to {r.key!r}; "
        f"{where} returned {saw.value!r} (to process {saw.process}) and, after that, "
        f"{r.value!r} (to process {r.process})"))


def _mw_verdict(findings: _Findings, stats: dict[str, Any], out_of_budget: str | None) -> Verdict:
    details = {**stats, "anomaly_counts": findings.counts}
    if findings.counts[MW]:
        reason = f"stopped early: {out_of_budget}" if out_of_budget else ""
        return Verdict(MW, "invalid", findings.anomalies, details, reason)
    if out_of_budget:
        return Verdict(MW, "unknown", details=details, reason=out_of_budget)
    if not stats["later_writes_observed"]:
        return Verdict(MW, "unknown", details=details, reason=(
            "no read observed a session's second or later write to a key: nothing could go back"))
    return Verdict(MW, "valid", details=details)
