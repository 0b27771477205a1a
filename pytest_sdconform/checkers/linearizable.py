"""Linearizability: is there a legal sequential order of the operations that respects real time?

The search is Wing & Gong's, with Lowe's cache of visited configurations (as in Porcupine); it
is in ``wgl.py``, and ``parallel.py`` runs it on several cores when that pays.

Independent objects (keys) are checked separately (P-compositionality, Herlihy & Wing 1990).
An operation with an unknown outcome has its return placed after every other event: it may take
effect at any point after its invocation, or never. A ``fail`` never happened and is dropped.
A time, state or memory budget that runs out gives ``unknown`` with the longest linearizable
prefix found and the operations that could not be placed — never ``valid``. The memory budget
bounds the search caches of all partitions together (half the memory available when unset),
so a search too large for the machine ends ``unknown (memory budget)``, not in an OOM kill.
"""

from __future__ import annotations

import time
from typing import Any

from ..history import Completed, History
from . import native, parallel
from .models import UNKNOWN, Model, model_for
from .verdict import Anomaly, Verdict, merge
from .wgl import MEMORY_BUDGET_REASON, MemoryBudget, Partition, SearchResult, search

DEFAULT_MAX_STATES = 4_000_000  # cached configurations per partition (~0.5 GB)
FALLBACK_MEMORY_LIMIT = 1 << 30  # bytes, where /proc/meminfo cannot tell what is available


_read_at = (-1.0, FALLBACK_MEMORY_LIMIT)


def default_memory_limit() -> int:
    """Half the memory the machine has available now (/proc/meminfo's MemAvailable, read at
    most once a second: on a corpus of small histories the read cost more than the check)."""
    global _read_at
    now = time.monotonic()
    if now - _read_at[0] < 1.0:
        return _read_at[1]
    limit = FALLBACK_MEMORY_LIMIT
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limit = int(line.split()[1]) * 1024 // 2
                    break
    except (OSError, ValueError, IndexError):
        pass
    _read_at = (now, limit)
    return limit


def partitions(history: History, model: Model) -> list[Partition]:
    """Split the client operations into the model's independent objects."""
    positions = {op.index: pos for pos, op in enumerate(history.ops)}
    parts: dict[Any, Partition] = {}
    for c in history.complete():
        try:
            prepared = model.prepare(c)
        except (ValueError, TypeError) as e:
            raise history.error(str(e), positions.get(c.invoke.index)) from None
        if prepared is None:
            continue
        key, step = prepared
        part = parts.get(key)
        if part is None:
            part = parts[key] = Partition(key)
        part.ops.append(c)
        part.steps.append(step)
        part.starts.append(positions[c.invoke.index])
        unknown = step[2] is UNKNOWN or c.completion is None
        part.ends.append(None if unknown else positions[c.completion.index])  # type: ignore[union-attr]
    return list(parts.values())


def run_searches(
    parts: list[Partition],
    model: Model,
    deadline: float | None,
    max_states: int,
    stop_on_invalid: bool,
    memory: MemoryBudget | None = None,
    engine: str = "python",
) -> dict[int, SearchResult]:
    """Search every partition: on several cores when that pays (see parallel.py), otherwise
    taking turns, a slice each, so that an invalid partition is found early either way; the
    searches share ``memory``. ``engine="native"``: the compiled search (native.py) when the
    partitions fit it."""
    memory = memory or MemoryBudget(default_memory_limit())
    if engine == "native":
        found = native.run_searches(parts, model, deadline, max_states, stop_on_invalid, memory)
        if found is not None:
            return found
    if parallel.usable(parts):
        return parallel.run_parallel(parts, model, deadline, max_states, stop_on_invalid, memory)
    running = {i: search(p, model, deadline, max_states, memory) for i, p in enumerate(parts)}
    done: dict[int, SearchResult] = {}
    while running:
        for i, gen in list(running.items()):
            try:
                next(gen)
            except StopIteration as stop:
                del running[i]
                done[i] = stop.value
                if stop_on_invalid and stop.value.result == "invalid":
                    return done
    return done


def _members(bitset: int) -> list[int]:
    """The set bits' positions, lowest first."""
    return [i for i, bit in enumerate(bin(bitset)[:1:-1]) if bit == "1"]


def _describe(c: Completed) -> str:
    key = "" if c.key is None else f" {c.key!r}"
    if c.type == "ok" and c.f in ("read", "dequeue", "txn"):
        return f"{c.f}{key} -> {c.value!r}"
    return f"{c.f}{key} {c.invoke.value!r}" + ("" if c.type == "ok" else f" ({c.type})")


def evidence(part: Partition, res: SearchResult) -> tuple[list[int], list[int], str]:
    """(history indices showing the problem, indices of the longest prefix, explanation)."""
    ops = part.ops
    if res.prefix is not None:  # computed by the compiled loop, as below
        prefix = res.prefix
    else:
        prefix = []
        for i in _members(res.best):
            c = ops[i]
            prefix.append(c.invoke.index)
            if c.completion is not None:
                prefix.append(c.completion.index)
    if res.stuck is None:
        return [], prefix, res.reason
    stuck = ops[res.stuck]
    why = (
        f"{_describe(stuck)} cannot be linearized: after the {res.best.bit_count()} operations "
        f"that can be, the state is {_show_state(res.best_state)!r}"
    )
    if res.changers is not None:
        shown = [ops[i] for i in res.changers] + [stuck]
        return sorted(idx for c in shown for idx in c.indices), prefix, why
    # The latest state-changing operations before it usually explain what it should have seen:
    # the two last by completion (or invocation) index, a later one first among equals.
    limit = stuck.completion.index if stuck.completion else stuck.invoke.index
    last: tuple[int, Completed] | None = None
    before: tuple[int, Completed] | None = None
    for i in _members(res.best):
        c = ops[i]
        invoke = c.invoke
        if invoke.f == "read" or invoke.index >= limit:
            continue
        k = invoke.index if c.completion is None else c.completion.index
        if last is None or k >= last[0]:
            before, last = last, (k, c)
        elif before is None or k >= before[0]:
            before = (k, c)
    shown = [x[1] for x in (before, last) if x is not None] + [stuck]
    return sorted(idx for c in shown for idx in c.indices), prefix, why


def _show_state(state: Any) -> Any:
    if isinstance(state, frozenset):
        return sorted(state, key=repr)
    return state


def check_linearizable(
    history: History,
    model: str | Model = "cas-register",
    *,
    time_limit: float | None = None,
    max_states: int = DEFAULT_MAX_STATES,
    memory_limit: int | None = None,
    all_partitions: bool = False,
    engine: str | None = None,
) -> Verdict:
    """Check a history against a model; ``unknown`` when a budget runs out.

    ``engine``: ``native`` (the compiled search), ``python`` (wgl.py), or None for native when
    it is built and holds the model (native.py).

    ``memory_limit``: bytes the search caches may hold together (default: half the memory
    available). By default the check stops at the first invalid partition (key);
    ``all_partitions`` checks every one, for a report that lists each key's anomaly.
    """
    m = model if isinstance(model, Model) else model_for(model, history.meta.get("initial"))
    deadline = None if time_limit is None else time.monotonic() + time_limit
    memory = MemoryBudget(default_memory_limit() if memory_limit is None else memory_limit)
    used = native.choose(engine, m)
    fast = None
    if used == "native":  # the whole check compiled; partitions built only for the evidence
        fast = native.search_history(history, m, deadline, max_states, not all_partitions, memory)
    if fast is None:
        parts = partitions(history, m)
        results = run_searches(
            parts, m, deadline, max_states, stop_on_invalid=not all_partitions, memory=memory,
            engine=used,
        )
        n_parts, n_ops = len(parts), sum(len(p.ops) for p in parts)
    else:
        n_parts, n_ops, results, found_parts = fast
        parts = [found_parts.get(i) for i in range(n_parts)]  # type: ignore[misc]
    verdicts = [
        Verdict("linearizable", "valid") if r.result == "valid"
        else _verdict(parts[i], r, m, memory.limit) for i, r in sorted(results.items())
    ]
    v = merge("linearizable", verdicts) if verdicts else Verdict("linearizable", "valid")
    v.details = {
        "model": m.name,
        "partitions": n_parts,
        "partitions_checked": len(results),
        "operations": n_ops,
        "explored": sum(r.explored for r in results.values()),
        **(
            {"unknown_partitions": [x.details for x in verdicts if x.result == "unknown"]}
            if v.result == "unknown"
            else {}
        ),
    }
    return v


LAST_SHOWN = 12  # linearized operations shown before the one that cannot follow them


def linearization(part: Partition, res: SearchResult, model: Model,
                  last: int = LAST_SHOWN) -> dict[str, Any]:
    """The longest linearizable prefix the search reached, as a reader follows it: how many
    operations it placed, the last ``last`` of them in their linearized order with the model's
    state after each, then the operation that cannot be placed and the state it met."""
    order = res.order()
    if res.after is not None and len(res.after) == min(last, len(order)):
        after = res.after  # the states the compiled loop replayed
    else:
        state, after, step, steps = model.init, [], model.step, part.steps
        for i in order:
            state = step(state, steps[i])
            after.append(state)
    shown = [{"ops": part.ops[i].indices, "op": _describe(part.ops[i]),
              "state": _show_state(s)} for i, s in zip(order[-last:], after[-last:], strict=True)]
    out: dict[str, Any] = {"placed": len(order), "shown": shown,
                           "state_before": _show_state(res.best_state)}
    if res.stuck is not None:
        stuck = part.ops[res.stuck]
        out["stuck"] = {"ops": stuck.indices, "op": _describe(stuck)}
    return {"linearization": out}


def _verdict(part: Partition, res: SearchResult, model: Model, memory_limit: int) -> Verdict:
    if res.result == "valid":
        return Verdict("linearizable", "valid")
    ops, prefix, why = evidence(part, res)
    if res.result == "unknown":
        unplaced = sorted(
            idx
            for i in set(range(len(part.ops))) - set(_members(res.best))
            for idx in part.ops[i].indices
        )
        reason = res.reason
        if reason == MEMORY_BUDGET_REASON:
            reason = (
                f"memory budget ({memory_limit / 2**20:.1f} MiB) reached after "
                f"{res.explored} configurations; a larger --memory-limit may decide it"
            )
        return Verdict(
            "linearizable",
            "unknown",
            reason=f"key {part.key!r}: {reason}" if part.key is not None else reason,
            details={"key": part.key, "longest_prefix": prefix, "unplaced": unplaced},
        )
    return Verdict(
        "linearizable",
        "invalid",
        [Anomaly("nonlinearizable", ops, why, part.key, linearization(part, res, model))],
        details={"longest_prefix": prefix},
    )


class LinearizabilityChecker:
    """The Checker protocol's face for the search above."""

    name = "linearizable"

    def __init__(
        self,
        model: str = "cas-register",
        time_limit: float | None = None,
        memory_limit: int | None = None,
    ):
        self.model = model
        self.time_limit = time_limit
        self.memory_limit = memory_limit

    def check(self, history: History) -> Verdict:
        return check_linearizable(
            history, self.model, time_limit=self.time_limit, memory_limit=self.memory_limit
        )
