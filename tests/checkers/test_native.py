"""The compiled search (native/, checkers/native.py) against the reference (wgl.py).

Both engines run the same search step for step, so on every history they must give the same
verdict, the same anomalies and linearization evidence, and explore the same number of
configurations: on the whole public corpus and on Hypothesis-generated histories, valid and
not. Set SDCONFORM_REQUIRE_NATIVE=1 (CI does) to fail rather than skip when it is not built.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest
from compact import history
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers import native
from pytest_sdconform.checkers.linearizable import check_linearizable, partitions, run_searches
from pytest_sdconform.checkers.models import model_for
from pytest_sdconform.checkers.wgl import MemoryBudget, SearchResult
from pytest_sdconform.formats import read_history
from pytest_sdconform.history import History, HistoryError, Operation

if os.environ.get("SDCONFORM_REQUIRE_NATIVE") and not native.available():
    raise RuntimeError("SDCONFORM_REQUIRE_NATIVE is set but sdconform_native is not built")
needs_native = pytest.mark.skipif(not native.available(), reason="sdconform_native not built")

CORPUS = Path(__file__).resolve().parent.parent / "conformance"
with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as fh:
    ROWS = list(csv.DictReader(fh, delimiter="\t"))
EXPECTED = {"ok": "valid", "illegal": "invalid"}


def outcome(h: History, model: str, engine: str, **kw: Any) -> tuple[Any, ...]:
    v = check_linearizable(h, model, engine=engine, all_partitions=True, **kw)
    return (v.result, v.details.get("explored"), v.reason,
            [(a.kind, a.ops, a.key, a.explanation, a.details) for a in v.anomalies])


@needs_native
@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_corpus_same_under_both_engines(row: dict[str, str]) -> None:
    """The verdict the MANIFEST expects under both; a valid history's search explores as many
    configurations in each; an invalid one's key (the first found: the engines take the keys in
    different orders) gives the same anomaly and evidence under both, searched alone."""
    h = read_history(str(CORPUS / row["file"]))
    mine = check_linearizable(h, row["model"], engine="native", time_limit=120)
    theirs = check_linearizable(h, row["model"], engine="python", time_limit=120)
    assert mine.result == theirs.result == EXPECTED[row["expected"]], mine.reason
    if mine.result == "valid":
        assert mine.details["explored"] == theirs.details["explored"]
    for a in mine.anomalies:
        alone = History([op for op in h.ops if op.key == a.key], meta=h.meta)
        assert outcome(alone, row["model"], "native") == outcome(alone, row["model"], "python")


# --- generated histories ----------------------------------------------------------------

REGISTER_OPS = st.one_of(
    st.tuples(st.just("read"), st.none(), st.sampled_from([None, 0, 1, 2])),
    st.tuples(st.just("write"), st.integers(0, 2), st.none()),
    st.tuples(st.just("cas"), st.tuples(st.integers(0, 2), st.integers(0, 2)), st.none()),
)
KV_OPS = st.one_of(
    st.tuples(st.just("read"), st.none(), st.sampled_from(["", "a", "ab", "b", "ba", "aa"])),
    st.tuples(st.just("write"), st.sampled_from(["", "a", "b"]), st.none()),
    st.tuples(st.just("append"), st.sampled_from(["a", "b"]), st.none()),
)

MUTEX_OPS = st.tuples(st.sampled_from(["acquire", "release"]), st.none(), st.none())


def generated(ops: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """Commands (process, key, operation, completion type): a process with nothing pending
    invokes the operation, one with an operation pending completes it."""
    return st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["x", "y"]), ops,
                  st.sampled_from(["ok", "ok", "ok", "fail", "info"])),
        max_size=28,
    )


def build(commands: list[Any], **meta: Any) -> History:
    out: list[Operation] = []
    pending: dict[int, tuple[str, str, Any, Any]] = {}
    proc = {p: p for p in range(4)}
    for p, key, (f, arg, result), typ in commands:
        n = len(out)
        if p not in pending:
            out.append(Operation(n, n, proc[p], "invoke", f, key, list(arg)
                                 if isinstance(arg, tuple) else arg))
            pending[p] = (f, key, arg, result)
            continue
        f, key, arg, result = pending.pop(p)
        value = result if f == "read" else list(arg) if isinstance(arg, tuple) else arg
        out.append(Operation(n, n, proc[p], typ, f, key, value if typ == "ok" else
                             (None if f == "read" else value)))
        if typ == "info":
            proc[p] += 10
    return History(out, meta=meta)


@needs_native
@settings(max_examples=200, deadline=None)
@given(generated(REGISTER_OPS), st.sampled_from(["cas-register", "etcd-cas-register"]))
def test_registers_agree_on_generated_histories(commands: list[Any], model: str) -> None:
    h = build(commands)
    mine = outcome(h, model, "native")
    event(mine[0])
    assert mine == outcome(h, model, "python")


@needs_native
@settings(max_examples=200, deadline=None)
@given(generated(KV_OPS))
def test_kv_agrees_on_generated_histories(commands: list[Any]) -> None:
    h = build(commands, initial="")
    mine = outcome(h, "kv", "native")
    event(mine[0])
    assert mine == outcome(h, "kv", "python")


@needs_native
@settings(max_examples=150, deadline=None)
@given(generated(MUTEX_OPS))
def test_mutex_agrees_on_generated_histories(commands: list[Any]) -> None:
    h = build(commands)
    mine = outcome(h, "mutex", "native")
    event(mine[0])
    assert mine == outcome(h, "mutex", "python")


MICRO = st.tuples(st.sampled_from(["r", "w"]), st.sampled_from(["x", "y"]), st.integers(0, 2),
                  st.sampled_from([True, True, True, False]))
TXNS = st.lists(
    st.tuples(st.integers(0, 3), st.lists(MICRO, min_size=1, max_size=3),
              st.sampled_from(["ok", "ok", "ok", "fail", "info"])),
    max_size=24,
)


def build_txns(commands: list[Any], **meta: Any) -> History:
    """Multi-register transactions: a process invokes its micro-ops (reads without values),
    then completes them (an ok's reads with a value, or nil when not returned)."""
    out: list[Operation] = []
    pending: dict[int, list[Any]] = {}
    proc = {p: p for p in range(4)}
    for p, micro, typ in commands:
        n = len(out)
        if p not in pending:
            pending[p] = micro
            out.append(Operation(n, n, proc[p], "invoke", "txn", None,
                                 [[f, k, None if f == "r" else v] for f, k, v, _ in micro]))
            continue
        micro = pending.pop(p)
        value = [[f, k, v if f == "w" or returned else None] for f, k, v, returned in micro]
        out.append(Operation(n, n, proc[p], typ, "txn", None, value))
        if typ == "info":
            proc[p] += 10
    return History(out, meta=meta)


@needs_native
@settings(max_examples=200, deadline=None)
@given(TXNS, st.sampled_from([0, 1, {"x": 1}]))
def test_multi_register_agrees_on_generated_histories(commands: list[Any], init: Any) -> None:
    h = build_txns(commands, initial=init)
    mine = outcome(h, "multi-register", "native")
    event(mine[0])
    assert mine == outcome(h, "multi-register", "python")


@needs_native
def test_multi_register_stale_read_is_invalid_natively() -> None:
    """T1 writes x=1 and y=1 and completes; T2, invoked after, reads x=1 but y=0."""
    h = build_txns([(0, [("w", "x", 1, True), ("w", "y", 1, True)], "ok"), (0, [], "ok"),
                    (1, [("r", "x", 1, True), ("r", "y", 0, True)], "ok"), (1, [], "ok")],
                   initial=0)
    v = check_linearizable(h, "multi-register", engine="native")
    assert v.result == "invalid"
    [a] = v.anomalies
    assert a.ops == [0, 1, 2, 3]
    assert "(('x', 1), ('y', 1))" in a.explanation
    assert outcome(h, "multi-register", "native") == outcome(h, "multi-register", "python")


@needs_native
def test_multi_register_odd_histories_fall_back_to_python() -> None:
    """Keys of mixed types, or a micro-op that is not [f, key, value]: wgl.py decides (and
    says what is wrong) as it would alone."""
    mixed = build_txns([(0, [("w", "x", 1, True), ("w", 1, 1, True)], "ok"), (0, [], "ok")])
    assert native.search_history(mixed, model_for("multi-register"), None, 10, True,
                                 MemoryBudget(1 << 20)) is None
    bad = History([Operation(0, 0, 0, "invoke", "txn", None, [["r", "x"]]),
                   Operation(1, 1, 0, "ok", "txn", None, [["r", "x"]])])
    with pytest.raises(HistoryError, match="txn needs a list of"):
        check_linearizable(bad, "multi-register", engine="native")


class PlainOp:
    """An operation-like object with its fields in an instance dict, not slots."""

    def __init__(self, op: Operation):
        self.__dict__.update({f: getattr(op, f) for f in Operation.__slots__})


@needs_native
@pytest.mark.parametrize("mix", ["plain", "plain first", "operation first"])
def test_objects_other_than_operations_are_read_by_getattr(mix: str) -> None:
    """The compiled loop reads Operation's slots through their descriptors; any other object
    (here a plain class, alone or mixed in) is read with getattr, with the same verdicts."""
    ops = read_history(str(CORPUS / "knossos/cas-register/bad/cas-failure.edn")).ops
    if mix == "plain":
        mixed: list[Any] = [PlainOp(op) for op in ops]
    else:
        odd = 0 if mix == "plain first" else 1
        mixed = [PlainOp(op) if i % 2 == odd else op for i, op in enumerate(ops)]
    h = History(mixed, meta={"initial": 0})
    assert outcome(h, "cas-register", "native") == outcome(h, "cas-register", "python")
    assert outcome(h, "cas-register", "native")[0] == "invalid"


@needs_native
def test_the_python_encoding_agrees_too() -> None:
    """run_searches(engine="native"), for callers that hold partitions already."""
    for name in ("knossos/cas-register/bad/cas-failure.edn", "porcupine/jepsen/etcd_002.log",
                 "porcupine/kv/c10-ok.txt", "porcupine/kv/c01-bad.txt"):
        h = read_history(str(CORPUS / name))
        row = next(r for r in ROWS if r["file"] == name)
        m = model_for(row["model"], h.meta.get("initial"))
        parts = partitions(h, m)
        mine = run_searches(parts, m, None, 10**6, False, engine="native")
        theirs = run_searches(parts, m, None, 10**6, False, engine="python")
        assert {i: same(r) for i, r in mine.items()} == {i: same(r) for i, r in theirs.items()}


def same(r: SearchResult) -> dict[str, Any]:
    """A result's fields, its linearization order as a list (the Python search keeps it as a
    path of nested pairs, the compiled one as a list)."""
    return {**vars(r), "path": None, "ordered": r.order() if r.result != "valid" else None}


# --- violating histories, budgets, the engine choice ------------------------------------------

STALE = history("1 invoke write x 1", "1 ok write x 1", "2 invoke read x", "2 ok read x 0",
                initial=0)


@needs_native
def test_stale_read_is_invalid_natively() -> None:
    v = check_linearizable(STALE, "cas-register", engine="native")
    assert v.result == "invalid"
    [a] = v.anomalies
    assert a.ops == [0, 1, 2, 3]
    assert a.details is not None
    assert a.details["linearization"]["stuck"]["op"] == "read 'x' -> 0"


@needs_native
def test_lost_append_is_invalid_natively() -> None:
    h = history('1 invoke append k "a"', '1 ok append k "a"', '2 invoke append k "b"',
                '2 ok append k "b"', "3 invoke read k", '3 ok read k "b"', initial="")
    v = check_linearizable(h, "kv", engine="native")
    assert v.result == "invalid"
    assert "'ab'" in v.anomalies[0].explanation


@needs_native
def test_state_budget_gives_unknown_natively() -> None:
    h = history(*[f"{p} invoke write x {p}" for p in range(8)],
                *[f"{p} ok write x {p}" for p in range(8)], "9 invoke read x", "9 ok read x 5")
    v = check_linearizable(h, "cas-register", engine="native", max_states=3)
    assert v.result == "unknown"
    assert "state budget" in v.reason


@needs_native
def test_memory_budget_gives_unknown_natively() -> None:
    h = history(*[f"{p} invoke write x {p}" for p in range(8)],
                *[f"{p} ok write x {p}" for p in range(8)], "9 invoke read x", "9 ok read x 5")
    v = check_linearizable(h, "cas-register", engine="native", memory_limit=64)
    assert v.result == "unknown"
    assert "memory budget" in v.reason


@needs_native
def test_unsupported_model_or_values_fall_back_to_python() -> None:
    assert not native.supports(model_for("queue"))
    assert native.supports(model_for("multi-register"))
    assert native.supports(model_for("mutex"))
    assert not native.supports(model_for("kv"))  # no string initial value
    h = history("1 invoke append k 1", "1 ok append k 1", "2 invoke read k", "2 ok read k [1]",
                initial="")  # a number appended: wgl.py's list semantics
    assert check_linearizable(h, "kv", engine="native").result == \
        check_linearizable(h, "kv", engine="python").result


def test_engine_choice(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    reg = model_for("cas-register")
    assert native.choose("python", reg) == "python"
    with pytest.raises(ValueError, match="unknown engine 'rust'"):
        native.choose("rust", reg)
    monkeypatch.setattr(native, "_core", None)
    monkeypatch.setattr(native, "_noticed", False)
    with pytest.raises(ValueError, match="not built"):
        native.choose("native", reg)
    assert native.choose(None, reg) == "python"
    assert native.choose(None, reg) == "python"
    assert capsys.readouterr().err.count("pure-Python search") == 1
    assert check_linearizable(STALE, "cas-register").result == "invalid"


@needs_native
def test_time_limit_gives_unknown_natively() -> None:
    """The compiled search looks at its deadline every 16384 steps: a spent budget stops the
    partitions that need more (c50-ok's largest explores ~60 000 configurations)."""
    h = read_history(str(CORPUS / "porcupine/kv/c50-ok.txt"))
    v = check_linearizable(h, "kv", engine="native", time_limit=0)
    assert v.result == "unknown"
    assert "time limit reached" in v.reason
    assert v.details["unknown_partitions"]
