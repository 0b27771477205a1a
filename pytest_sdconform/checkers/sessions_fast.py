"""The session guarantees under the real-time rule, in columns: the fast path of ``sessions.py``.

The same rules as ``version_order.py`` (realtime) and ``sessions.py``, without a ``Completed``,
``Write`` or ``Seen`` per operation: per key, a table from each written value to its write's
position in the columns, each write's end in a flat list, the steps as positions, then the
sessions. It answers when every key is under real-time order (else ``None``: a key with
versions under ``order="auto"``), naming the keys that show an anomaly; ``sessions.py`` runs
the reference path on those keys alone, which words their anomalies.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .columnar import Columns
from .version_order import _NOTHING, INF, cas_new, hashable, number

_SCALARS = frozenset((str, int, float, bool, type(None)))
_INITIAL = -1  # the "write" of the initial value
_AMBIGUOUS = -2  # a value written more than once
_OWN = -3  # in ``seen``: the step is an ok write, not a read


def scan(
    cols: Columns, initial: Any, wanted: frozenset[str], order: str, kinds: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, int], list[Hashable]] | None:
    """``(stats, rules, keys)``: the statistics and rules as the reference path counts them,
    and the keys (in the reference path's order) with an anomaly of the ``wanted`` kinds
    (``kinds``: read-your-writes, monotonic reads, monotonic writes, writes-follow-reads),
    which ``sessions.py`` checks again, key by key, on the reference path to word them;
    ``None`` when only the reference path can answer.

    Three passes in history order, none of which builds an object per operation (allocation
    and memory far from the last operation touched are what a million operations cost most):
    the writes of each key by value, then each read attributed to its write, then the
    sessions. Positions in the columns stand for operations.
    """
    invokes, completions = cols.invokes, cols.completions
    n = len(invokes)
    ends: list[float] = [INF] * n  # each write's end, by its position
    # what each step saw: for an ok read, the position of the write it observed (None:
    # skipped); for an ok write, _OWN
    seen: list[int | None] = [None] * n
    # per key: its values (value -> its write's position) and sessions (process -> see
    # _anomalous)
    keys: dict[Hashable, tuple[dict[Hashable, int], dict[Any, list[Any]]]] = {}
    reads: list[int] = []  # ok reads, and the table of their key
    read_tables: list[dict[Hashable, int]] = []
    steps: list[int] = []  # ok writes and ok reads in invocation order, and their session
    step_sessions: list[list[Any]] = []
    initial_token = hashable(initial)
    auto = order == "auto"
    writes = 0
    for j, inv, done in zip(range(n), invokes, completions, strict=True):
        f = inv.f
        if f == "read":
            if done is None or done.type != "ok":
                continue
        elif (f != "write" and f != "cas") or (done is not None and done.type == "fail"):
            continue
        if (
            auto
            and done is not None
            and done.extra
            and done.type == "ok"
            and number(done.extra.get("version")) is not None
        ):
            return None  # a key under version order: the reference path's business
        key = inv.key
        if key.__class__ not in _SCALARS:
            key = hashable(key)
        k = keys.get(key)
        if k is None:
            k = keys[key] = ({initial_token: _INITIAL}, {})
        table, by_process = k
        if f == "read":
            reads.append(j)
            read_tables.append(table)
        else:
            value = inv.value if f == "write" else cas_new(inv.value)
            if value is _NOTHING:
                continue  # a malformed cas writes nothing a read can return
            writes += 1
            token = value if value.__class__ in _SCALARS else hashable(value)
            table[token] = _AMBIGUOUS if token in table else j
            if done is None or done.type != "ok":
                continue
            ends[j] = done.index
            seen[j] = _OWN
        s = by_process.get(inv.process)
        if s is None:
            s = by_process[inv.process] = [None, -INF, None, -INF, key]
        steps.append(j)
        step_sessions.append(s)
    stats: dict[str, Any] = {
        "reads": len(reads),
        "reads_checked": 0,
        "reads_skipped": {},
        "writes": writes,
    }
    _attribute(cols, reads, read_tables, ends, seen, stats)
    checks = tuple(g in wanted for g in kinds)
    bad = _anomalous(cols, steps, step_sessions, ends, seen, checks)
    return stats, ({"realtime": len(keys)} if keys else {}), [k for k in keys if k in bad]


def _attribute(
    cols: Columns,
    reads: list[int],
    read_tables: list[dict[Hashable, int]],
    ends: list[float],
    seen: list[int | None],
    stats: dict[str, Any],
) -> None:
    """Each ok read attributed to its write, or counted as skipped; reads tighten ends."""
    invokes, completions = cols.invokes, cols.completions
    skipped: dict[str, int] = stats["reads_skipped"]
    checked = 0
    for j, table in zip(reads, read_tables, strict=True):
        done = completions[j]
        assert done is not None
        value = done.value
        w = table.get(value if value.__class__ in _SCALARS else hashable(value))
        if w is None:
            why = "unattributed"  # nobody wrote it
        elif w == _AMBIGUOUS:
            why = "ambiguous"
        elif w >= 0 and done.index < invokes[w].index:
            why = "unattributed"  # it was read before its write began
        else:
            if w >= 0 and done.index < ends[w]:
                ends[w] = done.index
            seen[j] = w
            checked += 1
            continue
        skipped[why] = skipped.get(why, 0) + 1
    stats["reads_checked"] = checked


def _anomalous(
    cols: Columns,
    steps: list[int],
    step_sessions: list[list[Any]],
    ends: list[float],
    seen: list[int | None],
    checks: tuple[bool, ...],
) -> set[Hashable]:
    """The keys on which a process's read or write breaks a wanted guarantee (the rules of
    ``sessions.py``; ``checks`` says which of the four are wanted). A session (a process on
    a key) is ``[its latest ok write, that write's start, the write its latest observation
    saw, that write's start, the key]``."""
    ryw, mr, mw, wfr = checks
    invokes = cols.invokes
    bad: set[Hashable] = set()
    for j, s in zip(steps, step_sessions, strict=True):
        w = seen[j]
        if w is None:
            continue  # a read skipped
        if w != _OWN:
            if w == _INITIAL:
                start = end = -INF
            else:
                start, end = invokes[w].index, ends[w]
            if (ryw and s[0] is not None and end < s[1]) or (
                mr and s[2] is not None and end < s[3]
            ):
                bad.add(s[4])
            if s[2] is None or start > s[3]:
                s[2], s[3] = w, start
        else:
            end, start = ends[j], invokes[j].index
            if (mw and s[0] is not None and end < s[1]) or (
                wfr and s[2] is not None and s[2] != j and end < s[3]
            ):
                bad.add(s[4])
            if s[0] is None or start > s[1]:
                s[0], s[1] = j, start
    return bad
