"""PostgreSQL's judges on small histories: each refutes a violation, is inconclusive (through
``outcome.decide``) when the behaviour was not exercised, and upholds what holds."""

from __future__ import annotations

import json
from typing import Any

from compact import timed

from pytest_sdconform.backends.postgres.judges import (
    FailoverResumes,
    LossWithinLag,
    NoDowntimeNoLoss,
    StaleThenConverged,
    timeline,
    writes_during_lag,
)
from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Checkers,
    Judge,
    acked_before_every_window,
)
from pytest_sdconform.checkers.spof import WhileDown
from pytest_sdconform.checkers.verdict import Anomaly, Verdict
from pytest_sdconform.history import NEMESIS, History
from pytest_sdconform.outcome import Decision, decide

FINAL = 9  # the process of final reads in these histories


def pg(*events: str, switch: float = 1e9) -> History:
    """``timed`` events; process 9's operations are final reads; client completions before
    ``switch`` (seconds) come from n1, later ones from n2."""
    h = timed(*events)
    for op in h.ops:
        if op.process == FINAL:
            op.extra = {"final": True}
        if op.process != NEMESIS and op.type != "invoke":
            op.node = "n1" if op.time < switch * 1e9 else "n2"
    return h


def failover(at: float, since_kill: float, cut_to_kill: float | None = None, **more: Any
             ) -> str:
    value: dict[str, Any] = {"killed": "n1", "promoted": "n2", "since_kill_s": since_kill,
                             **more}
    if cut_to_kill is not None:
        value["cut_to_kill_s"] = cut_to_kill
    return f"{at} n info failover-start - {json.dumps(value)}"


def lost(h: History) -> dict[str, Verdict]:
    return {"lost-writes": check_lost_writes(h)}


def run(h: History, judge: Judge, verdicts: dict[str, Verdict], fault: str = "failover"
        ) -> Decision:
    return decide(h, verdicts, judge, faults=[fault])


def test_timeline_reads_the_failover_record() -> None:
    h = pg(failover(5.0, 0.25, 1.5, cut_proof_s=0.5), "8.0 n info failover-stop")
    (w,) = h.fault_windows()
    t = timeline(w)
    assert t is not None
    assert t.killed == 4_750_000_000 and t.cut == 2_750_000_000  # the rules went in at 2.75


# --- StaleThenConverged --------------------------------------------------------------------


def stale(n: int = 1) -> Verdict:
    return Verdict("sessions", "invalid", [Anomaly("read-your-writes", [2, 3])] * n)


def standby_history(standby_final: int, primary_final: int = 2) -> History:
    return pg(
        "1.0 1 invoke write r0 1", "1.1 1 ok write r0 1",
        "2.0 n info partition-start",
        "2.1 1 invoke write r0 2", "2.2 1 ok write r0 2",
        "2.3 2 invoke read r0", "2.4 2 ok read r0 1",
        "5.0 n info partition-stop",
        "8.0 9 invoke read r0", f"8.1 9 ok read r0 {standby_final}",
        '8.2 9 invoke read r0 "primary"', f"8.3 9 ok read r0 {primary_final}",
    )


def test_stale_then_converged_upholds_a_standby_that_caught_up() -> None:
    d = run(standby_history(2), StaleThenConverged(), {"sessions": stale()}, "partition")
    assert d.outcome == UPHELD, d.reason
    assert "1 stale reads" in d.reason


def test_stale_then_converged_refutes_a_standby_that_still_differs_after_the_heal() -> None:
    d = run(standby_history(1), StaleThenConverged(), {"sessions": stale()}, "partition")
    assert d.outcome == REFUTED and d.attributed
    assert {a["relative_to_faults"] for a in d.anomalies} == {"after"}
    assert {a["kind"] for a in d.anomalies} == {"not-converged"}


def test_stale_then_converged_without_a_stale_read_is_not_exercised() -> None:
    d = run(standby_history(2), StaleThenConverged(),
            {"sessions": Verdict("sessions", "valid")}, "partition")
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason
    assert "never served a stale read" in d.reason


def test_stale_then_converged_with_a_failed_final_read_is_inconclusive() -> None:
    h = standby_history(2)
    h.ops[-1].type = "fail"
    d = run(h, StaleThenConverged(), {"sessions": stale()}, "partition")
    assert d.outcome == INCONCLUSIVE


# --- LossWithinLag -------------------------------------------------------------------------

# The standby is cut at 3.5 (1.5 s before the kill at 5.0); the window opens at 5.2.


def lag_history(final: list[int], *, early_lost: bool = False) -> History:
    return pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "2.0 2 invoke add s 2", "2.1 2 ok add s 2",
        "4.0 1 invoke add s 3", "4.1 1 ok add s 3",  # acknowledged while the standby lagged
        "4.5 2 invoke add s 4", "4.6 2 ok add s 4",
        failover(5.2, 0.2, 1.5),
        "6.0 1 invoke add s 5", "6.1 1 ok add s 5",
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", f"9.1 9 ok read s {json.dumps(final)}",
        switch=5.0,
    )


def test_loss_within_lag_upholds_losing_only_the_tail() -> None:
    h = lag_history([1, 2, 5])
    d = run(h, LossWithinLag(), lost(h))
    assert d.outcome == UPHELD, d.reason
    assert "2 acknowledged adds lost" in d.reason and "cut 1.50s before the kill" in d.reason


def test_loss_within_lag_refutes_a_hole_before_a_surviving_write() -> None:
    h = lag_history([2, 3, 4, 5])  # 1 lost, but 2 (invoked after 1 was acknowledged) survived
    d = run(h, LossWithinLag(), lost(h))
    assert d.outcome == REFUTED and d.attributed, d.reason
    assert {a["kind"] for a in d.anomalies} == {"loss-beyond-lag"}
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_loss_within_lag_with_nothing_acknowledged_during_the_lag_is_not_exercised() -> None:
    h = pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "2.0 2 invoke add s 2", "2.1 2 ok add s 2",
        failover(5.2, 0.2, 1.5),
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", "9.1 9 ok read s [1]",
        switch=5.0,
    )
    d = run(h, LossWithinLag(), lost(h))
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


def test_loss_within_lag_without_loss_is_inconclusive() -> None:
    h = lag_history([1, 2, 3, 4, 5])
    assert run(h, LossWithinLag(), lost(h)).outcome == INCONCLUSIVE


# --- FailoverResumes -----------------------------------------------------------------------

# The primary dies at 4.7, the standby is primary when the window opens at 5.0 (0.3 s later).


def resume_history(first_ok: float, final: list[int]) -> History:
    return pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "4.75 2 invoke add s 2", "4.76 2 fail add s 2",
        failover(5.0, 0.3),
        f"{first_ok - 0.1} 1 invoke add s 3", f"{first_ok} 1 ok add s 3",
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", f"9.1 9 ok read s {json.dumps(final)}",
        switch=4.7,
    )


def test_failover_resumes_upholds_writes_back_on_the_standby_without_loss() -> None:
    h = resume_history(5.2, [1, 3])
    d = run(h, FailoverResumes(client_bound_s=2.0), lost(h))
    assert d.outcome == UPHELD, d.reason
    assert "add resumed on n2 at worst 0.50s after the primary's kill in a failover" in d.reason


def test_failover_resumes_refutes_a_recovery_slower_than_promotion_plus_reconnect() -> None:
    h = resume_history(7.5, [1, 3])  # 2.8 s after the death > 0.3 s + 2 s
    d = run(h, FailoverResumes(client_bound_s=2.0), lost(h))
    assert d.outcome == REFUTED and d.attributed, d.reason
    assert "resumed 2.80s after the primary's kill in a failover (> 2.3s)" in d.reason


def test_failover_resumes_refutes_a_lost_acknowledged_write() -> None:
    h = resume_history(5.2, [3])
    d = run(h, FailoverResumes(client_bound_s=2.0), lost(h))
    assert d.outcome == REFUTED and d.attributed, d.reason
    assert "lost" in d.reason


def test_failover_resumes_without_writes_in_the_window_is_not_exercised() -> None:
    h = pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        failover(5.0, 0.3),
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", "9.1 9 ok read s [1]",
    )
    d = run(h, FailoverResumes(client_bound_s=2.0), lost(h))
    assert d.outcome == INCONCLUSIVE, d.reason


# --- NoDowntimeNoLoss ----------------------------------------------------------------------


def test_no_downtime_no_loss_refutes_a_write_that_failed_during_the_failover() -> None:
    h = resume_history(5.2, [1, 3])
    d = run(h, NoDowntimeNoLoss(), lost(h))
    assert d.outcome == REFUTED and d.attributed, d.reason
    assert "1 writes failed" in d.reason
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_no_downtime_no_loss_refutes_a_lost_write() -> None:
    h = pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        failover(5.0, 0.3),
        "5.1 1 invoke add s 3", "5.2 1 ok add s 3",
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", "9.1 9 ok read s [3]",
    )
    d = run(h, NoDowntimeNoLoss(), lost(h))
    assert d.outcome == REFUTED and d.attributed


def test_no_downtime_no_loss_upholds_an_opaque_failover() -> None:
    h = pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "4.75 2 invoke add s 2", "5.05 2 ok add s 2",
        failover(5.0, 0.3),
        "5.1 1 invoke add s 3", "5.2 1 ok add s 3",
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", "9.1 9 ok read s [1, 2, 3]",
    )
    d = run(h, NoDowntimeNoLoss(), lost(h))
    assert d.outcome == UPHELD, d.reason


def test_no_downtime_no_loss_without_writes_after_the_death_is_not_exercised() -> None:
    h = pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        failover(5.0, 0.3),
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", "9.1 9 ok read s [1]",
    )
    d = run(h, NoDowntimeNoLoss(), lost(h))
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


# --- writes made during the lag (synchronous standby cut off, then failover) ---------------


def sync_history(final: list[int], lag_write: str = "info") -> History:
    return pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "4.0 2 invoke add s 2", f"4.9 2 {lag_write} add s 2",  # waits for the cut standby
        failover(5.2, 0.2, 1.5),
        "6.0 1 invoke add s 3", "6.1 1 ok add s 3",
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", f"9.1 9 ok read s {json.dumps(final)}",
        switch=5.0,
    )


def lag_checkers() -> Checkers:
    rule = writes_during_lag()
    return Checkers(["lost-writes"], rule, rule.__doc__ or "")


def test_writes_during_lag_upholds_a_synchronous_failover_without_loss() -> None:
    h = sync_history([1, 3])
    d = run(h, lag_checkers(), lost(h))
    assert d.outcome == UPHELD, d.reason


def test_writes_during_lag_refutes_an_acknowledged_write_the_failover_lost() -> None:
    h = sync_history([1, 3], lag_write="ok")  # a cancelled wait reported as success
    d = run(h, lag_checkers(), lost(h))
    assert d.outcome == REFUTED and d.attributed


def test_writes_during_lag_without_a_write_during_the_lag_is_not_exercised() -> None:
    h = pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        failover(5.2, 0.2, 1.5),
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", "9.1 9 ok read s [1]",
    )
    d = run(h, lag_checkers(), lost(h))
    assert d.outcome == INCONCLUSIVE and "while the standby lagged" in d.reason


def test_a_write_waiting_through_the_whole_lag_counts_as_made_during_it() -> None:
    h = pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "3.0 2 invoke add s 2",  # invoked before the cut, waits for the standby through it
        failover(5.2, 0.2, 1.5),
        "5.3 2 info add s 2",
        "8.0 n info failover-stop",
        "9.0 9 invoke read s", "9.1 9 ok read s [1]",
        switch=5.0,
    )
    d = run(h, lag_checkers(), lost(h))
    assert d.outcome == UPHELD, d.reason


# --- crashes: acknowledged before every kill -----------------------------------------------


def crash_history(final: list[int]) -> History:
    return pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "2.0 n info kill-start - {}",
        "2.5 1 invoke add s 2", "2.6 1 fail add s 2",
        "3.0 n info kill-stop",
        "5.0 9 invoke read s", f"5.1 9 ok read s {json.dumps(final)}",
    )


def crash_checkers() -> Checkers:
    rule = acked_before_every_window("add", "kill")
    return Checkers(["lost-writes"], rule, rule.__doc__ or "")


def test_a_crash_that_loses_an_acknowledged_commit_is_refuted() -> None:
    h = crash_history([])
    d = run(h, crash_checkers(), lost(h), "kill")
    assert d.outcome == REFUTED and d.attributed


def test_a_crash_that_keeps_every_acknowledged_commit_is_upheld() -> None:
    h = crash_history([1])
    assert run(h, crash_checkers(), lost(h), "kill").outcome == UPHELD


def test_a_crash_with_nothing_acknowledged_before_it_is_not_exercised() -> None:
    h = pg("2.0 n info kill-start - {}", "3.0 n info kill-stop",
           "3.5 1 invoke add s 1", "3.6 1 ok add s 1",  # only after the restart
           "5.0 9 invoke read s", "5.1 9 ok read s [1]")
    d = run(h, crash_checkers(), lost(h), "kill")
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


# --- pg-single-leader-failover-lag: no write while there is no primary ---------------------

# Failover(promote="at-heal"): the window is the time between the primary's death and the
# promotion, which happens at the heal.

LEADERLESS = WhileDown("unavailable", "failover", "the primary (no standby promoted yet)")


def leaderless_history(during: str) -> History:
    return pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        failover(2.0, 0.0, promote="at-heal"),
        "2.5 1 invoke add s 2", f"2.6 1 {during} add s 2",
        "3.0 2 invoke add s 3", "3.1 2 fail add s 3",
        "5.0 n info failover-stop",
        "5.5 1 invoke add s 4", "5.6 1 ok add s 4",
        "7.0 9 invoke read s", "7.1 9 ok read s [1, 4]",
    )


def test_no_write_while_no_node_is_primary_upholds_the_lag() -> None:
    h = leaderless_history("fail")
    d = run(h, LEADERLESS, lost(h))
    assert d.outcome == UPHELD, d.reason


def test_a_write_acknowledged_while_no_node_is_primary_refutes_the_lag() -> None:
    h = leaderless_history("ok")  # an opaque (multi-leader) failover would do this
    d = run(h, LEADERLESS, lost(h))
    assert d.outcome == REFUTED and d.attributed
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_no_write_tried_while_no_node_is_primary_is_not_exercised() -> None:
    h = pg(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        failover(2.0, 0.0, promote="at-heal"),
        "5.0 n info failover-stop",
        "5.5 1 invoke add s 4", "5.6 1 ok add s 4",
        "7.0 9 invoke read s", "7.1 9 ok read s [1, 4]",
    )
    d = run(h, LEADERLESS, lost(h))
    assert d.outcome == INCONCLUSIVE
