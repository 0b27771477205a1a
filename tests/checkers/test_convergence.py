"""Convergence checker: small histories with final reads per node, a replicated store as a
Hypothesis property, the unknown cases and the budget."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.convergence import (
    DIVERGENT,
    UNWRITTEN,
    ConvergenceChecker,
    check_convergence,
)
from pytest_sdconform.history import NEMESIS, History, Operation

FINAL = {"final": True}


class Builder:
    """Operations in order; each helper adds an invocation and its completion."""

    def __init__(self) -> None:
        self.ops: list[Operation] = []
        self.pids = itertools.count(100)

    def add(self, p: Any, typ: str, f: str, key: Any, value: Any = None,
            node: str | None = None, extra: dict[str, Any] | None = None) -> Builder:
        n = len(self.ops)
        self.ops.append(Operation(n, n, p, typ, f, key, value, node, extra=extra))
        return self

    def write(self, k: str, v: Any, outcome: str = "ok", f: str = "write") -> Builder:
        p = next(self.pids)
        return self.add(p, "invoke", f, k, v).add(p, outcome, f, k, v, "n1")

    def final(self, k: str, node: str | None, v: Any) -> Builder:
        p = next(self.pids)
        return self.add(p, "invoke", "read", k, None, None, FINAL).add(p, "ok", "read", k, v,
                                                                        node, FINAL)

    def fault(self, what: str) -> Builder:
        return self.add(NEMESIS, "info", what, None)

    def history(self, **meta: Any) -> History:
        return History(self.ops, meta=meta)


def test_final_reads_that_agree_on_the_last_write_converge() -> None:
    h = Builder().write("x", 1).write("x", 2).final("x", "n1", 2).final("x", "n2", 2) \
        .final("x", "n3", 2).history()
    v = check_convergence(h)
    assert v.result == "valid"
    assert v.details["nodes"] == {"'x'": ["n1", "n2", "n3"]}


def test_divergent_final_reads_say_which_node_said_what() -> None:
    h = Builder().write("x", 1).write("x", 2).final("x", "n1", 2).final("x", "n2", 1).history()
    v = check_convergence(h)
    (a,) = v.anomalies
    assert (a.kind, a.key, a.ops) == (DIVERGENT, "x", [4, 5, 6, 7])
    assert "n1 said 2; n2 said 1" in a.explanation


def test_agreeing_on_a_value_never_written_is_an_anomaly() -> None:
    h = Builder().write("x", 1).final("x", "n1", 9).final("x", "n2", 9).history()
    v = check_convergence(h)
    assert v.anomaly_kinds == [UNWRITTEN] and len(v.anomalies) == 2
    assert v.anomalies[0].ops == [2, 3]


def test_the_value_of_a_failed_write_was_never_written() -> None:
    h = Builder().write("x", 1, "fail").final("x", "n1", 1).final("x", "n2", 1).history()
    assert check_convergence(h).anomaly_kinds == [UNWRITTEN]


def test_an_info_write_may_be_the_converged_value() -> None:
    h = Builder().write("x", 1).write("x", 2, "info").final("x", "n1", 2) \
        .final("x", "n2", 2).history()
    assert check_convergence(h).result == "valid"


def test_cas_writes_its_new_value() -> None:
    h = Builder().write("x", 1).write("x", [1, 2], f="cas").final("x", "n1", 2) \
        .final("x", "n2", 2).history()
    assert check_convergence(h).result == "valid"


def test_the_initial_value_when_nothing_was_written() -> None:
    b = Builder().final("x", "n1", None).final("x", "n2", None)
    assert check_convergence(b.history()).result == "valid"
    b = Builder().final("x", "n1", 0).final("x", "n2", 0)
    assert check_convergence(b.history(initial=0)).result == "valid"
    v = check_convergence(b.history())
    assert [a.kind for a in v.anomalies] == [UNWRITTEN, UNWRITTEN]


def test_sets_are_compared_but_not_traced_to_one_write() -> None:
    b = Builder()
    for e in (1, 2):
        b.write("s", e, f="add")
    b.final("s", "n1", [1, 2]).final("s", "n2", [2])
    assert check_convergence(b.history()).anomaly_kinds == [DIVERGENT]


def test_each_key_is_judged_alone() -> None:
    h = Builder().write("x", 1).write("y", 2).final("x", "n1", 1).final("x", "n2", 1) \
        .final("y", "n1", 2).final("y", "n2", None).history()
    v = check_convergence(h)
    assert [(a.kind, a.key) for a in v.anomalies] == [(DIVERGENT, "y")]


# --- what it cannot judge -------------------------------------------------------------------


def test_final_reads_from_one_node_are_unknown() -> None:
    h = Builder().write("x", 1).final("x", "n1", 1).final("x", "n1", 1).history()
    v = check_convergence(h)
    assert v.result == "unknown" and "two nodes" in v.reason
    assert v.details["unchecked"] == {"'x'": "final reads from 1 node(s)"}


def test_reads_that_do_not_name_a_node_are_not_nodes() -> None:
    h = Builder().write("x", 1).final("x", None, 1).final("x", "n1", 1).history()
    assert check_convergence(h).result == "unknown"


def test_no_final_reads_is_unknown() -> None:
    b = Builder().write("x", 1)
    b.add(1, "invoke", "read", "x").add(1, "ok", "read", "x", 1, "n1")
    v = check_convergence(b.history())
    assert v.result == "unknown" and "no final reads" in v.reason


def test_a_final_read_before_the_last_write_completed_does_not_count() -> None:
    b = Builder().final("x", "n1", None)
    b.add(7, "invoke", "write", "x", 1).final("x", "n2", None).add(7, "ok", "write", "x", 1)
    v = check_convergence(b.history())
    assert v.result == "unknown"
    assert "2 invoked before the last write or heal" in v.details["unchecked"]["'x'"]


def test_final_reads_count_only_after_every_fault_healed() -> None:
    b = Builder().write("x", 1).fault("partition-start").final("x", "n1", 1)
    b.final("x", "n2", None)  # during the partition: not a final state
    b.fault("partition-stop")
    assert check_convergence(b.history()).result == "unknown"
    b.final("x", "n1", 1).final("x", "n2", 1)
    assert check_convergence(b.history()).result == "valid"


def test_a_fault_never_healed_is_unknown() -> None:
    b = Builder().write("x", 1).fault("kill-start").final("x", "n1", 1).final("x", "n2", 2)
    v = check_convergence(b.history())
    assert v.result == "unknown"
    assert v.details["unchecked"] == {"'x'": "a fault was never healed"}


def test_time_budget_gives_unknown() -> None:
    h = Builder().write("x", 1).final("x", "n1", 1).final("x", "n2", 1).history()
    v = check_convergence(h, time_limit=0)
    assert v.result == "unknown" and "time limit" in v.reason


def test_anomalies_are_capped_but_counted() -> None:
    b = Builder()
    for k in "abcde":
        b.final(k, "n1", 1).final(k, "n2", 2)
    v = check_convergence(b.history(), max_anomalies=2)
    assert len(v.anomalies) == 2 and v.details["anomaly_counts"][DIVERGENT] == 5
    assert v.details["anomalies_truncated"] == 3 + 10  # and ten unwritten values


def test_malformed_cas_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[expected, new\]"):
        check_convergence(Builder().write("x", 3, f="cas").final("x", "n1", 3).history())


def test_convergence_checker_is_a_checker() -> None:
    checker: Checker = ConvergenceChecker(time_limit=10)
    assert checker.name == "convergence"
    h = Builder().write("x", 1).final("x", "n1", 1).final("x", "n2", 1).history()
    assert checker.check(h).valid


# --- property: replicas with last-writer-wins and anti-entropy converge ----------------------


@st.composite
def replicated_runs(draw: st.DrawFn) -> tuple[Builder, int, list[str]]:
    """Writes land on one replica each and spread by anti-entropy, last writer (by a Lamport
    stamp) winning; faults come and go. At the end everything is delivered and every replica
    answers a final read of every key."""
    replicas = draw(st.integers(2, 4))
    keys = ["x", "y", "z"][: draw(st.integers(1, 3))]
    state: list[dict[str, tuple[int, int | None]]] = [dict.fromkeys(keys, (0, None))
                                                     for _ in range(replicas)]
    b, values = Builder(), itertools.count(1)
    for _ in range(draw(st.integers(0, 30))):
        r, k = draw(st.integers(0, replicas - 1)), draw(st.sampled_from(keys))
        move = draw(st.sampled_from(["write", "sync", "fault"]))
        if move == "write":
            v = next(values)
            stamp = max(s[k][0] for s in state) + 1 if draw(st.booleans()) else v
            state[r][k] = max(state[r][k], (stamp, v))
            b.write(k, v, draw(st.sampled_from(["ok", "ok", "info"])))
        elif move == "sync":
            other = draw(st.integers(0, replicas - 1))
            state[other][k] = state[r][k] = max(state[other][k], state[r][k])
        else:
            b.fault("partition-start").fault("partition-stop")
    for k in keys:
        best = max(s[k] for s in state)
        for s in state:
            s[k] = best
    for k in keys:
        for r in range(replicas):
            b.final(k, f"n{r}", state[r][k][1])
    return b, replicas, keys


@settings(max_examples=200, deadline=None)
@given(replicated_runs())
def test_a_converging_store_converges(run: tuple[Builder, int, list[str]]) -> None:
    b, _, keys = run
    v = check_convergence(b.history())
    assert v.result == "valid", [a.to_json() for a in v.anomalies]
    assert v.details["keys_checked"] == len(keys)


@settings(max_examples=200, deadline=None)
@given(replicated_runs(), st.data())
def test_one_replica_left_behind_is_found(
    run: tuple[Builder, int, list[str]], data: st.DataObject
) -> None:
    b = run[0]
    finals = [i for i, op in enumerate(b.ops) if op.type == "ok" and op.get("final")]
    i = data.draw(st.sampled_from(finals))
    op = b.ops[i]
    written = {o.value for o in b.ops if o.f == "write" and o.key == op.key} | {None}
    stale = data.draw(st.sampled_from(sorted(written - {op.value}, key=str) or ["never"]))
    op.value = stale
    v = check_convergence(b.history())
    assert v.result == "invalid"
    assert any(i in a.ops for a in v.anomalies)
    assert DIVERGENT in v.anomaly_kinds  # at least two replicas, one now different
