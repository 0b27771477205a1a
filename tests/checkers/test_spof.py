"""WhileDown (single point of failure, both directions) on synthetic histories: a violation
refutes with the calls as evidence inside the window, a window with no answered call is
inconclusive through ``outcome.decide``, a claim that holds is upheld."""

from __future__ import annotations

from pytest_sdconform.checkers.spof import WhileDown
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed


def down(*inside: str) -> History:
    return timed("0.1 1 invoke write x 1", "0.2 1 ok write x 1",
                 "1.0 n info kill-start", *inside, "3.0 n info kill-stop",
                 "3.5 1 invoke write x 9", "3.6 1 ok write x 9")


ALL_FAIL = ("1.1 1 invoke write x 2", "1.2 1 fail write x 2",
            "1.3 2 invoke read x", "1.4 2 fail read x")
ONE_OK = ("1.1 1 invoke write x 2", "1.2 1 fail write x 2",
          "1.3 2 invoke read x", "1.4 2 ok read x 1")


def test_unavailable_is_upheld_when_every_call_failed() -> None:
    d = decide(down(*ALL_FAIL), {}, WhileDown("unavailable"), faults=["kill"])
    assert d.outcome == "upheld" and "all 2 calls" in d.reason and d.exercised


def test_unavailable_is_refuted_by_a_call_that_succeeded() -> None:
    d = decide(down(*ONE_OK), {}, WhileDown("unavailable"), faults=["kill"])
    assert d.outcome == "refuted" and d.attributed
    [a] = d.anomalies
    assert a["kind"] == "served-while-down" and a["ops"] == [5, 6]
    assert a["relative_to_faults"] == "during"


def test_available_is_upheld_by_a_call_that_succeeded() -> None:
    d = decide(down(*ONE_OK), {}, WhileDown("available", what="the balancer"),
               faults=["kill"])
    assert d.outcome == "upheld" and "1 of 2 calls succeeded" in d.reason


def test_available_is_refuted_when_every_call_failed() -> None:
    d = decide(down(*ALL_FAIL), {}, WhileDown("available"), faults=["kill"])
    assert d.outcome == "refuted" and len(d.anomalies) == 2
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_no_call_answered_while_down_is_inconclusive() -> None:
    for claim in ("unavailable", "available"):
        d = decide(down(), {}, WhileDown(claim), faults=["kill"])
        assert d.outcome == "inconclusive", claim


def test_calls_still_running_at_the_heal_tell_nothing() -> None:
    h = timed("0.1 1 invoke write x 1", "0.2 1 ok write x 1", "1.0 n info kill-start",
              "2.5 1 invoke write x 2", "3.0 n info kill-stop", "3.1 1 ok write x 2")
    judge = WhileDown("unavailable")
    assert judge.rule(h, {}).outcome == "inconclusive"
    d = decide(h, {}, judge, faults=["kill"])
    assert d.outcome == "inconclusive"


def test_every_window_needs_an_answered_call() -> None:
    h = timed("0.1 1 invoke write x 1", "0.2 1 ok write x 1",
              "1.0 n info kill-start", *ALL_FAIL, "2.0 n info kill-stop",
              "3.0 n info kill-start", "4.0 n info kill-stop")
    judge = WhileDown("unavailable")
    assert judge.rule(h, {}).outcome == "upheld"
    d = decide(h, {}, judge, faults=["kill"])
    assert d.outcome == "inconclusive" and "1 of 2 kill windows" in d.reason


def test_only_the_named_fault_counts() -> None:
    h = timed("1.0 n info pause-start", *ONE_OK, "3.0 n info pause-stop")
    d = decide(h, {}, WhileDown("unavailable", fault="kill"), faults=["pause"])
    assert d.outcome == "inconclusive"
