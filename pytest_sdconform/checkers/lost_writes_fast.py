"""Lost acknowledged writes in columns: the fast path of ``durability.py``.

The same rules as ``durability.py``, over ``columnar.paired``'s lists: the final reads of each
key (the only reads made into ``Completed`` objects), then each write's fate and each ok read's
elements against what was written, in two passes in history order. It decides a history with
no phantom and names its lost writes, which ``durability.py`` words as the reference path does;
at a phantom it returns ``None``, and ``durability.py`` runs the reference path. It takes the
elements a read shows from ``durability.elements``, passed in (``durability`` imports this
module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..history import Completed, Operation, freeze
from .columnar import Columns

_SCALARS = frozenset((str, int, float, bool, type(None)))
_NOTHING: frozenset[Any] = frozenset()
# a key's final reads: the latest one's invocation index, the elements of the only one (or
# None), each one's (invocation index, elements), and every element any of them shows
_Shown = tuple[int, set[Any] | None, list[tuple[int, set[Any]]], set[Any]]


@dataclass(slots=True)
class Decided:
    """What the reference path would find in a history without a phantom."""

    tally: dict[str, int]  # durability.Tally's fields but phantoms
    finals: dict[Any, list[tuple[Completed, set[Any]]]]  # per key: each final read, its elements
    source: str
    marked: list[Completed]  # reads marked final, whatever their outcome
    lost: list[tuple[Completed, Any]]  # each lost write (in invocation order) and its key


def scan(
    cols: Columns, kinds: frozenset[str], elements: Callable[[Any], set[Any]]
) -> Decided | None:
    """The tally, final reads and lost writes, or ``None`` when a read shows a phantom (or
    ``kinds`` takes in ``read``, a case only the reference path reads right)."""
    if "read" in kinds:
        return None
    invokes, completions = cols.invokes, cols.completions
    writes: list[int] = []
    ok_reads: list[int] = []
    marked: list[int] = []
    # the elements each key's writes may have put there (all but failed writes), so far; a
    # read showing only those is done with at once, any other is looked at again at the end
    allowed: dict[Any, set[Any]] = {}
    later: list[int] = []
    for j, inv, done in zip(range(len(invokes)), invokes, completions, strict=True):
        f = inv.f
        if f in kinds:
            writes.append(j)
            if done is not None and done.type == "fail":
                continue
            key, el = inv.key, inv.value
            if key.__class__ not in _SCALARS:
                key = freeze(key)
            known = allowed.get(key)
            if known is None:
                allowed[key] = {el if el.__class__ in _SCALARS else freeze(el)}
            else:
                known.add(el if el.__class__ in _SCALARS else freeze(el))
        elif f == "read":
            if (inv.extra is not None and inv.extra.get("final")) or (
                done is not None and done.extra is not None and done.extra.get("final")
            ):
                marked.append(j)
            if done is None or done.type != "ok":
                continue
            ok_reads.append(j)
            value, key = done.value, inv.key
            if value is None:
                continue
            if (
                value.__class__ not in _SCALARS
                or key.__class__ not in _SCALARS
                or value not in allowed.get(key, _NOTHING)
            ):
                later.append(j)
    finals, source = _final_reads(cols, marked, ok_reads, elements)
    tally: dict[str, int] = {}
    if _phantom(cols, later, allowed, elements):
        return None
    lost = _classify(cols, writes, finals, tally)
    picked = [Completed(invokes[j], completions[j]) for j in marked]
    return Decided(tally, finals, source, picked, lost)


def _final_reads(
    cols: Columns, marked: list[int], ok_reads: list[int], elements: Callable[[Any], set[Any]]
) -> tuple[dict[Any, list[tuple[Completed, set[Any]]]], str]:
    """``durability.final_reads``, from positions."""
    invokes, completions = cols.invokes, cols.completions
    chosen: dict[Any, list[int]] = {}
    if marked:
        for j in marked:
            done = completions[j]
            if done is not None and done.type == "ok":
                chosen.setdefault(freeze(invokes[j].key), []).append(j)
        source = "marked final"
    else:
        last: dict[Any, int] = {}
        for j in ok_reads:
            k = freeze(invokes[j].key)
            prev = last.get(k)
            if prev is None or completions[j].index > completions[prev].index:  # type: ignore[union-attr]
                last[k] = j
        chosen = {k: [j] for k, j in last.items()}
        source = "last ok read of each key (no read was marked final)"
    finals = {
        k: [
            (Completed(invokes[j], completions[j]), elements(_value_of(completions[j]))) for j in js
        ]
        for k, js in chosen.items()
    }
    return finals, source


def _value_of(done: Operation | None) -> Any:
    assert done is not None
    return done.value


def _classify(
    cols: Columns,
    writes: list[int],
    finals: dict[Any, list[tuple[Completed, set[Any]]]],
    tally: dict[str, int],
) -> list[tuple[Completed, Any]]:
    """Each write's fate in ``tally`` (``durability.classify``), and the lost ones with their
    keys."""
    invokes, completions = cols.invokes, cols.completions
    shown: dict[Any, _Shown] = {}
    for k, rs in finals.items():
        reads = [(c.invoke.index, els) for c, els in rs]
        union = reads[0][1] if len(reads) == 1 else set().union(*(els for _, els in reads))
        only = reads[0][1] if len(reads) == 1 else None
        shown[k] = (max(i for i, _ in reads), only, reads, union)
    nothing: _Shown = (-1, None, [], set())
    lost: list[tuple[Completed, Any]] = []
    failed = acknowledged = survived = unchecked = recovered = unknown_absent = 0
    for j in writes:
        inv, done = invokes[j], completions[j]
        key, el = inv.key, inv.value
        if key.__class__ not in _SCALARS:
            key = freeze(key)
        if el.__class__ not in _SCALARS:
            el = freeze(el)
        if done is not None and done.type == "fail":
            failed += 1
            continue
        last, only, reads, union = shown.get(key, nothing)
        if done is None or done.type != "ok":
            if el in union:
                recovered += 1
            else:
                unknown_absent += 1
            continue
        acknowledged += 1
        acked = done.index
        if last <= acked:
            unchecked += 1  # no final read of its key began after the ack
        elif (el in only) if only is not None else any(el in s for i, s in reads if i > acked):
            survived += 1
        else:
            lost.append((Completed(inv, done), key))
    tally.update(
        attempted=len(writes),
        acknowledged=acknowledged,
        survived=survived,
        unchecked=unchecked,
        recovered=recovered,
        unknown_absent=unknown_absent,
        failed=failed,
        lost=len(lost),
    )
    return lost


def _phantom(
    cols: Columns,
    reads: list[int],
    allowed: dict[Any, set[Any]],
    elements: Callable[[Any], set[Any]],
) -> bool:
    """Whether one of these ok reads shows an element no write that may have happened
    carried."""
    invokes, completions = cols.invokes, cols.completions
    for j in reads:
        key = invokes[j].key
        value = completions[j].value  # type: ignore[union-attr]
        if value is None:
            continue
        known = allowed.get(key if key.__class__ in _SCALARS else freeze(key), _NOTHING)
        if value.__class__ in _SCALARS:
            if value not in known:
                return True
        elif not elements(value) <= known:
            return True
    return False
