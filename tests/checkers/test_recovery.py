"""Resumes (recovery within a bound) on synthetic histories: no recovery, a slow one, one on
the old node only, or lost writes refute; a window in which nobody called is inconclusive
through ``outcome.decide``; a recovery in time is upheld."""

from __future__ import annotations

import pytest

from pytest_sdconform.checkers.recovery import Resumes
from pytest_sdconform.checkers.verdict import Anomaly, Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed


def h(*events: str) -> History:
    """``timed`` events; a trailing ``@node`` names the node that answered."""
    return timed(*events)


def failover(*inside: str) -> History:
    """An add on n1 before the kill at 1 s; ``inside`` during it; the heal at 10 s."""
    return h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 @n1",
             "1.0 n info kill-start", *inside, "10.0 n info kill-stop",
             "10.5 1 invoke add - 9", "10.6 1 ok add - 9 @n2")


RECOVERS = ("1.1 1 invoke add - 2", "1.5 1 fail add - 2 @n1",
            "3.0 1 invoke add - 3", "3.5 1 ok add - 3 @n2")


def test_writes_resuming_on_another_node_within_the_bound_are_upheld() -> None:
    judge = Resumes("add", "kill", bound_s=5.0, other_node=True)
    d = decide(failover(*RECOVERS), {}, judge, faults=["kill"])
    assert d.outcome == "upheld", d.reason
    assert "resumed on n2 at worst 2.50s" in d.reason and d.exercised


def test_no_write_succeeding_during_the_window_refutes() -> None:
    d = decide(failover("1.1 1 invoke add - 2", "1.5 1 fail add - 2 @n1"), {},
               Resumes("add", "kill"), faults=["kill"])
    assert d.outcome == "refuted" and d.attributed
    assert d.anomalies[0]["kind"] == "unavailable"
    assert d.anomalies[0]["relative_to_faults"] == "during"


def test_a_recovery_slower_than_the_bound_refutes() -> None:
    d = decide(failover(*RECOVERS), {}, Resumes("add", "kill", bound_s=2.0), faults=["kill"])
    assert d.outcome == "refuted" and "(> 2s)" in d.reason
    assert d.anomalies[0]["kind"] == "slow-recovery"
    assert d.anomalies[0]["ops"] == [3, 4]  # the failed add before the recovery


def test_other_node_refutes_writes_served_by_the_old_node_only() -> None:
    history = failover("3.0 1 invoke add - 3", "3.5 1 ok add - 3 @n1")
    assert decide(history, {}, Resumes("add", "kill"), faults=["kill"]).outcome == "upheld"
    d = decide(history, {}, Resumes("add", "kill", other_node=True), faults=["kill"])
    assert d.outcome == "refuted" and "on another node" in d.reason


def test_the_onset_moves_the_start_of_the_recovery_time() -> None:
    judge = Resumes("add", "kill", bound_s=2.0, onset=lambda w: w.start + 10**9)
    d = decide(failover(*RECOVERS), {}, judge, faults=["kill"])
    assert d.outcome == "upheld" and "1.50s" in d.reason


def test_the_words_name_the_onset_the_time_was_measured_from() -> None:
    assert "at worst 2.50s into a kill" in Resumes("add", "kill").rule(failover(*RECOVERS),
                                                                      {}).reason
    judge = Resumes("add", "kill", bound_s=2.0, onset=lambda w: w.start + 10**9,
                    onset_name="the promotion")
    d = decide(failover(*RECOVERS), {}, judge, faults=["kill"])
    assert d.outcome == "upheld"
    assert "at worst 1.50s after the promotion in a kill (<= 2s)" in d.reason
    assert "into a" not in d.reason
    slow = Resumes("add", "kill", bound_s=1.0, onset=lambda w: w.start + 10**9,
                   onset_name="the promotion")
    d = decide(failover(*RECOVERS), {}, slow, faults=["kill"])
    assert d.outcome == "refuted"
    assert "add resumed 1.50s after the promotion in a kill (> 1s)" in d.reason


def test_an_onset_name_without_an_onset_is_refused() -> None:
    with pytest.raises(ValueError, match="no onset was given"):
        Resumes("add", "kill", onset_name="the promotion")
    with pytest.raises(ValueError, match="empty"):
        Resumes("add", "kill", onset=lambda w: w.start, onset_name=" ")


def test_lost_writes_refute_with_no_loss() -> None:
    lost = {"lost-writes": Verdict("lost-writes", "invalid", [Anomaly("lost-write", [0, 1, 9])])}
    d = decide(failover(*RECOVERS), lost, Resumes("add", "kill", no_loss="lost-writes"),
               faults=["kill"])
    assert d.outcome == "refuted" and "lost" in d.reason and d.attributed


def test_a_recovery_after_the_heal_does_not_count() -> None:
    history = failover("9.0 1 invoke add - 3", "10.5 1 ok add - 3 @n2")
    d = decide(history, {}, Resumes("add", "kill"), faults=["kill"])
    assert d.outcome == "refuted"


def test_a_window_in_which_nobody_called_is_inconclusive() -> None:
    d = decide(failover(), {}, Resumes("add", "kill"), faults=["kill"])
    assert d.outcome == "inconclusive"


def test_calls_during_the_window_are_what_exercises_it() -> None:
    judge = Resumes("add", "kill")
    history = failover("1.1 1 invoke add - 2", "1.5 1 fail add - 2 @n1")
    assert judge.exercised(history, {}).done
    assert not judge.exercised(failover(), {}).done


def test_other_node_counts_any_operation_served_before_the_fault() -> None:
    """As documented ("a node that served nothing before the fault"): a replica that served
    reads before the kill is not "another node" for the writes. Suites whose clients read from
    replicas judge on the writes alone (backends/redis/judges.only)."""
    history = h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 @n1",
                "0.3 2 invoke read -", "0.4 2 ok read - [1] @n2",
                "1.0 n info kill-start", "3.0 1 invoke add - 3", "3.5 1 ok add - 3 @n2",
                "10.0 n info kill-stop")
    assert Resumes("add", "kill", other_node=True).rule(history, {}).outcome == "refuted"
