"""A directed graph of labelled edges between transactions, and the two searches the isolation
checker runs on it: strongly connected components (Tarjan, iterative) and a shortest path over
some edge kinds (breadth-first)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Graph:
    n: int
    out: list[list[tuple[int, str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out = [[] for _ in range(self.n)]

    def add(self, a: int, b: int, kind: str, key: Any = None) -> None:
        if a != b:
            self.out[a].append((b, kind, key))

    def succ(self, kinds: frozenset[str], within: set[int] | None = None) -> list[list[int]]:
        return [
            sorted({b for b, k, _ in edges if k in kinds and (within is None or b in within)})
            for edges in self.out
        ]


def sccs(succ: Sequence[Sequence[int]], nodes: Iterable[int]) -> list[list[int]]:
    """Tarjan's strongly connected components (iterative), in reverse topological order.

    Nodes are 0..len(succ)-1, so the bookkeeping is in lists, and each node on the walk keeps
    an iterator over its edges (a graph of 100 k transactions goes through here three times).
    """
    index = [-1] * len(succ)
    low = [0] * len(succ)
    on_stack = [False] * len(succ)
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in nodes:
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [(root, iter(succ[root]))]
        while work:
            v, edges = work[-1]
            for w in edges:
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, iter(succ[w])))
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack[w] = False
                        comp.append(w)
                        if w == v:
                            break
                    out.append(comp)
    return out


def shortest_path(
    graph: Graph, src: int, dst: int, kinds: frozenset[str], within: set[int]
) -> list[tuple[int, int, str, Any]] | None:
    """A shortest path src -> dst over edges of ``kinds`` inside ``within`` (BFS)."""
    parent: dict[int, tuple[int, str, Any]] = {}
    seen = {src}
    queue = deque([src])
    while queue:
        u = queue.popleft()
        if u == dst and u != src:
            break
        for v, k, key in graph.out[u]:
            if k in kinds and v in within and v not in seen:
                seen.add(v)
                parent[v] = (u, k, key)
                if v == dst:
                    queue.clear()
                    break
                queue.append(v)
    if dst not in parent:
        return None
    steps = []
    v = dst
    while v != src:
        u, k, key = parent[v]
        steps.append((u, v, k, key))
        v = u
    return steps[::-1]
