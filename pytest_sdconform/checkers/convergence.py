"""Convergence: the part of eventual consistency a finite history can check.

Eventual consistency promises that once writes stop, every replica ends up with the same value
(Vogels, "Eventually consistent", CACM 2009; Terry et al.'s Bayou, 1995, on anti-entropy). "In
the end" cannot be observed, so the check is on the reads made at the end: after the last write
to a key completed and every fault was healed (and the run let the system settle), the final
reads of that key from every node must agree, and agree on a value some write produced (or the
initial value). A node that still answers differently has not converged, whatever it does later.

Input: final reads are ok ``read`` operations marked ``"final": true`` (the runner marks both
lines of the reads it makes after heal and settle); each names the node that answered in its
completion's ``node`` (or its invocation's). A final read counts only if it was invoked after
every ok write or cas to its key had completed and after the last fault window closed; an
``info`` write is taken to have landed or died by then (that is what the settle is for). Reads
of a key with no completed writes are compared as they are.

Anomaly kinds:

- ``divergent-final-reads``: final reads of one key disagree (the explanation says which node
  said what);
- ``unwritten-final-value``: a final read returned a value no write or cas to its key could have
  produced and that is not the initial value (only for register keys: writes and cas).

A key is checked when its counted final reads come from at least two nodes; otherwise it is
listed in ``details["unchecked"]`` with the reason. With no checked key, or when ``time_limit``
runs out before a verdict, the result is ``unknown`` (anomalies found so far still make it
``invalid``).
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from ..history import Completed, History, freeze
from .verdict import Anomaly, Result, Verdict

NAME = "convergence"
DIVERGENT = "divergent-final-reads"
UNWRITTEN = "unwritten-final-value"
_SHOWN = 50  # keys listed by name in the details


@dataclass
class _Key:
    """What the history says of one key: values written, when the last write completed, and
    its final reads."""

    written: set[Hashable] = field(default_factory=set)
    register: bool = False  # written by write/cas (values comparable with reads)
    other_writes: bool = False  # add, append...: final values are not single written values
    last_write_done: int = -1
    finals: list[Completed] = field(default_factory=list)


def check_convergence(
    history: History, *, time_limit: float | None = None, max_anomalies: int = 100
) -> Verdict:
    """Check that final reads agree across nodes on a written value; see the module docstring."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    keys = _keys(history)
    healed = _last_heal(history)
    anomalies: list[Anomaly] = []
    counts = {DIVERGENT: 0, UNWRITTEN: 0}
    unchecked: dict[str, str] = {}
    checked: dict[str, list[str]] = {}
    initial = freeze(history.meta.get("initial"))
    for n, (key, k) in enumerate(keys.items()):
        if deadline is not None and n % 256 == 0 and time.monotonic() > deadline:
            details = {"keys_checked": len(checked), "keys_left": len(keys) - n}
            return _verdict(anomalies, counts, checked, unchecked, details,
                            f"time limit of {time_limit}s reached")
        if healed is None:
            unchecked[repr(key)] = "a fault was never healed"
            continue
        late = [c for c in k.finals
                if c.invoke.index > k.last_write_done and c.invoke.index > healed]
        for kind, text, ops in _findings(key, k, late, initial):
            counts[kind] += 1
            if len(anomalies) < max_anomalies:
                anomalies.append(Anomaly(kind, ops, text, key))
        nodes = {_node(c) for c in late} - {None}
        if len(nodes) < 2:
            early = len(k.finals) - len(late)
            unchecked[repr(key)] = (
                f"final reads from {len(nodes)} node(s)"
                + (f" ({early} invoked before the last write or heal)" if early else "")
            )
        else:
            checked[repr(key)] = sorted(map(str, nodes))
    return _verdict(anomalies, counts, checked, unchecked, {}, None)


class ConvergenceChecker:
    """The convergence checker as a ``Checker``."""

    name = NAME

    def __init__(self, time_limit: float | None = None):
        self.time_limit = time_limit

    def check(self, history: History) -> Verdict:
        return check_convergence(history, time_limit=self.time_limit)


def _keys(history: History) -> dict[Any, _Key]:
    keys: dict[Any, _Key] = {}
    for c in history.complete():
        if c.type == "fail":
            continue
        k = keys.setdefault(freeze(c.key), _Key())
        f = c.f
        if f == "read":
            if c.is_final and c.type == "ok":
                k.finals.append(c)
            continue
        if f in ("write", "cas"):
            v = c.invoke.value
            if f == "cas":
                if not (isinstance(v, list | tuple) and len(v) == 2):
                    raise ValueError(f"cas {c.invoke.index} needs a value [expected, new], "
                                     f"got {v!r}")
                v = v[1]
            k.written.add(freeze(v))
            k.register = True
        else:
            k.other_writes = True
        if c.type == "ok" and c.completion is not None:
            k.last_write_done = max(k.last_write_done, c.completion.index)
    return {key: k for key, k in keys.items() if k.finals}


def _last_heal(history: History) -> int | None:
    """The index after which no fault acts (-1: no fault); None when one never healed."""
    last = -1
    for w in history.fault_windows():
        if w.end_index is None:
            return None
        last = max(last, w.end_index)
    return last


def _node(c: Completed) -> str | None:
    done = c.completion
    return done.node if done is not None and done.node is not None else c.invoke.node


def _by_node(reads: list[Completed]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for c in reads:
        out.setdefault(str(_node(c)), []).append(c.value)
    return out


def _findings(
    key: Any, k: _Key, late: list[Completed], initial: Hashable
) -> list[tuple[str, str, list[int]]]:
    out: list[tuple[str, str, list[int]]] = []
    values = {freeze(c.value) for c in late}
    if len(values) > 1 and len({_node(c) for c in late} - {None}) >= 2:
        said = "; ".join(f"{node} said {', '.join(map(repr, vs))}"
                         for node, vs in sorted(_by_node(late).items()))
        out.append((DIVERGENT, f"after the last write and heal, final reads of {key!r} "
                               f"disagree: {said}", sorted(i for c in late for i in c.indices)))
    if not k.other_writes:
        for c in late:
            v = freeze(c.value)
            if v != initial and v not in k.written:
                out.append((UNWRITTEN, f"node {_node(c)} finally returned {c.value!r} for "
                                       f"{key!r}, a value no write to it produced",
                            c.indices))
    return out


def _verdict(anomalies: list[Anomaly], counts: dict[str, int],
             checked: dict[str, list[str]], unchecked: dict[str, str],
             extra: dict[str, Any], out_of_budget: str | None) -> Verdict:
    shown = dict(list(checked.items())[:_SHOWN])
    details: dict[str, Any] = {"keys_checked": len(checked), "nodes": shown,
                               "unchecked": dict(list(unchecked.items())[:_SHOWN]),
                               "keys_unchecked": len(unchecked), "anomaly_counts": counts,
                               **extra}
    total = sum(counts.values())
    if total > len(anomalies):
        details["anomalies_truncated"] = total - len(anomalies)
    if total:
        result: Result = "invalid"
        return Verdict(NAME, result, anomalies, details,
                       f"stopped early: {out_of_budget}" if out_of_budget else "")
    if out_of_budget:
        return Verdict(NAME, "unknown", details=details, reason=out_of_budget)
    if not checked:
        why = ("no final reads (marked final)" if not unchecked else
               "no key has final reads from at least two nodes after the last write and heal")
        return Verdict(NAME, "unknown", details=details, reason=why)
    return Verdict(NAME, "valid", details=details)
