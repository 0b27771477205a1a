"""Linearizability: is there a legal sequential order of the operations that respects real time?

The search is Wing & Gong's, with Lowe's cache of visited configurations (as in Porcupine):
walk the invocation/completion events in real-time order, linearize an invoked operation
whenever the model allows it, and backtrack when a completion is reached whose operation could
not be placed. A configuration is the set of linearized operations (a bitset in a Python int)
plus the model state; one that was already explored is never explored again.

Independent objects (keys) are checked separately (P-compositionality, Herlihy & Wing 1990).
An operation with an unknown outcome has its return placed after every other event: it may take
effect at any point after its invocation, or never. A ``fail`` never happened and is dropped.
A time or state budget that runs out gives ``unknown`` with the longest linearizable prefix
found and the operations that could not be placed — never ``valid``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from ..history import Completed, History
from .models import CONCAT, GENERIC, ILLEGAL, READ, UNKNOWN, WRITE, Model, Step, model_for
from .verdict import Anomaly, Verdict, merge

DEFAULT_MAX_STATES = 4_000_000  # cached configurations per partition (~0.5 GB)


@dataclass
class Partition:
    """One independent object's operations, in invocation order."""

    key: Any
    ops: list[Completed] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # invocation position in the history
    ends: list[int | None] = field(default_factory=list)  # completion position, None: unknown


@dataclass
class SearchResult:
    result: str  # valid | invalid | unknown
    explored: int
    best: int = 0  # linearized-operation bitset of the deepest configuration reached
    best_state: Any = None
    stuck: int | None = None  # operation whose completion could not be passed there
    reason: str = ""


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


def search(
    part: Partition,
    model: Model,
    deadline: float | None,
    max_states: int,
) -> Generator[None, None, SearchResult]:
    """Wing-Gong-Lowe search over one partition's events.

    A generator that yields every few thousand steps, so that several partitions can be
    searched in turn and the whole check can stop as soon as one is invalid; its return
    value is the SearchResult.
    """
    n = len(part.ops)
    if n == 0:
        return SearchResult("valid", 0)
    big = 1 << 62
    events = sorted(
        [(start, 0, i) for i, start in enumerate(part.starts)]
        + [(big + i if e is None else e, 1, i) for i, e in enumerate(part.ends)]
    )
    size = len(events)
    # Doubly linked list over event nodes 1..size, head 0, terminator -1.
    nxt = list(range(1, size + 2))
    nxt[size] = -1
    prv = list(range(-1, size))
    is_call = [False] * (size + 1)
    op_of = [0] * (size + 1)
    ret_node = [0] * n
    for node, (_, kind, i) in enumerate(events, 1):
        op_of[node] = i
        if kind == 0:
            is_call[node] = True
        else:
            ret_node[i] = node
    known = [e is not None for e in part.ends]
    known_left = sum(known)
    steps = part.steps
    step: Callable[[Any, Step], Any] = model.step
    bits = [1 << i for i in range(n)]
    shaped = [model.shape(s) for s in steps] if model.shape else [(GENERIC, None)] * n
    shapes = [k for k, _ in shaped]
    values = [v for _, v in shaped]

    state = model.init
    lin = 0
    # Each stack entry: (call node, state before it, forced). A forced step is an operation
    # with a known outcome that is legal and leaves the state unchanged (a read, a failed cas):
    # if any linearization exists from here, one places it right now, since moving it to the
    # front changes no state and breaks no real-time order. So it is never a choice point, and
    # backtracking passes straight through it.
    stack: list[tuple[int, Any, bool]] = []
    cache: set[tuple[int, Any]] = set()
    best = SearchResult("invalid", 0)
    best_depth = -1
    entry = nxt[0]
    iterations = 0
    while known_left:
        iterations += 1
        if not iterations & 0x3FFF:
            if deadline is not None and time.monotonic() > deadline:
                return _out_of_budget(best, len(cache), "time limit reached")
            yield
        if is_call[entry]:
            i = op_of[entry]
            k = shapes[i]
            if k == READ:
                if values[i] != state:
                    entry = nxt[entry]
                    continue
                new_state = state
            elif k == WRITE:
                new_state = values[i]
            elif k == CONCAT:
                new_state = state + values[i]
            else:
                new_state = step(state, steps[i])
                if new_state is ILLEGAL:
                    entry = nxt[entry]
                    continue
            same = new_state is state or new_state == state
            if not known[i] and same:
                # Unknown outcome and no effect now: it can always be placed last instead.
                entry = nxt[entry]
                continue
            config = (lin | bits[i], new_state)
            if config not in cache:
                if len(cache) >= max_states:
                    return _out_of_budget(best, len(cache), "state budget reached")
                cache.add(config)
                stack.append((entry, state, same))
                state, lin = new_state, config[0]
                if known[i]:
                    known_left -= 1
                # lift the call and its return out of the list
                r = ret_node[i]
                nxt[prv[entry]] = nxt[entry]
                prv[nxt[entry]] = prv[entry]
                nxt[prv[r]] = nxt[r]
                if nxt[r] != -1:
                    prv[nxt[r]] = prv[r]
                entry = nxt[0]
                continue
            if not same:
                entry = nxt[entry]
                continue
            # A forced step into an explored configuration: this configuration is dead too.
        elif len(stack) > best_depth:
            # A completion whose operation is still unplaced: this branch is dead.
            best_depth = len(stack)
            best.best, best.best_state, best.stuck = lin, state, op_of[entry]
        # Backtrack to the last real choice.
        while True:
            if not stack:
                best.explored = len(cache)
                return best
            entry, state, forced = stack.pop()
            i = op_of[entry]
            lin ^= bits[i]
            if known[i]:
                known_left += 1
            r = ret_node[i]
            nxt[prv[r]] = r
            if nxt[r] != -1:
                prv[nxt[r]] = r
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            if not forced:
                break
        entry = nxt[entry]
    return SearchResult("valid", len(cache))


def run_searches(
    parts: list[Partition],
    model: Model,
    deadline: float | None,
    max_states: int,
    stop_on_invalid: bool,
) -> dict[int, SearchResult]:
    """Search every partition: on several cores when that pays (see parallel.py), otherwise
    taking turns, a slice each, so that an invalid partition is found early either way."""
    from . import parallel

    if parallel.usable(parts):
        return parallel.run_parallel(parts, model, deadline, max_states, stop_on_invalid)
    running = {i: search(p, model, deadline, max_states) for i, p in enumerate(parts)}
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


def _out_of_budget(best: SearchResult, explored: int, reason: str) -> SearchResult:
    return SearchResult("unknown", explored, best.best, best.best_state, best.stuck, reason)


def _members(bitset: int) -> list[int]:
    out = []
    i = 0
    while bitset:
        if bitset & 1:
            out.append(i)
        bitset >>= 1
        i += 1
    return out


def _describe(c: Completed) -> str:
    key = "" if c.key is None else f" {c.key!r}"
    if c.type == "ok" and c.f in ("read", "dequeue", "txn"):
        return f"{c.f}{key} -> {c.value!r}"
    return f"{c.f}{key} {c.invoke.value!r}" + ("" if c.type == "ok" else f" ({c.type})")


def evidence(part: Partition, res: SearchResult) -> tuple[list[int], list[int], str]:
    """(history indices showing the problem, indices of the longest prefix, explanation)."""
    placed = _members(res.best)
    prefix = [idx for i in placed for idx in part.ops[i].indices]
    if res.stuck is None:
        return [], prefix, res.reason
    stuck = part.ops[res.stuck]
    # The latest state-changing operations before it usually explain what it should have seen.
    limit = stuck.completion.index if stuck.completion else stuck.invoke.index
    changers = [
        part.ops[i]
        for i in placed
        if part.ops[i].f not in ("read",) and part.ops[i].invoke.index < limit
    ]
    changers.sort(key=lambda c: c.completion.index if c.completion else c.invoke.index)
    shown = [*changers[-2:], stuck]
    ops = sorted(idx for c in shown for idx in c.indices)
    why = (
        f"{_describe(stuck)} cannot be linearized: after the {len(placed)} operations that can "
        f"be, the state is {_show_state(res.best_state)!r}"
    )
    return ops, prefix, why


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
    all_partitions: bool = False,
) -> Verdict:
    """Check a history against a model; ``unknown`` when a budget runs out.

    By default the check stops at the first invalid partition (key); ``all_partitions``
    checks every one, for a report that lists each key's anomaly.
    """
    m = model if isinstance(model, Model) else model_for(model, history.meta.get("initial"))
    deadline = None if time_limit is None else time.monotonic() + time_limit
    parts = partitions(history, m)
    results = run_searches(parts, m, deadline, max_states, stop_on_invalid=not all_partitions)
    verdicts = [_verdict(parts[i], r) for i, r in sorted(results.items())]
    v = merge("linearizable", verdicts) if verdicts else Verdict("linearizable", "valid")
    v.details = {
        "model": m.name,
        "partitions": len(parts),
        "partitions_checked": len(results),
        "operations": sum(len(p.ops) for p in parts),
        "explored": sum(r.explored for r in results.values()),
        **(
            {"unknown_partitions": [x.details for x in verdicts if x.result == "unknown"]}
            if v.result == "unknown"
            else {}
        ),
    }
    return v


def _verdict(part: Partition, res: SearchResult) -> Verdict:
    if res.result == "valid":
        return Verdict("linearizable", "valid")
    ops, prefix, why = evidence(part, res)
    if res.result == "unknown":
        unplaced = sorted(
            idx
            for i in set(range(len(part.ops))) - set(_members(res.best))
            for idx in part.ops[i].indices
        )
        return Verdict(
            "linearizable",
            "unknown",
            reason=f"key {part.key!r}: {res.reason}" if part.key is not None else res.reason,
            details={"key": part.key, "longest_prefix": prefix, "unplaced": unplaced},
        )
    return Verdict(
        "linearizable",
        "invalid",
        [Anomaly("nonlinearizable", ops, why, part.key)],
        details={"longest_prefix": prefix},
    )


class LinearizabilityChecker:
    """The Checker protocol's face for the search above."""

    name = "linearizable"

    def __init__(self, model: str = "cas-register", time_limit: float | None = None):
        self.model = model
        self.time_limit = time_limit

    def check(self, history: History) -> Verdict:
        return check_linearizable(history, self.model, time_limit=self.time_limit)
