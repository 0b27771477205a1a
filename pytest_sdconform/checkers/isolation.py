"""Isolation levels as data: which anomalies each level proscribes, weakest level first.

Sources (the facts, restated here): Adya's thesis "Weak Consistency: A Generalized Theory and
Optimistic Implementations for Distributed Transactions" (MIT, 1999) and Adya, Liskov & O'Neil,
"Generalized Isolation Level Definitions" (ICDE 2000), which define the levels by the
dependency-graph phenomena they rule out; Berenson et al., "A Critique of ANSI SQL Isolation
Levels" (SIGMOD 1995), for the ANSI names and snapshot isolation; and Elle (Kingsbury &
Alvaro, VLDB 2020), whose consistency-model table maps anomalies to the models they rule out
in the same way.

The anomalies (``txn.py`` finds them, ``cycles.py`` names the cycles):

- ``G0`` write cycle (ww edges only). Proscribed from read uncommitted (Adya's PL-1) up.
- ``G1a`` aborted read, ``G1b`` intermediate read, ``G1c`` circular information flow (ww and wr
  edges, at least one wr). Proscribed from read committed (PL-2) up.
- ``G-single`` a cycle with exactly one anti-dependency (rw) edge: read skew. Proscribed from
  the ``repeatable-read`` rung up.
- ``G2`` a cycle that needs two or more rw edges: write skew. Proscribed by serializable (PL-3).
- A cycle that needs a process-order or real-time edge (kind suffixed ``-process`` /
  ``-realtime``) is proscribed only by strict serializability.
- ``incompatible-order``, ``internal``, ``duplicate-elements`` and ``garbage`` are not Adya's:
  they say the reads cannot come from any list-append store, so every level proscribes them.

The rung named ``repeatable-read`` here is the snapshot-isolation one of Elle's table: it
proscribes G-single but admits G2. Adya's PL-2.99 (his repeatable read) would also proscribe
G2-item, the only kind of G2 a list-append history shows; Berenson et al. explain why the ANSI
name is ambiguous. The name is kept as callers pass it (``TxnChecker(level=...)``).
"""

from __future__ import annotations

from collections.abc import Iterable

# Levels from weakest to strongest; "none" proscribes nothing.
LEVELS = (
    "none",
    "read-uncommitted",
    "read-committed",
    "repeatable-read",
    "serializable",
    "strict-serializable",
)
# Anomaly kinds no list-append store can show at all.
IMPOSSIBLE = frozenset({"incompatible-order", "internal", "duplicate-elements", "garbage"})
# The cycle kinds that take a "-process" / "-realtime" suffix when they need such an edge.
CYCLES = ("G0", "G1c", "G-single", "G2")
ORDER_SUFFIXES = ("-process", "-realtime")

_RU = frozenset({"G0"}) | IMPOSSIBLE
_RC = _RU | {"G1a", "G1b", "G1c"}
_RR = _RC | {"G-single"}
_SER = _RR | {"G2"}
_STRICT = _SER | {f"{kind}{suffix}" for kind in CYCLES for suffix in ORDER_SUFFIXES}

# Each level's proscribed anomalies, in full (each level's set contains the weaker ones').
PROSCRIBES: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "read-uncommitted": _RU,
    "read-committed": _RC,
    "repeatable-read": _RR,
    "serializable": _SER,
    "strict-serializable": _STRICT,
}

# The weakest level that proscribes each anomaly kind, read off the table.
FORBIDDEN_FROM: dict[str, str] = {
    kind: next(level for level in LEVELS if kind in PROSCRIBES[level])
    for kind in sorted(PROSCRIBES[LEVELS[-1]])
}


def forbidden_from(kind: str) -> str:
    """The weakest level that proscribes ``kind`` (KeyError for a kind the table lacks)."""
    return FORBIDDEN_FROM[kind]


def proscribed(kind: str, level: str) -> bool:
    """Whether ``level`` rules out an anomaly of ``kind``."""
    return kind in PROSCRIBES[level]


def strongest_level(kinds: Iterable[str], top: str) -> str:
    """The strongest level, ``top`` at most, that proscribes none of ``kinds``: the level just
    below the first one, weakest first, that proscribes any of them."""
    found = set(kinds)
    strongest = LEVELS[0]
    for level in LEVELS[1 : LEVELS.index(top) + 1]:
        if not PROSCRIBES[level].isdisjoint(found):
            break
        strongest = level
    return strongest
