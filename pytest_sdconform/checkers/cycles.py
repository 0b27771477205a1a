"""Adya's cycle anomalies in a transaction dependency graph: G0, G1c, G-single and G2.

The graph's edges (Adya, "Weak Consistency", 1999, section 3): ``ww`` (write dependency),
``wr`` (read dependency), ``rw`` (anti-dependency), and optionally ``po`` (process order) and
``rt`` (real time). Cycles are found per strongly connected component (Tarjan), and each one
reported is a shortest cycle through one edge (breadth-first search):

- ``G0``: a cycle of ww edges, one per component;
- ``G1c``: a cycle of ww and wr edges with at least one wr, one per component not already
  explained by a G0;
- ``G-single``: an rw edge closed by a ww/wr path (reachability bitsets inside the component:
  quadratic in its size, in bits), as many as the report limit allows;
- ``G2``: else a cycle through the component's first rw edge that closes at all.

A cycle that needs a ``po`` or ``rt`` edge gets a ``-process`` / ``-realtime`` suffix (the
first of the two the cycle uses, in that order). Components are walked in node order, so the
compiled search (``native/src/txn.rs``) finds the same cycles. Which levels proscribe each
kind is in ``isolation.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .graph import Graph, sccs, shortest_path

WW, WR, RW, PO, RT = "ww", "wr", "rw", "po", "rt"
_SUFFIX = {PO: "-process", RT: "-realtime"}

# One edge of a cycle: (from, to, edge kind, key); nodes are transaction numbers.
Edge = tuple[int, int, str, Any]


def cycles(g: Graph, max_single: int) -> Iterator[tuple[str, list[Edge]]]:
    """The cycle anomalies of ``g`` as (kind, cycle), in the order they are found; G-single
    search in a component stops once ``max_single`` unsuffixed G-single cycles were found."""
    extra = {PO, RT}
    dep = frozenset({WW, WR} | extra)
    ww = frozenset({WW} | extra)
    nodes = range(g.n)
    everything = sccs(g.succ(frozenset(dep | {RW})), nodes)
    if all(len(comp) == 1 for comp in everything):
        return  # no cycle at all (the graph has no self-loops), so none over fewer edges
    explained: set[int] = set()
    for comp in sccs(g.succ(ww), nodes):
        if len(comp) > 1:
            yield from _cycle_in(g, set(comp), ww, WW)
            explained.update(comp)
    for comp in sccs(g.succ(dep), nodes):
        if len(comp) > 1 and not set(comp) <= explained:
            yield from _cycle_in(g, set(comp), dep, WR)
    singles = [0]
    for comp in everything:
        if len(comp) > 1:
            yield from _rw_cycles(g, set(comp), dep, max_single, singles)


def _named(kind: str, cycle: list[Edge]) -> tuple[str, list[Edge]]:
    for k in (PO, RT):
        if any(e[2] == k for e in cycle):
            kind += _SUFFIX[k]
            break
    return kind, cycle


def _cycle_in(
    g: Graph, comp: set[int], kinds: frozenset[str], through: str
) -> Iterator[tuple[str, list[Edge]]]:
    """A shortest cycle through one edge of type ``through`` inside a component (its members
    in order: the cycle reported does not depend on how a set lays out its members)."""
    for a in sorted(comp):
        for b, k, key in g.out[a]:
            if k == through and b in comp:
                back = shortest_path(g, b, a, kinds, comp)
                if back is not None:
                    yield _named("G0" if through == WW else "G1c", [(a, b, k, key), *back])
                    return


def _rw_cycles(
    g: Graph, comp: set[int], dep: frozenset[str], max_single: int, singles: list[int]
) -> Iterator[tuple[str, list[Edge]]]:
    """G-single where an rw edge closes a ww/wr path (reachability bitsets inside the
    component), else G2 through the first rw edge of the component. ``singles[0]`` counts
    the unsuffixed G-single cycles found so far, across components."""
    rw = [(a, b, key) for a in sorted(comp) for b, k, key in g.out[a] if k == RW and b in comp]
    if not rw:
        return
    succ = g.succ(dep, comp)
    inner = sccs(succ, sorted(comp))
    where = {v: i for i, members in enumerate(inner) for v in members}
    reach: list[int] = []
    for i, members in enumerate(inner):  # reverse topological: successors come first
        bits = 1 << i
        for v in members:
            for w in succ[v]:
                j = where[w]
                if j != i:
                    bits |= reach[j]
        reach.append(bits)
    full = frozenset(dep | {RW})
    found_single = False
    for a, b, key in rw:
        if reach[where[b]] >> where[a] & 1:
            back = shortest_path(g, b, a, dep, comp) if b != a else []
            if back is not None:
                kind, cycle = _named("G-single", [(a, b, RW, key), *back])
                if kind == "G-single":
                    singles[0] += 1
                yield kind, cycle
                found_single = True
                if singles[0] >= max_single:
                    break
    if found_single:
        return
    for a, b, key in rw:
        back = shortest_path(g, b, a, full, comp)
        if back is not None:
            yield _named("G2", [(a, b, RW, key), *back])
            return
