"""Causal checker: golden histories in the compact notation, a causal simulation as a Hypothesis
property, budgets."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from compact import history
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.causal import (
    CYCLE,
    THIN_AIR,
    VIOLATED,
    CausalChecker,
    check_causal,
)
from pytest_sdconform.history import History, Operation


def ok(p: int, f: str, k: str, v: Any) -> list[str]:
    """An ok operation, invocation and completion back to back (a read's invocation has no
    value)."""
    value = json.dumps(v)
    return [f"{p} invoke {f} {k}" + ("" if f == "read" else f" {value}"), f"{p} ok {f} {k} {value}"]


# --- valid histories ------------------------------------------------------------------------


def test_an_effect_seen_with_its_cause_is_valid() -> None:
    # The claim's own example: p2 reads x then writes y; p3 sees y, then x.
    h = history(*ok(1, "write", "x", 1), *ok(2, "read", "x", 1), *ok(2, "write", "y", 2),
                *ok(3, "read", "y", 2), *ok(3, "read", "x", 1))
    v = check_causal(h)
    assert v.result == "valid", v.anomalies
    assert v.details["reads_checked"] == 3


def test_concurrent_writes_may_be_seen_in_different_orders() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(2, "write", "x", 2),
                *ok(3, "read", "x", 1), *ok(3, "read", "x", 2),
                *ok(4, "read", "x", 2), *ok(4, "read", "x", 1))
    assert check_causal(h).result == "valid"


def test_a_stale_read_outside_the_causal_past_is_allowed() -> None:
    # p2 never saw write 2: reading 1 after it completed is stale, not a causal violation.
    h = history(*ok(1, "write", "x", 1), *ok(1, "write", "x", 2), *ok(2, "read", "x", 1))
    assert check_causal(h).result == "valid"


def test_info_and_never_completed_writes_can_be_read() -> None:
    h = history("1 invoke write x 1", "1 info write x 1", "2 invoke write x 2",
                *ok(3, "read", "x", 1), *ok(3, "read", "x", 2))
    assert check_causal(h).result == "valid"


def test_failed_operations_never_happened() -> None:
    h = history(*ok(1, "write", "x", 1), "1 invoke write x 2", "1 fail write x 2",
                *ok(2, "read", "x", 1), "2 invoke read x", "2 fail read x")
    assert check_causal(h).result == "valid"


# --- the anomalies --------------------------------------------------------------------------


def test_an_effect_seen_without_its_cause_violates_causal_order() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(2, "read", "x", 1), *ok(2, "write", "y", 2),
                *ok(3, "read", "y", 2), *ok(3, "read", "x", None))
    v = check_causal(h)
    assert v.result == "invalid"
    (a,) = v.anomalies
    assert a.kind == VIOLATED and a.key == "x"
    assert a.ops == list(range(10))  # the whole chain: write x, read x, write y, read y, read
    assert "initial value None" in a.explanation and "write of 1 by process 1" in a.explanation


def test_reading_an_overwritten_value_violates_causal_order() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(1, "write", "x", 2),
                *ok(2, "read", "x", 2), *ok(2, "read", "x", 1))
    v = check_causal(h)
    (a,) = v.anomalies
    assert a.kind == VIOLATED and a.ops == list(range(8))
    assert "read 1" in a.explanation and "write of 2 by process 1" in a.explanation


def test_evidence_keeps_where_the_chain_enters_and_leaves_a_session() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(1, "write", "x", 2), *ok(1, "read", "y", None),
                *ok(1, "read", "y", None), *ok(1, "read", "x", 1))
    (a,) = check_causal(h).anomalies
    assert a.ops == [0, 1, 2, 3, 8, 9]  # the two writes and the read, not the reads between


def test_overwrite_through_another_key() -> None:
    # p1 writes x=1 then y=2; p3 reads y=2 and then writes x=3 (so 1 ⇝ 3) and z=4; p4 reads
    # z=4, which puts x=3 in its causal past, and then reads x=1.
    h = history(*ok(1, "write", "x", 1), *ok(1, "write", "y", 2),
                *ok(3, "read", "y", 2), *ok(3, "write", "x", 3), *ok(3, "write", "z", 4),
                *ok(4, "read", "z", 4), *ok(4, "read", "x", 1))
    v = check_causal(h)
    assert v.anomaly_kinds == [VIOLATED]
    assert {0, 1, 6, 7, 13} <= set(v.anomalies[0].ops)


def test_cas_reads_its_expected_value_and_writes_its_new_one() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(2, "cas", "x", [1, 2]),
                *ok(3, "read", "x", 2), *ok(3, "read", "x", 1))
    v = check_causal(h)
    assert v.anomaly_kinds == [VIOLATED]
    assert v.anomalies[0].ops == list(range(8))


def test_a_value_never_written_is_a_thin_air_read() -> None:
    v = check_causal(history(*ok(1, "write", "x", 1), *ok(2, "read", "x", 7)))
    (a,) = v.anomalies
    assert (a.kind, a.ops) == (THIN_AIR, [2, 3])


def test_the_value_of_a_failed_write_is_a_thin_air_read() -> None:
    h = history("1 invoke write x 1", "1 fail write x 1", *ok(2, "read", "x", 1))
    assert check_causal(h).anomaly_kinds == [THIN_AIR]


def test_a_session_reading_its_own_future_is_a_cycle() -> None:
    v = check_causal(history(*ok(1, "read", "x", 1), *ok(1, "write", "x", 1)))
    (a,) = v.anomalies
    assert a.kind == CYCLE and a.ops == [0, 1, 2, 3]
    assert v.details["in_cycles"] == 2


def test_a_cycle_through_two_sessions() -> None:
    h = history(*ok(1, "read", "x", 1), *ok(1, "write", "y", 2),
                *ok(2, "read", "y", 2), *ok(2, "write", "x", 1),
                *ok(3, "read", "x", None))
    v = check_causal(h)
    assert v.anomaly_kinds == [CYCLE]
    assert v.anomalies[0].ops == list(range(8))
    assert "read 1 from 'x' (written by process 2)" in v.anomalies[0].explanation


def test_initial_value_from_the_format() -> None:
    h = history(*ok(1, "read", "x", 0), *ok(1, "write", "x", 1), *ok(1, "read", "x", 0),
                initial=0)
    assert check_causal(h).anomaly_kinds == [VIOLATED]


# --- what it cannot judge -------------------------------------------------------------------


def test_reads_of_a_value_written_twice_are_skipped() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(2, "write", "x", 1), *ok(3, "read", "x", 1))
    v = check_causal(h)
    assert v.result == "unknown"
    assert v.details["reads_skipped"] == {"ambiguous": 1}


def test_no_reads_is_unknown_never_valid() -> None:
    v = check_causal(history(*ok(1, "write", "x", 1)))
    assert v.result == "unknown" and "no ok reads" in v.reason


def test_size_budget_gives_unknown() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(2, "read", "x", 1))
    v = check_causal(h, max_cells=1)
    assert v.result == "unknown" and "budget" in v.reason


def test_time_budget_gives_unknown() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(2, "read", "x", 1))
    v = check_causal(h, time_limit=0)
    assert v.result == "unknown" and "time limit" in v.reason


def test_anomalies_found_before_the_budget_ran_out_still_count() -> None:
    h = history(*ok(1, "write", "x", 1), *ok(2, "read", "x", 7))
    v = check_causal(h, time_limit=0)
    assert v.result == "invalid" and "time limit" in v.reason


def test_anomalies_are_capped_but_counted() -> None:
    h = history(*[e for i in range(5) for e in ok(i, "read", "x", 100 + i)])
    v = check_causal(h, max_anomalies=2)
    assert len(v.anomalies) == 2
    assert v.details["anomaly_counts"][THIN_AIR] == 5 and v.details["anomalies_truncated"] == 3


def test_other_operations_and_malformed_cas_are_refused() -> None:
    with pytest.raises(ValueError, match="register histories"):
        check_causal(history(*ok(1, "append", "x", 1)))
    with pytest.raises(ValueError, match=r"\[expected, new\]"):
        check_causal(history(*ok(1, "cas", "x", 3)))


def test_nemesis_operations_are_ignored() -> None:
    h = history("n info partition-start - null", *ok(1, "write", "x", 1),
                *ok(2, "read", "x", 1), "n info partition-stop - null")
    assert check_causal(h).result == "valid"


def test_causal_checker_is_a_checker() -> None:
    checker: Checker = CausalChecker(time_limit=10)
    assert checker.name == "causal"
    assert checker.check(history(*ok(1, "write", "x", 1), *ok(2, "read", "x", 1))).valid


# --- property: a causally consistent store never breaks causal order -------------------------


class CausalStore:
    """Replicas that apply writes in causal order (a write waits for the writes it depends on);
    each process stays on one replica and reads there. Concurrent writes may land in different
    orders on different replicas: causal, not sequential."""

    def __init__(self, replicas: int, processes: int, keys: list[str]):
        self.keys = keys
        self.home = [p % replicas for p in range(processes)]
        self.applied: list[set[int]] = [set() for _ in range(replicas)]
        self.store: list[dict[str, int | None]] = [dict.fromkeys(keys) for _ in range(replicas)]
        self.past: list[set[int]] = [set() for _ in range(processes)]
        self.deps: dict[int, set[int]] = {}
        self.pending: list[set[int]] = [set() for _ in range(replicas)]
        self.key_of: dict[int, str] = {}
        self.values = itertools.count(1)
        self.rows: list[Operation] = []

    def _record(self, p: int, f: str, k: str, inv: Any, done: Any) -> None:
        n = len(self.rows)
        self.rows += [Operation(n, n, p, "invoke", f, k, inv),
                      Operation(n + 1, n + 1, p, "ok", f, k, done)]

    def write(self, p: int, k: str) -> None:
        v = next(self.values)
        self.deps[v], self.key_of[v] = set(self.past[p]), k
        self.past[p].add(v)
        for pending in self.pending:
            pending.add(v)
        self._apply(self.home[p], v)
        self._record(p, "write", k, v, v)

    def read(self, p: int, k: str) -> None:
        v = self.store[self.home[p]][k]
        if v is not None:
            self.past[p] |= self.deps[v] | {v}
        self._record(p, "read", k, None, v)

    def deliverable(self) -> list[tuple[int, int]]:
        return [(r, v) for r, done in enumerate(self.applied) for v in sorted(self.pending[r])
                if self.deps[v] <= done]

    def deliver_oldest(self, r: int) -> None:
        """Writes are numbered in creation order, so the oldest pending one is deliverable."""
        if self.pending[r]:
            self._apply(r, min(self.pending[r]))

    def _apply(self, r: int, v: int) -> None:
        self.applied[r].add(v)
        self.pending[r].discard(v)
        self.store[r][self.key_of[v]] = v


@st.composite
def causal_runs(draw: st.DrawFn) -> CausalStore:
    keys = ["x", "y", "z"][: draw(st.integers(1, 3))]
    s = CausalStore(draw(st.integers(1, 3)), draw(st.integers(1, 4)), keys)
    for _ in range(draw(st.integers(0, 50))):
        move = draw(st.sampled_from(["read", "write", "deliver"]))
        if move == "deliver":
            options = s.deliverable()
            if options:
                s._apply(*draw(st.sampled_from(options)))
            continue
        p, k = draw(st.integers(0, len(s.home) - 1)), draw(st.sampled_from(keys))
        (s.read if move == "read" else s.write)(p, k)
    return s


@settings(max_examples=300, deadline=None)
@given(causal_runs())
def test_a_causal_store_is_causal(s: CausalStore) -> None:
    v = check_causal(History(s.rows))
    assert v.result in ("valid", "unknown"), [a.to_json() for a in v.anomalies]
    assert v.result == "valid" or v.details["reads"] == 0


@settings(max_examples=300, deadline=None)
@given(causal_runs(), st.data())
def test_one_read_behind_the_causal_past_breaks_it(s: CausalStore, data: st.DataObject) -> None:
    if not s.deps:
        s.write(0, s.keys[0])
    w2 = data.draw(st.sampled_from(sorted(s.deps)))
    k = s.key_of[w2]
    older = [None, *sorted(w for w in s.deps[w2] if s.key_of[w] == k)]
    stale = data.draw(st.sampled_from(older))
    p = len(s.home)  # a fresh process: it reads w2, then something w2 overwrote
    s._record(p, "read", k, None, w2)
    s._record(p, "read", k, None, stale)
    v = check_causal(History(s.rows))
    assert v.result == "invalid"
    last = {len(s.rows) - 2, len(s.rows) - 1}
    assert any(a.kind == VIOLATED and last <= set(a.ops) for a in v.anomalies)


def test_a_long_causal_history_is_checked_in_full() -> None:
    rng = random.Random(7)
    s = CausalStore(3, 8, ["x", "y", "z", "w"])
    for _ in range(4000):
        move = rng.random()
        if move < 0.4:
            s.write(rng.randrange(8), rng.choice(s.keys))
        elif move < 0.8:
            s.read(rng.randrange(8), rng.choice(s.keys))
        else:
            s.deliver_oldest(rng.randrange(3))
    v = check_causal(History(s.rows))
    assert v.result == "valid" and v.details["reads_checked"] > 1000
