"""Transactional isolation on list-append histories: Adya's anomalies found as dependency cycles.

Elle's method (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from Experimental
Observations", VLDB 2020), written afresh for this harness. The workload: transactions ``txn``
whose value is a list of micro-ops ``["append", k, v]`` and ``["r", k, null]``; every appended
value is unique per key; an ``ok`` completion carries the read lists (``["r", k, [1, 2]]``).
A ``fail`` transaction did not commit; an ``info`` one may have (its appends count as committed
once some read shows them).

Because lists only grow, the longest read of a key shows the order its appends were applied
(the version order), and every other read of it must be a prefix of that read (else
``incompatible-order``). From it (Adya, "Weak Consistency", 1999, section 3) the dependency
graph: ``ww`` T1 -> T2 when T2 appended the element right after T1's in the version order;
``wr`` T1 -> T2 when T2 read a list whose last element T1 appended; ``rw`` T1 -> T2
(anti-dependency) when T1 read a list that T2's append extended next; optionally ``po``
(process order) and ``rt`` (real time: T1 completed before T2 began).

Found here, on the reads: ``G1a`` aborted read (a read shows an append of a failed
transaction), ``G1b`` intermediate read (a read ends on an append its transaction later
followed with another to the same key), ``incompatible-order``, ``internal`` (a transaction's
read does not show its own earlier append), ``duplicate-elements`` and ``garbage`` (an element
nobody appended). The cycles (``G0``, ``G1c``, ``G-single``, ``G2``, with a ``-process`` /
``-realtime`` suffix when they need such an edge) are found by ``cycles.py``; which isolation
level proscribes each kind is the table in ``isolation.py``.

The verdict is ``invalid`` when an anomaly forbidden at ``level`` shows; ``details`` names the
``strongest_level`` the history is consistent with and counts every anomaly kind found.
Runs in time linear in the history and the read lists, except the G-single test inside each
cycle component (see ``cycles.py``).

``engine``: ``native`` runs the same steps in the compiled core (``native/src/txn.rs``, through
``native.py``; the explanations are written by ``txn_findings.py`` for both), ``python`` this
module, the reference; None native when built (``native.choose``). A history the compiled core
does not hold (keys or values other than integers and strings...) is checked here.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ..history import Completed, History, freeze, paused_gc
from . import native
from . import txn_findings as say
from .cycles import PO, RT, RW, WR, WW, cycles
from .graph import Graph
from .isolation import LEVELS, proscribed, strongest_level
from .txn_findings import elements
from .verdict import Anomaly, Verdict

NAME = "txn"
# A read that shows a key's whole known version order precedes every committed append that no
# read shows: rw edges to at most this many of them (fewer edges can only miss a cycle).
UNSEEN_EDGES = 20


_EMPTY: frozenset[Any] = frozenset()


@dataclass
class _Txn:
    c: Completed
    mops: list[Any]

    @property
    def label(self) -> str:
        return f"T{self.c.invoke.index}"


class _Checker:
    def __init__(
        self, history: History, level: str, realtime: bool, process_order: bool, max_reports: int,
        engine: str = "python",
    ):
        self.history = history
        self.level = level
        self.realtime, self.process_order = realtime, process_order
        self.max_reports = max_reports
        self.engine = engine
        self.txns: dict[int, _Txn] = {}  # by number (natively: those the reports name)
        self.anomalies: list[Anomaly] = []
        self.counts: dict[str, int] = {}
        self.cycles: list[dict[str, Any]] = []

    # -- anomalies ------------------------------------------------------------------------

    def report(
        self,
        kind: str,
        txns: Sequence[int],
        explanation: str,
        key: Any = None,
        cycle: list[tuple[int, int, str, Any]] | None = None,
    ) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] > self.max_reports:
            return
        ops = sorted({i for t in txns for i in self.txns[t].c.indices})
        self.anomalies.append(Anomaly(kind, ops, explanation, key))
        if cycle is not None:
            self.cycles.append(
                {
                    "kind": kind,
                    "txns": [self.txns[a].c.invoke.index for a, _, _, _ in cycle],
                    "edges": [
                        [self.txns[a].c.invoke.index, self.txns[b].c.invoke.index, k, key]
                        for a, b, k, key in cycle
                    ],
                }
            )

    def describe(self, cycle: list[tuple[int, int, str, Any]]) -> str:
        parts = [self.txns[cycle[0][0]].label]
        for _, b, k, key in cycle:
            parts.append(f"-{k}{'' if key is None else f'({key!r})'}-> {self.txns[b].label}")
        return " ".join(parts)

    # -- the history ----------------------------------------------------------------------

    def run(self) -> Verdict:
        with paused_gc():
            if self.engine == "native":
                found = native.check_txn(
                    self.history, self.realtime, self.process_order, self.max_reports
                )
                if found is not None:
                    return self._replay(*found)
            return self._run()

    def _replay(
        self, n: int, committed: int, counts: list[Any], records: list[Any], places: list[Any]
    ) -> Verdict:
        """The compiled checker's findings: its records reported as ``_run`` reports them."""
        if not committed:
            return Verdict(NAME, "unknown", reason="no transaction completed ok")
        ops = self.history.ops
        for t, i, j in places:
            c = Completed(ops[i], None if j < 0 else ops[j])
            self.txns[t] = _Txn(c, c.value if isinstance(c.value, list) else [])
        say.replay(self, records)
        self.counts = dict(counts)
        return self.verdict(committed, n)

    def _run(self) -> Verdict:
        for c in self.history.complete():
            if c.f == "txn":
                mops = c.value if isinstance(c.value, list) else []
                self.txns[len(self.txns)] = _Txn(c, mops)
        committed = [t for t, x in self.txns.items() if x.c.type == "ok"]
        if not committed:
            return Verdict(NAME, "unknown", reason="no transaction completed ok")
        writer, failed, finals = self.index_appends()
        reads = self.reads(committed, writer, failed, finals)
        order = self.version_orders(reads)
        graph = self.build(writer, reads, order, committed)
        self.cycles_of(graph)
        return self.verdict(len(committed), len(self.txns))

    def index_appends(
        self,
    ) -> tuple[dict[tuple[Any, Any], int], dict[tuple[Any, Any], int], set[tuple[Any, Any]]]:
        writer: dict[tuple[Any, Any], int] = {}
        failed: dict[tuple[Any, Any], int] = {}
        finals: set[tuple[Any, Any]] = set()  # (k, v): the last append of its txn to k
        for t, x in self.txns.items():
            last: dict[Hashable, Any] = {}
            for mop in x.mops:
                if mop[0] == "append":
                    k, v = freeze(mop[1]), freeze(mop[2])
                    (failed if x.c.type == "fail" else writer)[(k, v)] = t
                    last[k] = v
            finals.update(last.items())
        return writer, failed, finals

    def reads(
        self,
        committed: list[int],
        writer: dict[tuple[Any, Any], int],
        failed: dict[tuple[Any, Any], int],
        finals: set[tuple[Any, Any]],
    ) -> list[tuple[int, Any, list[Any], list[Any]]]:
        """Each ok read as (txn, key, full list, external part): the external part leaves out
        the reader's own earlier appends, which must end the list."""
        out = []
        written: dict[Any, set[Any]] = {}
        for k, v in writer:
            written.setdefault(k, set()).add(v)
        for t in committed:
            own: dict[Hashable, list[Any]] = {}
            for mop in self.txns[t].mops:
                k = freeze(mop[1])
                if mop[0] == "append":
                    own.setdefault(k, []).append(freeze(mop[2]))
                    continue
                seen, distinct = elements(mop[2])
                mine = own.get(k)
                external = seen
                if mine:
                    if seen[-len(mine) :] != mine:
                        self.report(
                            "internal", [t], say.internal(self.txns[t].label, seen, k, mine), k
                        )
                        continue
                    external = seen[: len(seen) - len(mine)]
                if len(distinct) != len(seen):
                    self.report(
                        "duplicate-elements",
                        [t],
                        say.duplicate_elements(self.txns[t].label, k, seen),
                        k,
                    )
                strange = distinct - written.get(k, _EMPTY)  # C speed for the common case
                for v in external if strange else ():
                    if v not in strange:
                        continue
                    if (k, v) in failed:
                        w = failed[(k, v)]
                        self.report(
                            "G1a",
                            [w, t],
                            say.aborted_read(self.txns[t].label, v, k, self.txns[w].label),
                            k,
                        )
                    elif (k, v) not in writer:
                        self.report("garbage", [t], say.garbage(self.txns[t].label, v, k), k)
                last = (k, external[-1]) if external else None
                source = writer.get(last) if last is not None else None
                if source is not None and last not in finals:
                    self.report(
                        "G1b",
                        [source, t],
                        say.intermediate_read(
                            self.txns[t].label, k, external[-1], self.txns[source].label
                        ),
                        k,
                    )
                out.append((t, k, seen, external))
        return out

    def version_orders(
        self, reads: list[tuple[int, Any, list[Any], list[Any]]]
    ) -> dict[Any, list[Any]]:
        longest: dict[Any, tuple[int, list[Any]]] = {}
        for t, k, seen, _ in reads:
            if k not in longest or len(seen) > len(longest[k][1]):
                longest[k] = (t, seen)
        bad: set[Any] = set()
        for t, k, seen, _ in reads:
            u, order = longest[k]
            if k not in bad and order[: len(seen)] != seen:
                bad.add(k)
                self.report(
                    "incompatible-order",
                    [u, t],
                    say.incompatible_order(self.txns[t].label, seen, k, self.txns[u].label, order),
                    k,
                )
        return {k: v[1] for k, v in longest.items()}

    def build(
        self,
        writer: dict[tuple[Any, Any], int],
        reads: list[tuple[int, Any, list[Any], list[Any]]],
        order: dict[Any, list[Any]],
        committed: list[int],
    ) -> Graph:
        g = Graph(len(self.txns))
        order_sets = {k: set(v) for k, v in order.items()}
        unseen: dict[Any, list[int]] = {}
        for (k, v), w in writer.items():
            if v not in order_sets.get(k, _EMPTY) and self.txns[w].c.type == "ok":
                unseen.setdefault(k, []).append(w)
        for k, versions in order.items():
            for a, b in itertools.pairwise(versions):
                wa, wb = writer.get((k, a)), writer.get((k, b))
                if wa is not None and wb is not None:
                    g.add(wa, wb, WW, k)
        for t, k, _, external in reads:
            versions = order[k]
            if versions[: len(external)] != external:
                continue  # an incompatible read places nothing
            if external:
                source = writer.get((k, external[-1]))
                if source is not None:
                    g.add(source, t, WR, k)
            if len(external) < len(versions):
                successor = writer.get((k, versions[len(external)]))
                if successor is not None:
                    g.add(t, successor, RW, k)
            else:  # every committed append nobody saw yet came after this read
                for w in unseen.get(k, [])[:UNSEEN_EDGES]:
                    g.add(t, w, RW, k)
        if self.process_order:
            last: dict[Any, int] = {}
            for t in committed:
                p = self.txns[t].c.process
                if p in last:
                    g.add(last[p], t, PO)
                last[p] = t
        if self.realtime:
            self.realtime_edges(g, committed)
        return g

    def realtime_edges(self, g: Graph, committed: list[int]) -> None:
        """T1 -> T2 when T1 completed before T2 began, transitively reduced by a frontier:
        once T2 completes, T1 is implied through it and leaves the frontier."""
        events = []
        for t in committed:
            c = self.txns[t].c
            assert c.completion is not None
            events.append((c.invoke.index, 1, t))
            events.append((c.completion.index, 0, t))
        events.sort()
        frontier: set[int] = set()
        preds: dict[int, set[int]] = {}
        for _, is_invoke, t in events:
            if is_invoke:
                preds[t] = set(frontier)
                for p in frontier:
                    g.add(p, t, RT)
            else:
                frontier -= preds.get(t, set())
                frontier.add(t)

    # -- cycles ---------------------------------------------------------------------------

    def cycles_of(self, g: Graph) -> None:
        for kind, cycle in cycles(g, self.max_reports):
            self.report(kind, [a for a, _, _, _ in cycle], self.describe(cycle), cycle=cycle)

    # -- the verdict ----------------------------------------------------------------------

    def verdict(self, committed: int, transactions: int) -> Verdict:
        top = "strict-serializable" if self.realtime else "serializable"
        strongest = strongest_level(self.counts, top)
        at = self.level
        forbidden = [a for a in self.anomalies if proscribed(a.kind, at)]
        allowed = {k: n for k, n in self.counts.items() if not proscribed(k, at)}
        details: dict[str, Any] = {
            "strongest_level": strongest,
            "level": self.level,
            "transactions": transactions,
            "committed": committed,
            "anomaly_counts": dict(self.counts),
            "allowed_at_level": allowed,
            "cycles": [c for c in self.cycles if proscribed(c["kind"], at)][:20],
        }
        if forbidden:
            kinds = sorted({a.kind for a in forbidden})
            return Verdict(
                NAME,
                "invalid",
                forbidden,
                details,
                reason=f"{', '.join(kinds)} forbidden at {self.level}; the history "
                f"is at most {strongest}",
            )
        return Verdict(
            NAME,
            "valid",
            [],
            details,
            reason=f"consistent with {self.level} (strongest: {strongest})",
        )


def check_txn(
    history: History,
    level: str = "serializable",
    realtime: bool = False,
    process_order: bool = False,
    max_reports: int = 20,
    engine: str | None = None,
) -> Verdict:
    """Check a list-append history at isolation ``level`` (one of ``LEVELS``) with ``engine``
    (``native``, ``python``, or None: native when built)."""
    if level not in LEVELS[1:]:
        raise ValueError(f"unknown isolation level {level!r}; one of {', '.join(LEVELS[1:])}")
    chosen = native.choose(engine)
    return _Checker(history, level, realtime, process_order, max_reports, chosen).run()


@dataclass
class TxnChecker:
    """The list-append isolation checker at ``level``."""

    level: str = "serializable"
    realtime: bool = False
    process_order: bool = False
    name: str = NAME
    engine: str | None = None

    def check(self, history: History) -> Verdict:
        return check_txn(
            history, self.level, self.realtime, self.process_order, engine=self.engine
        )
