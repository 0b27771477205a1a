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
    """Tarjan's strongly connected components (iterative), in reverse topological order."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, i = work[-1]
            edges = succ[v]
            if i < len(edges):
                work[-1] = (v, i + 1)
                w = edges[i]
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
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
