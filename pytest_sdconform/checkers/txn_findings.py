"""What ``txn.py`` says of each list-append anomaly, and the compiled checker's records
(``native/src/txn.rs``) turned into the same reports.

The compiled checker makes no text: a record names the anomaly's kind, its transactions, its
key, and where the evidence is in their micro-ops (the read's position, an element's); the
explanation is written here from those micro-ops, by the functions the Python path uses, so
both engines say the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..history import freeze

# One edge of a cycle: (from, to, edge kind, key); nodes are transaction numbers.
Edge = tuple[int, int, str, Any]


def elements(value: Any) -> tuple[list[Any], set[Any]]:
    """A read's list, its elements hashable (JSON lists inside become tuples), and their set."""
    if not value:
        return [], set()
    items = list(value)
    try:
        return items, set(items)  # the common case, at C speed
    except TypeError:
        items = [freeze(v) for v in items]
        return items, set(items)


def internal(t: str, seen: list[Any], k: Any, mine: list[Any]) -> str:
    return f"{t} read {seen} of {k!r} after appending {mine} to it"


def duplicate_elements(t: str, k: Any, seen: list[Any]) -> str:
    return f"{t} read {k!r} with a repeated element: {seen}"


def aborted_read(t: str, v: Any, k: Any, writer: str) -> str:
    return f"{t} read {v!r} of {k!r}, appended by {writer}, which failed"


def garbage(t: str, v: Any, k: Any) -> str:
    return f"{t} read {v!r} of {k!r}, which no transaction appended"


def intermediate_read(t: str, k: Any, v: Any, writer: str) -> str:
    return f"{t} read {k!r} ending in {v!r}, an intermediate append of {writer}"


def incompatible_order(t: str, seen: list[Any], k: Any, u: str, order: list[Any]) -> str:
    return f"{t} read {seen} of {k!r}, not a prefix of {u}'s {order}"


class Txn(Protocol):
    mops: list[Any]

    @property
    def label(self) -> str: ...


class Reporter(Protocol):
    @property
    def txns(self) -> Mapping[int, Txn]: ...

    def report(
        self, kind: str, txns: Sequence[int], explanation: str, key: Any = None,
        cycle: list[Edge] | None = None,
    ) -> None: ...

    def describe(self, cycle: list[Edge]) -> str: ...


def _read(x: Txn, mop: int) -> list[Any]:
    return elements(x.mops[mop][2])[0]


def replay(checker: Reporter, records: list[Any]) -> None:
    """Report each record as ``txn.py`` reported it; ``checker.txns`` holds every transaction
    the records name. Records: (kind, transactions, key, positions, cycle edges or None)."""
    for kind, txns, key, refs, edges in records:
        if edges is not None:
            cycle = [(a, b, k, kk) for a, b, k, kk in edges]
            checker.report(kind, txns, checker.describe(cycle), cycle=cycle)
            continue
        x, first = checker.txns[txns[-1]], checker.txns[txns[0]]
        if kind == "incompatible-order":
            text = incompatible_order(x.label, _read(x, refs[1]), key, first.label,
                                      _read(first, refs[0]))
        elif kind == "internal":
            mine = [freeze(m[2]) for m in x.mops[: refs[0]]
                    if m[0] == "append" and freeze(m[1]) == key]
            text = internal(x.label, _read(x, refs[0]), key, mine)
        elif kind == "duplicate-elements":
            text = duplicate_elements(x.label, key, _read(x, refs[0]))
        elif kind == "G1a":
            text = aborted_read(x.label, _read(x, refs[0])[refs[1]], key, first.label)
        elif kind == "garbage":
            text = garbage(x.label, _read(x, refs[0])[refs[1]], key)
        elif kind == "G1b":
            text = intermediate_read(x.label, key, _read(x, refs[0])[refs[1]], first.label)
        else:
            raise ValueError(f"the compiled checker returned an unknown anomaly kind {kind!r}")
        checker.report(kind, txns, text, key)
