"""The CAP row judge: which side of a partition answers, at a consistency level."""

from __future__ import annotations

import pytest

from pytest_sdconform.checkers.cap import CapRow, cap_row
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed

MAJ, MIN = "10.0.0.1", "10.0.0.3"
SIDES = {"majority": [MAJ], "minority": [MIN]}


def h(*events: str) -> History:
    """``timed`` events; a completion ending in ``@node`` records the node that answered."""
    return timed(*events)


def calls(t: float, p: int, typ: str, node: str, f: str = "write", key: str = "x") -> list[str]:
    value = "" if f == "read" else f" {int(t * 10)}"
    return [f"{t} {p} invoke {f} {key}{value}", f"{t + 0.1} {p} {typ} {f} {key}{value} @{node}"]


def window(*inside: list[str], before: list[str] | None = None) -> History:
    events = (before or []) + ["1.0 n info partition-start"]
    for c in inside:
        events += c
    return h(*events, "9.0 n info partition-stop")


BOTH_OK = [calls(1.1 + i, 1, "ok", MAJ) for i in range(3)] + \
          [calls(1.3 + i, 2, "ok", MIN) for i in range(3)]
MINORITY_REFUSES = [calls(1.1 + i, 1, "ok", MAJ) for i in range(3)] + \
                   [calls(1.3 + i, 2 + i, t, MIN) for i, t in enumerate(["fail", "info", "fail"])]
NONE_OK = [calls(1.1 + i, 1, "fail", MAJ) for i in range(3)] + \
          [calls(1.3 + i, 2, "fail", MIN) for i in range(3)]

AP = CapRow(SIDES, {"majority": True, "minority": True})
ALL = CapRow(SIDES, {"majority": False, "minority": False})


def test_both_sides_answering_upholds_the_ap_row() -> None:
    d = decide(window(*BOTH_OK), {}, AP, faults=["partition"])
    assert d.outcome == "upheld" and d.exercised
    assert "minority: 3 ok, 0 fail, 0 info" in d.reason


def test_a_refusing_side_refutes_the_ap_row_with_its_refused_calls() -> None:
    hist = window(*MINORITY_REFUSES)
    d = decide(hist, {}, AP, faults=["partition"])
    assert d.outcome == "refuted" and d.attributed and "minority side refused" in d.reason
    assert len(d.anomalies) == 3 and {a["relative_to_faults"] for a in d.anomalies} == {"during"}
    ops = {i for a in d.anomalies for i in a["ops"]}
    assert all(hist.ops[i].node in (None, MIN) for i in ops)


def test_nobody_answering_upholds_the_all_row_and_an_answer_refutes_it() -> None:
    assert decide(window(*NONE_OK), {}, ALL, faults=["partition"]).outcome == "upheld"
    d = decide(window(*MINORITY_REFUSES), {}, ALL, faults=["partition"])
    assert d.outcome == "refuted" and "majority side answered" in d.reason
    assert len(d.anomalies) == 3


def test_a_side_nobody_asked_is_not_exercised() -> None:
    only_majority = [calls(1.1 + i, 1, "ok", MAJ) for i in range(3)]
    d = decide(window(*only_majority), {}, AP, faults=["partition"])
    assert d.outcome == "inconclusive" and not d.exercised
    assert "minority side answered 0 calls" in d.exercised_why
    # One call on the minority side answers the row, but is below min_ops: not exercised.
    one = [*only_majority, calls(1.5, 2, "ok", MIN)]
    d = decide(window(*one), {}, AP, faults=["partition"])
    assert d.outcome == "inconclusive" and d.reason.startswith("not exercised")


def test_calls_outside_the_window_or_answered_after_the_heal_do_not_count() -> None:
    late = ["8.9 3 invoke write x 1", "9.5 3 ok write x 1 @10.0.0.3"]
    hist = window(*BOTH_OK, late, before=calls(0.2, 4, "fail", MIN))
    row = cap_row(hist, SIDES, "partition")
    assert [len(row[0][s]) for s in ("majority", "minority")] == [3, 3]


def test_a_call_without_a_node_is_never_given_a_side() -> None:
    timeout = ["2.0 5 invoke write x 1", "2.5 5 info write x 1"]
    row = cap_row(window(*BOTH_OK, timeout), SIDES, "partition")[0]
    assert len(row["unknown"]) == 1 and len(row["minority"]) == 3


def test_an_unclear_side_is_inconclusive() -> None:
    half = [calls(1.1 + i, 1, "ok", MAJ) for i in range(3)] + \
           [calls(1.3 + i, 2 + i, t, MIN) for i, t in enumerate(["ok", "fail"])]
    assert decide(window(*half), {}, AP, faults=["partition"]).outcome == "inconclusive"


def test_no_window_is_inconclusive_and_bad_rows_are_refused() -> None:
    d = decide(h(*BOTH_OK[0]), {}, AP, faults=["partition"])
    assert d.outcome == "inconclusive"
    with pytest.raises(ValueError):
        CapRow(SIDES, {"elsewhere": True})
