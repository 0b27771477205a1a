"""The compiled transaction checker (native/src/txn.rs) against the reference (txn.py).

Both take the same steps (writers, reads, version orders, the same edges in the same order,
the same cycle searches), so on every history they must give the same verdict, the same
anomalies with the same words, and the same details (counts, cycles, strongest level). The
histories are generated concurrent list-append runs with faults injected into what the reads
return: stale prefixes (rw edges, G-single, G2), foreign orders (incompatible-order, G0,
G1c), failed appends seen (G1a), intermediate and garbage reads, duplicates, reads that miss
their own append. Set SDCONFORM_REQUIRE_NATIVE=1 (CI does) to fail rather than skip when the
extension is not built.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers import native
from pytest_sdconform.checkers.txn import check_txn
from pytest_sdconform.cli import main
from pytest_sdconform.formats import jsonl
from pytest_sdconform.history import History, HistoryError, Operation

if os.environ.get("SDCONFORM_REQUIRE_NATIVE") and not native.available():
    raise RuntimeError("SDCONFORM_REQUIRE_NATIVE is set but sdconform_native is not built "
                       "with the transaction checker")
pytestmark = pytest.mark.skipif(not native.available(),
                                reason="sdconform_native not built")

KEYS: list[Any] = [0, 1, "x", "y"]
LEVELS = ["read-uncommitted", "read-committed", "repeatable-read", "serializable",
          "strict-serializable"]


def generated(seed: int, n: int, procs: int, faults: float, max_keys: int = 4) -> History:
    """``n`` transactions by ``procs`` overlapping processes on a store whose reads are, with
    probability ``faults`` each, corrupted in one of several ways."""
    rng = random.Random(seed)
    keys = KEYS[:max_keys]
    order: dict[Any, list[Any]] = {k: [] for k in keys}
    failed: list[tuple[Any, Any]] = []
    ops: list[Operation] = []
    open_: dict[int, list[list[Any]]] = {}
    proc = list(range(procs))
    value = 0
    started = 0

    def emit(p: int, typ: str, mops: Any) -> None:
        ops.append(Operation(len(ops), len(ops), p, typ, "txn", None, mops))

    def read(k: Any, own: list[Any]) -> list[Any]:
        seen = list(order[k])
        if rng.random() < faults:
            how = rng.randrange(8)
            if how == 0 and seen:
                seen = seen[: rng.randrange(len(seen))]  # stale
            elif how == 1 and len(seen) > 1:
                i = rng.randrange(len(seen) - 1)
                seen[i], seen[i + 1] = seen[i + 1], seen[i]  # reordered
            elif how == 2 and failed:
                fk, fv = rng.choice(failed)
                if fk == k:
                    seen.append(fv)  # an aborted append seen
            elif how == 3:
                seen.append(10_000 + rng.randrange(3))  # garbage
            elif how == 4 and seen:
                seen.append(rng.choice(seen))  # duplicate
            elif how == 5 and own:
                return seen[: len(seen) - len(own)]  # misses its own appends
            elif how == 6 and seen:
                seen = seen[: rng.randrange(len(seen))]
                return seen  # stale, and misses its own appends too
        return seen

    while started < n or open_:
        p = rng.choice([q for q in range(procs) if q in open_ or started < n])
        if p not in open_:
            asked: list[list[Any]] = []
            for _ in range(rng.randint(1, 4)):
                k = rng.choice(keys)
                if rng.random() < 0.5:
                    asked.append(["r", k, None])
                else:
                    value += 1
                    asked.append(["append", k, value if rng.random() < 0.8 else f"v{value}"])
            open_[p] = asked
            started += 1
            emit(proc[p], "invoke", asked)
            continue
        asked = open_.pop(p)
        typ = rng.choices(["ok", "fail", "info"], [0.8, 0.1, 0.1])[0]
        done: list[list[Any]] = []
        own: dict[Any, list[Any]] = {}
        for f, k, v in asked:
            if f == "append":
                if typ == "fail":
                    failed.append((k, v))
                elif typ == "ok" or rng.random() < 0.5:
                    if rng.random() < faults / 4 and order[k]:
                        order[k].insert(rng.randrange(len(order[k])), v)  # applied out of place
                    else:
                        order[k].append(v)
                own.setdefault(k, []).append(v)
                done.append([f, k, v])
            else:
                done.append([f, k, read(k, own.get(k, []))])
        emit(proc[p], typ, done if typ == "ok" else asked)
        if typ == "info":
            proc[p] += procs
    return History(ops)


def outcome(h: History, engine: str, **kw: Any) -> tuple[Any, ...]:
    v = check_txn(h, engine=engine, **kw)
    return (v.result, v.reason, v.details,
            [(a.kind, a.ops, a.key, a.explanation, a.details) for a in v.anomalies])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 40), st.integers(1, 5),
       st.sampled_from([0.0, 0.1, 0.3, 0.6]), st.sampled_from(LEVELS),
       st.booleans(), st.booleans())
def test_both_engines_agree_on_generated_histories(
    seed: int, n: int, procs: int, faults: float, level: str, realtime: bool, po: bool
) -> None:
    h = generated(seed, n, procs, faults)
    assert native.check_txn(h, realtime, po, 20) is not None  # the compiled path ran
    mine = outcome(h, "native", level=level, realtime=realtime, process_order=po)
    event(f"{mine[0]}: {sorted(mine[2].get('anomaly_counts', {}))}")
    assert mine == outcome(h, "python", level=level, realtime=realtime, process_order=po)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1, 3]))
def test_both_engines_agree_past_the_report_limit(seed: int, max_reports: int) -> None:
    """Long faulty histories: many anomalies of a kind, only ``max_reports`` of each reported,
    the G-single search cut short at the same cycle."""
    h = generated(seed, 300, 6, 0.3, max_keys=2)
    kw: dict[str, Any] = {"level": "strict-serializable", "realtime": True,
                          "max_reports": max_reports}
    assert outcome(h, "native", **kw) == outcome(h, "python", **kw)


def test_a_serializable_run_is_valid_natively() -> None:
    h = generated(7, 200, 5, 0.0)
    v = check_txn(h, engine="native", level="strict-serializable", realtime=True,
                  process_order=True)
    assert v.result == "valid", v.reason
    assert v.details["strongest_level"] == "strict-serializable"


def test_a_violating_run_is_invalid_natively() -> None:
    """Write skew, found by the compiled cycle search: each reads what the other appends to."""
    rows = [
        (0, "invoke", [["r", "x", None], ["append", "y", 1]]),
        (1, "invoke", [["r", "y", None], ["append", "x", 2]]),
        (0, "ok", [["r", "x", []], ["append", "y", 1]]),
        (1, "ok", [["r", "y", []], ["append", "x", 2]]),
        (2, "invoke", [["r", "x", None], ["r", "y", None]]),
        (2, "ok", [["r", "x", [2]], ["r", "y", [1]]]),
    ]
    h = History([Operation(i, i, p, t, "txn", None, m) for i, (p, t, m) in enumerate(rows)])
    v = check_txn(h, engine="native")
    assert v.result == "invalid"
    assert v.anomaly_kinds == ["G2"]
    assert v.details["cycles"][0]["edges"] == [[0, 1, "rw", "x"], [1, 0, "rw", "y"]] or \
        v.details["cycles"][0]["edges"] == [[1, 0, "rw", "y"], [0, 1, "rw", "x"]]


@pytest.mark.parametrize("odd", [
    [["append", "x", 1.5]],                 # a float value
    [["append", ["x"], 1]],                 # a list key
    [["append", True, 1]],                  # a boolean key (True == 1 in Python)
    [["append", "x", 1], ["r", "x", [[1]]]],  # a nested list read
    [["append", "x"]],                      # a short micro-op
])
def test_what_the_compiled_checker_does_not_hold_goes_to_python(odd: list[Any]) -> None:
    rows = [(0, "invoke", odd), (0, "ok", odd)]
    h = History([Operation(i, i, p, t, "txn", None, m) for i, (p, t, m) in enumerate(rows)])
    assert native.check_txn(h, False, False, 20) is None
    try:
        theirs: Any = outcome(h, "python")
    except (IndexError, TypeError) as e:  # the reference's own error, raised either way
        with pytest.raises(type(e)):
            outcome(h, "native")
    else:
        assert outcome(h, "native") == theirs


def test_a_pairing_error_is_the_python_paths() -> None:
    h = History([Operation(0, 0, 1, "ok", "txn", None, [])])
    assert native.check_txn(h, False, False, 20) is None
    with pytest.raises(HistoryError, match="has no invocation"):
        check_txn(h, engine="native")


@pytest.mark.parametrize("engine", ["native", "python"])
def test_sdconform_check_takes_the_engine_for_txn(
    engine: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = generated(11, 60, 4, 0.6)
    assert check_txn(bad, engine="python").result == "invalid"
    path = tmp_path / "h.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        jsonl.write(bad, out)
    assert main(["check", str(path), "--model", "txn", "--engine", engine, "--json"]) == 1
    assert '"result": "invalid"' in capsys.readouterr().out


def test_a_history_read_back_from_jepsen_edn_is_checked_natively(tmp_path: Any) -> None:
    """Elle's own format: keywords (:append, :r) come back as strings the compiled core reads."""
    from pytest_sdconform.formats import jepsen

    h = generated(5, 120, 5, 0.3)
    path = tmp_path / "h.edn"
    with open(path, "w", encoding="utf-8") as out:
        jepsen.write(h, out)
    back = jepsen.read(str(path))
    assert native.check_txn(back, True, False, 20) is not None
    kw: dict[str, Any] = {"level": "strict-serializable", "realtime": True}
    assert outcome(back, "native", **kw) == outcome(back, "python", **kw)
    assert outcome(back, "native", **kw)[2] == outcome(h, "python", **kw)[2]
