"""The Wing-Gong-Lowe search for a linearization of one partition (one key's operations).

The search is Wing & Gong's, with Lowe's cache of visited configurations (as in Porcupine):
walk the invocation/completion events in real-time order, linearize an invoked operation
whenever the model allows it, and backtrack when a completion is reached whose operation could
not be placed. A configuration is the set of linearized operations (a bitset in a Python int)
plus the model state; one that was already explored is never explored again.

An operation with an unknown outcome arrives with no completion position: its return is placed
after every other event. ``linearizable.py`` splits a history into partitions and turns the
results into a verdict; ``parallel.py`` runs this search on several cores.

The cache is bounded by a ``MemoryBudget`` shared by the partitions searched at once: each new
configuration is counted at its size (set slot, key tuple, bitset, and a new state object's
shallow size), and a search that would pass the budget stops with ``unknown`` (memory budget),
never an out-of-memory kill.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from ..history import Completed
from .models import CONCAT, GENERIC, ILLEGAL, READ, WRITE, Model, Step


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
    path: Any = None  # how ``best`` was reached: (last op, (the one before, (...))), or None
    ordered: list[int] | None = None  # the same as a list, first op first (the compiled core's)
    # What the evidence reads from every operation of ``best``, when the compiled loop computed
    # it (native.py; None: linearizable.py computes it): the history indices of those
    # operations, the two latest state-changing ones before ``stuck`` (their partition
    # indices), and the state after each of the last ``LAST_SHOWN`` (None: replay the model).
    prefix: list[int] | None = None
    changers: list[int] | None = None
    after: list[Any] | None = None

    def order(self) -> list[int]:
        """The operations of ``best`` in the order they were linearized."""
        if self.ordered is not None:
            return self.ordered
        out, link = [], self.path
        while link is not None:
            out.append(link[0])
            link = link[1]
        return out[::-1]


SLOT_BYTES = 48  # a set entry (hash and pointer, 16 bytes) at a third of the table's fill
TUPLE_BYTES = sys.getsizeof((0, 0))  # the (bitset, state) key
MEMORY_BUDGET_REASON = "memory budget reached"


@dataclass
class MemoryBudget:
    """Bytes the caches of the searches running at once may hold together."""

    limit: int
    used: int = 0

    def __post_init__(self) -> None:
        if self.limit <= 0:
            raise ValueError(f"memory limit must be positive, got {self.limit} bytes")


def search(
    part: Partition,
    model: Model,
    deadline: float | None,
    max_states: int,
    memory: MemoryBudget | None = None,
) -> Generator[None, None, SearchResult]:
    """The search below, its cache counted in ``memory`` while it runs and freed at its end."""
    memory = memory or MemoryBudget(1 << 62)
    held = [0]  # bytes of its cache the search has counted in memory.used so far
    try:
        return (yield from _search(part, model, deadline, max_states, memory, held))
    finally:
        memory.used -= held[0]


def _search(
    part: Partition,
    model: Model,
    deadline: float | None,
    max_states: int,
    memory: MemoryBudget,
    held: list[int],
) -> Generator[None, None, SearchResult]:
    """Wing-Gong-Lowe search over one partition's events.

    A generator that yields every few thousand steps, so that several partitions can be
    searched in turn and the whole check can stop as soon as one is invalid; its return
    value is the SearchResult. ``memory`` is shared with the searches running beside it: this
    one's cache may grow to what the others left at its last yield.
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
    getsizeof = sys.getsizeof
    bits = [1 << i for i in range(n)]
    shaped = [model.shape(s) for s in steps] if model.shape else [(GENERIC, None)] * n
    shapes = [k for k, _ in shaped]
    values = [v for _, v in shaped]
    fresh = [k not in (READ, WRITE) for k in shapes]  # its step may build a new state object

    state = model.init
    lin = 0
    # The linearization so far as a linked list (op, rest), shared between configurations:
    # the deepest one's is kept for the report at the cost of one tuple per step.
    path: Any = None
    # Each stack entry: (call node, state before it, forced, path before it). A forced step is
    # an operation with a known outcome that is legal and leaves the state unchanged (a read,
    # a failed cas):
    # if any linearization exists from here, one places it right now, since moving it to the
    # front changes no state and breaks no real-time order. So it is never a choice point, and
    # backtracking passes straight through it.
    stack: list[tuple[int, Any, bool, Any]] = []
    cache: set[tuple[int, Any]] = set()
    best = SearchResult("invalid", 0)
    best_depth = -1
    entry = nxt[0]
    iterations = 0
    # Bytes of this search's cache (``mine``); ``allowed``: the budget less the others' caches.
    per_config = SLOT_BYTES + TUPLE_BYTES + sys.getsizeof(bits[-1] << 1)
    mine = n * (sys.getsizeof((0, 0, 0, 0)) + TUPLE_BYTES)  # the stack and path at their deepest
    allowed = memory.limit - memory.used
    while known_left:
        iterations += 1
        if not iterations & 0x3FFF:
            if deadline is not None and time.monotonic() > deadline:
                return _out_of_budget(best, len(cache), "time limit reached")
            memory.used += mine - held[0]
            held[0] = mine
            yield
            allowed = memory.limit - (memory.used - mine)
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
                mine += per_config + getsizeof(new_state) if fresh[i] else per_config
                if mine > allowed:
                    return _out_of_budget(best, len(cache), MEMORY_BUDGET_REASON)
                cache.add(config)
                stack.append((entry, state, same, path))
                state, lin, path = new_state, config[0], (i, path)
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
            best.best, best.best_state, best.stuck, best.path = lin, state, op_of[entry], path
        # Backtrack to the last real choice.
        while True:
            if not stack:
                best.explored = len(cache)
                return best
            entry, state, forced, path = stack.pop()
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


def _out_of_budget(best: SearchResult, explored: int, reason: str) -> SearchResult:
    return SearchResult("unknown", explored, best.best, best.best_state, best.stuck, reason,
                        best.path)
