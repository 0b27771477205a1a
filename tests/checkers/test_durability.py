"""Lost acknowledged writes: golden histories in a compact notation, and properties."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.durability import (
    LostWritesChecker,
    acked_losses,
    check_lost_writes,
)
from pytest_sdconform.history import History, Operation

MS = 1_000_000
FINAL = {"final": True}


def hist(*rows: tuple[Any, ...]) -> History:
    """Rows are (process, type, f, key, value[, extra]); row i happens at i ms."""
    ops = []
    for i, (process, typ, f, key, value, *extra) in enumerate(rows):
        ops.append(
            Operation(i, i * MS, process, typ, f, key, value, extra=extra[0] if extra else None)
        )
    return History(ops)


def add(p: int, v: Any, outcome: str = "ok") -> list[tuple[Any, ...]]:
    return [(p, "invoke", "add", None, v), (p, outcome, "add", None, v)]


def final_read(p: int, shows: list[Any], key: Any = None) -> list[tuple[Any, ...]]:
    return [(p, "invoke", "read", key, None, FINAL), (p, "ok", "read", key, shows, FINAL)]


def test_every_acknowledged_add_is_read_back_valid() -> None:
    v = check_lost_writes(hist(*add(1, 1), *add(2, 2), *final_read(3, [1, 2])))
    assert v.result == "valid", v.reason
    assert v.details["acknowledged"] == 2
    assert v.details["survived"] == 2
    assert v.details["lost"] == 0
    assert v.details["rpo_s"] == 0.0
    assert v.details["final_reads"] == "marked final"
    json.dumps(v.to_json())


def test_an_acknowledged_add_missing_from_the_final_read_is_a_lost_write() -> None:
    v = check_lost_writes(hist(*add(1, 1), *add(2, 2), *final_read(3, [1])))
    assert v.result == "invalid"
    assert [(a.kind, a.ops) for a in v.anomalies] == [("lost-write", [2, 3, 4, 5])]
    assert v.details["lost"] == 1
    assert v.details["first_lost_ack_s"] == v.details["last_lost_ack_s"] == 0.003


def test_acked_losses_reads_the_verdict_back_lost_survivors_and_the_hole() -> None:
    h = hist(*add(1, 1), *add(2, 2), *add(3, 3), *add(4, 4, "info"), *final_read(5, [1, 3]))
    acked = acked_losses(h, check_lost_writes(h), "add")
    assert [c.invoke.value for c in acked.writes] == [1, 2, 3]
    assert [c.invoke.value for c in acked.lost] == [2]
    assert acked.finals == [8, 9]
    survivors = acked.survivors(before=5 * MS)  # 3 was acknowledged at 5 ms: not before
    assert [c.invoke.value for c in survivors] == [1]
    assert acked.survivor_after(acked.lost[0], survivors) is None
    later = acked.survivors(before=6 * MS)
    hole = acked.survivor_after(acked.lost[0], later)
    assert hole is not None and hole.invoke.value == 3  # invoked after 2's ack, survived


def test_unknown_outcomes_may_or_may_not_appear() -> None:
    h = hist(*add(1, 1, "info"), *add(2, 2, "info"), (3, "invoke", "add", None, 3),
             *final_read(4, [1]))  # fmt: skip
    v = check_lost_writes(h)
    assert v.result == "unknown"  # nothing acknowledged: nothing to check
    assert v.reason == "no acknowledged write to check"
    assert v.details["recovered"] == 1
    assert v.details["unknown_absent"] == 2


def test_an_element_never_added_is_a_phantom() -> None:
    v = check_lost_writes(hist(*add(1, 1), *final_read(2, [1, 99])))
    assert [(a.kind, a.ops) for a in v.anomalies] == [("phantom", [2, 3])]
    assert "99" in v.anomalies[0].explanation


def test_a_failed_add_that_appears_is_a_phantom_too() -> None:
    v = check_lost_writes(hist(*add(1, 1), *add(2, 2, "fail"), *final_read(3, [1, 2])))
    assert [(a.kind, a.ops) for a in v.anomalies] == [("phantom", [2, 3, 4, 5])]
    assert "failed" in v.anomalies[0].explanation


def test_phantoms_are_found_in_reads_that_are_not_final() -> None:
    h = hist(*add(1, 1), (2, "invoke", "read", None, None), (2, "ok", "read", None, [7]),
             *final_read(3, [1]))  # fmt: skip
    v = check_lost_writes(h)
    assert [(a.kind, a.ops) for a in v.anomalies] == [("phantom", [2, 3])]


def test_without_any_read_the_verdict_is_unknown() -> None:
    v = check_lost_writes(hist(*add(1, 1)))
    assert v.result == "unknown"
    assert v.reason.startswith("no final read")


def test_final_reads_that_all_failed_leave_it_unknown() -> None:
    h = hist(*add(1, 1), (2, "invoke", "read", None, None, FINAL), (2, "info", "read", None, None))
    v = check_lost_writes(h)
    assert v.result == "unknown"
    assert "marked final failed" in v.reason


def test_without_marked_reads_the_last_ok_read_of_each_key_stands_in() -> None:
    h = hist(
        *add(1, 1),
        (2, "invoke", "read", None, None),
        (2, "ok", "read", None, [1]),
        *add(1, 2),
        (2, "invoke", "read", None, None),
        (2, "ok", "read", None, [2]),
    )
    v = check_lost_writes(h)
    assert [(a.kind, a.ops) for a in v.anomalies] == [("lost-write", [0, 1, 6, 7])]
    assert "no read was marked final" in v.details["final_reads"]


def test_a_write_acknowledged_after_the_final_read_began_is_unchecked() -> None:
    h = hist(
        *add(1, 1),
        (1, "invoke", "add", None, 2),
        (3, "invoke", "read", None, None, FINAL),
        (1, "ok", "add", None, 2),
        (3, "ok", "read", None, [1], FINAL),
    )
    v = check_lost_writes(h)
    assert v.result == "valid"
    assert v.details["unchecked"] == 1


def test_appends_are_judged_against_the_final_read_of_their_own_key() -> None:
    h = hist(
        (1, "invoke", "append", "a", 1),
        (1, "ok", "append", "a", 1),
        (1, "invoke", "append", "b", 2),
        (1, "ok", "append", "b", 2),
        *final_read(2, [1], key="a"),
        *final_read(2, [1], key="b"),
    )
    v = check_lost_writes(h)
    kinds = sorted((a.kind, a.key, a.ops) for a in v.anomalies)
    assert kinds == [("lost-write", "b", [2, 3, 6, 7]), ("phantom", "b", [6, 7])]


def test_a_write_survives_if_any_final_read_of_its_key_shows_it() -> None:
    v = check_lost_writes(hist(*add(1, 1), *final_read(2, []), *final_read(3, [1])))
    assert v.result == "valid"


def test_other_write_like_fs_are_opt_in() -> None:
    h = hist((1, "invoke", "write", None, 5), (1, "ok", "write", None, 5), *final_read(2, []))
    assert check_lost_writes(h).result == "unknown"
    v = check_lost_writes(h, fs=("write",))
    assert v.anomaly_kinds == ["lost-write"]


def test_elements_may_be_json_lists() -> None:
    v = check_lost_writes(hist(*add(1, [1, "x"]), *final_read(2, [[1, "x"]])))
    assert v.result == "valid"


def test_rpo_is_the_span_of_lost_acks_and_names_the_fault() -> None:
    h = hist(
        *add(1, 1),  # 0-1: survives
        *add(1, 2),  # 2-3: lost, acked at 3 ms, 1 ms before the partition
        ("nemesis", "info", "partition-start", None, None),  # 4
        *add(1, 3),  # 5-6: lost, acked during the partition
        ("nemesis", "info", "partition-stop", None, None),  # 7
        *add(1, 4),  # 8-9: survives
        *final_read(2, [1, 4]),
    )
    v = check_lost_writes(h)
    assert [a.ops[:2] for a in v.anomalies] == [[2, 3], [5, 6]]
    assert "no fault" in v.anomalies[0].explanation
    assert "partition" in v.anomalies[1].explanation
    assert v.details["first_lost_ack_s"] == 0.003
    assert v.details["last_lost_ack_s"] == 0.006
    assert abs(v.details["rpo_s"] - 0.003) < 1e-12
    assert abs(v.details["loss_before_fault_s"] - 0.001) < 1e-12
    assert v.details["fault_windows"] == [
        {"fault": "partition", "start_s": 0.004, "end_s": 0.007, "lost_overlapping": 1}
    ]


def test_the_checker_follows_the_protocol() -> None:
    checker: Checker = LostWritesChecker(fs=("add",))
    assert checker.name == "lost-writes"
    assert checker.check(hist(*add(1, 1), *final_read(2, [1]))).valid


@st.composite
def set_runs(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], set[int]]:
    """Adds by a few processes against a reliable set, then a final read of it."""
    n = draw(st.integers(1, 30))
    outcomes = draw(st.lists(st.sampled_from(["ok", "ok", "fail", "info"]), min_size=n, max_size=n))
    rows: list[tuple[Any, ...]] = []
    stored: set[int] = set()
    acked: set[int] = set()
    for v, outcome in enumerate(outcomes):
        rows += add(v, v, outcome)  # one process per add: an info retires its process
        if outcome == "ok" or (outcome == "info" and draw(st.booleans())):
            stored.add(v)
        if outcome == "ok":
            acked.add(v)
    return [*rows, *final_read(10_000, sorted(stored))], acked


@given(set_runs())
def test_a_reliable_set_never_loses_a_write(run: tuple[list[tuple[Any, ...]], set[int]]) -> None:
    rows, acked = run
    v = check_lost_writes(hist(*rows))
    assert v.result == ("valid" if acked else "unknown")


@given(set_runs(), st.data())
def test_dropping_one_acknowledged_element_is_caught(
    run: tuple[list[tuple[Any, ...]], set[int]], data: st.DataObject
) -> None:
    rows, acked = run
    if not acked:
        return
    victim = data.draw(st.sampled_from(sorted(acked)))
    *rest, (p, typ, f, key, shows, extra) = rows
    v = check_lost_writes(hist(*rest, (p, typ, f, key, [x for x in shows if x != victim], extra)))
    assert v.result == "invalid"
    assert [(a.kind, a.ops[:2]) for a in v.anomalies] == [
        ("lost-write", [2 * victim, 2 * victim + 1])
    ]
