"""``AppliedOnce`` on small histories: a request stored twice or an acknowledged one lost is
refuted, a run without a retry after an unknown outcome is inconclusive (through
``outcome.decide``), and a run whose retries were deduplicated is upheld."""

from __future__ import annotations

import json

import pytest
from compact import timed

from pytest_sdconform.checkers.idempotency import AppliedOnce
from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.history import History
from pytest_sdconform.outcome import Decision, decide

FINAL = 9


def h(*events: str) -> History:
    return timed(*events, final_process=FINAL)


def run(history: History) -> Decision:
    return decide(history, {}, AppliedOnce(), faults=["latency"])


def payments(stored: list[list[object]], retry: str = "already-applied") -> History:
    """p1 acknowledged before the fault; p2's first attempt, during the latency fault, times
    out (info: it may have been applied), and is retried after the heal with the same key."""
    return h("0.1 1 invoke pay p1 100", "0.2 1 ok pay p1 100",
             "1.0 n info latency-start",
             "1.1 1 invoke pay p2 200", "2.1 1 info pay p2 200",
             "3.0 n info latency-stop",
             "3.5 2 invoke pay p2 200", f"3.6 2 ok pay p2 {json.dumps(retry)}",
             "5.0 9 invoke read payments", f"5.1 9 ok read payments {json.dumps(stored)}")


def test_upholds_a_retry_the_key_deduplicated() -> None:
    d = run(payments([["p1", 1], ["p2", 1]]))
    assert d.outcome == UPHELD and d.exercised, d.reason
    assert "1 retried after an unknown outcome, 1 retries answered already-applied" in d.reason


def test_refutes_a_request_applied_twice() -> None:
    d = run(payments([["p1", 1], ["p2", 2]], retry="applied"))
    assert d.outcome == REFUTED and d.attributed, d.reason
    (a,) = d.anomalies
    assert a["kind"] == "applied-twice"
    assert "p2: 2 effects stored for 2 attempts" in a["explanation"]


def test_refutes_an_acknowledged_request_lost_and_a_phantom() -> None:
    d = run(payments([["p2", 1], ["p7", 1]]))
    assert d.outcome == REFUTED
    assert {a["kind"] for a in d.anomalies} == {"lost-effect", "phantom-effect"}


def test_inconclusive_without_a_retry_after_an_unknown_outcome() -> None:
    # The same requests, every attempt answered: nothing was retried after a timeout.
    history = h("0.1 1 invoke pay p1 100", "0.2 1 ok pay p1 100",
                "1.0 n info latency-start",
                "1.1 1 invoke pay p2 200", "1.2 1 ok pay p2 \"applied\"",
                "3.0 n info latency-stop",
                "5.0 9 invoke read payments", '5.1 9 ok read payments [["p1", 1], ["p2", 1]]')
    d = run(history)
    assert d.outcome == INCONCLUSIVE and not d.exercised
    assert "no request was sent again" in d.exercised_why


def test_a_timeout_outside_the_faults_does_not_count_as_exercised() -> None:
    history = h("0.1 1 invoke pay p2 200", "0.9 1 info pay p2 200",
                "1.0 n info latency-start", "3.0 n info latency-stop",
                "3.5 2 invoke pay p2 200", "3.6 2 ok pay p2 \"already-applied\"",
                "5.0 9 invoke read payments", '5.1 9 ok read payments [["p2", 1]]')
    assert AppliedOnce().retried_after_unknown(history) == []


def test_inconclusive_without_a_final_read() -> None:
    history = payments([])
    history = History([op for op in history.ops if op.process != FINAL])
    assert AppliedOnce().rule(history, {}).outcome == INCONCLUSIVE
    assert run(history).outcome == INCONCLUSIVE


def test_a_malformed_final_read_is_an_error() -> None:
    with pytest.raises(ValueError, match="not \\[\\[request, effects\\]"):
        AppliedOnce().rule(payments({"p1": 1}), {})  # type: ignore[arg-type]


def test_an_attempt_sent_before_the_fault_and_timed_out_in_it_counts() -> None:
    history = h("0.5 1 invoke pay p2 200",
                "0.9 n invoke latency-start", "1.0 n info latency-start",
                "1.5 1 info pay p2 200", "3.0 n info latency-stop",
                "3.5 2 invoke pay p2 200", '3.6 2 ok pay p2 "already-applied"',
                "5.0 9 invoke read payments", '5.1 9 ok read payments [["p2", 1]]')
    assert AppliedOnce().retried_after_unknown(history) == ["p2"]
