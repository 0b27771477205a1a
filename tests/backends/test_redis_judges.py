"""The Redis judges on synthetic histories: snapshots read from INFO persistence, the loss
window they allow, the deposed primary's bound and replica reads with failover. A violation
refutes (with its evidence placed against the faults), a run that never exercised the
behaviour is inconclusive through ``outcome.decide``, a run where the claim holds is upheld."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.redis.judges import (
    DeposedPrimaryLoss,
    MissedOwnWritesWhileCut,
    ReplicaReadsAndFailover,
    rdb_snapshots,
)
from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.checkers.judge import NS
from pytest_sdconform.checkers.loss_window import LossWindow
from pytest_sdconform.checkers.recovery import Resumes
from pytest_sdconform.checkers.sessions import check_sessions
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed


def rdb(text: str) -> dict[str, Any]:
    """``rdb=SAVES/RUNNING/STATUS``: what INFO persistence said after a write."""
    saves, running, status = text.split("/")
    return {"rdb_saves": int(saves), "rdb_bgsave_in_progress": int(running),
            "rdb_last_bgsave_status": status}


def h(*events: str) -> History:
    """``timed`` events with suffixes: ``@node`` (the node that answered), ``#final`` (a final
    read's line), ``rdb=SAVES/RUNNING/STATUS`` (what INFO persistence said after a write)."""
    return timed(*events, fields={"rdb": rdb})


def lost(history: History) -> dict[str, Any]:
    return {"lost-writes": check_lost_writes(history)}


# --- rdb_snapshots and LossWindow ---------------------------------------------------------

# Positions: adds 1 and 2 applied before snapshot 1 forked (0-3), add 3 while it runs (4-5),
# add 4 once it completed (6-7); the kill (8-9); add 5 in the next lifetime (10-11); the
# final read (12-13).
def snapshot_run(final_value: str, status: str = "ok") -> History:
    return h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 rdb=0/0/ok",
             "0.3 1 invoke add - 2", "0.4 1 ok add - 2 rdb=0/0/ok",
             "0.5 1 invoke add - 3", "0.6 1 ok add - 3 rdb=1/1/ok",
             "0.7 1 invoke add - 4", f"0.8 1 ok add - 4 rdb=1/0/{status}",
             "2.0 n info kill-start", "3.0 n info kill-stop",
             "3.5 1 invoke add - 5", "3.6 1 ok add - 5 rdb=0/0/ok",
             "5.0 2 invoke read - #final", f"5.1 2 ok read - {final_value} #final")


def test_a_snapshot_completes_when_a_write_sees_it_done_and_covers_writes_before_its_fork(
) -> None:
    [p] = rdb_snapshots(snapshot_run("[1,2,3,4,5]"))
    assert p.reported == int(0.8 * NS)  # the write that saw it completed
    assert p.covers == int(0.3 * NS)  # the last call the server answered before the fork
    assert set(p.ops) == {2, 3, 6, 7}


def test_a_failed_save_or_one_still_running_is_no_snapshot() -> None:
    assert rdb_snapshots(snapshot_run("[1]", status="err")) == []
    history = h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 rdb=0/0/ok",
                "0.3 1 invoke add - 2", "0.4 1 ok add - 2 rdb=1/1/ok")
    assert rdb_snapshots(history) == []


def test_a_snapshot_seen_through_the_next_one_running_counts() -> None:
    history = h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 rdb=0/0/ok",
                "0.3 1 invoke add - 2", "0.4 1 ok add - 2 rdb=2/1/ok")
    [p] = rdb_snapshots(history)
    assert p.what == "RDB snapshot 1" and p.covers == int(0.1 * NS)


def test_counters_restart_with_the_server() -> None:
    """After a kill, rdb_saves starts again at 0: a lifetime's snapshots cover only its own
    writes, and a call spanning the kill says nothing."""
    history = h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 rdb=0/0/ok",
                "1.9 2 invoke add - 2",
                "2.0 n info kill-start", "3.0 n info kill-stop",
                "3.1 2 ok add - 2 rdb=0/0/ok",
                "3.5 1 invoke add - 3", "3.6 1 ok add - 3 rdb=0/0/ok",
                "3.7 1 invoke add - 4", "3.8 1 ok add - 4 rdb=1/0/ok")
    [p] = rdb_snapshots(history)
    assert p.covers == int(3.5 * NS) and p.reported == int(3.8 * NS)


def test_writes_lost_after_the_last_snapshot_are_upheld() -> None:
    history = snapshot_run("[1,2,5]")  # 3 and 4 came after the fork: lost by the kill
    d = decide(history, lost(history), LossWindow(rdb_snapshots), faults=["kill"])
    assert d.outcome == "upheld", d.reason
    assert "2 acknowledged adds lost" in d.reason


def test_a_write_lost_although_a_completed_snapshot_held_it_refutes() -> None:
    history = snapshot_run("[2,3,4,5]")
    d = decide(history, lost(history), LossWindow(rdb_snapshots), faults=["kill"])
    assert d.outcome == "refuted" and d.attributed
    [a] = d.anomalies
    assert a["kind"] == "lost-before-safe-point" and {0, 1} <= set(a["ops"])


def test_no_completed_snapshot_before_the_kill_is_inconclusive() -> None:
    history = snapshot_run("[1,2,5]", status="err")
    d = decide(history, lost(history), LossWindow(rdb_snapshots), faults=["kill"])
    assert d.outcome == "inconclusive" and "not exercised" in d.reason


# --- DeposedPrimaryLoss -------------------------------------------------------------------

def deposed(*extra: str, final: str = "[1,4]") -> History:
    """n1 primary; paused 1-14 s; add 2 sent just before the pause, acknowledged by n1 on
    waking; add 3 acknowledged by n1 just after; add 4 on the promoted n2."""
    return h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 @n1",
             "0.9 1 invoke add - 2",
             "1.0 n info pause-start",
             "14.0 n info pause-stop",
             "14.1 1 ok add - 2 @n1",
             "14.5 1 invoke add - 3", "14.6 1 ok add - 3 @n1",
             "16.0 1 invoke add - 4", "16.1 1 ok add - 4 @n2",
             *extra,
             "20.0 2 invoke read - #final", f"20.1 2 ok read - {final} #final")


def test_writes_lost_within_max_lag_and_the_cron_of_the_wake_are_upheld() -> None:
    history = deposed()
    d = decide(history, lost(history), DeposedPrimaryLoss(1.0), faults=["pause"])
    assert d.outcome == "upheld", d.reason
    assert "2 acknowledged writes lost, all within 2s" in d.reason


def test_a_write_the_deposed_primary_acknowledged_later_refutes() -> None:
    history = deposed("17.0 3 invoke add - 5", "17.1 3 ok add - 5 @n1")
    d = decide(history, lost(history), DeposedPrimaryLoss(1.0), faults=["pause"])
    assert d.outcome == "refuted" and d.attributed
    [a] = d.anomalies
    assert a["kind"] == "lost-outside-bound" and a["ops"] == [10, 11, 12, 13]
    assert a["relative_to_faults"] == "after"  # acknowledged after the wake


def test_without_a_promoted_node_the_primary_was_never_deposed() -> None:
    history = h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 @n1",
                "1.0 n info pause-start", "2.0 1 invoke add - 2", "14.0 n info pause-stop",
                "14.1 1 ok add - 2 @n1", "15.0 1 invoke add - 3", "15.1 1 ok add - 3 @n1",
                "20.0 2 invoke read - #final", "20.1 2 ok read - [1,2,3] #final")
    d = decide(history, lost(history), DeposedPrimaryLoss(1.0), faults=["pause"])
    assert d.outcome == "inconclusive" and "no failover" in d.reason


def test_no_write_in_flight_at_the_wake_is_not_exercised() -> None:
    history = h("0.1 1 invoke add - 1", "0.2 1 ok add - 1 @n1",
                "1.0 n info pause-start", "14.0 n info pause-stop",
                "16.0 1 invoke add - 4", "16.1 1 ok add - 4 @n2",
                "20.0 2 invoke read - #final", "20.1 2 ok read - [1,4] #final")
    d = decide(history, lost(history), DeposedPrimaryLoss(1.0), faults=["pause"])
    assert d.outcome == "inconclusive" and "no add in flight when pause 1 ended" in d.reason


# --- ReplicaReadsAndFailover --------------------------------------------------------------

def replica_reads(read_result: str) -> History:
    return h("0.1 1 invoke write x 1", "0.2 1 ok write x 1 @n1",
             "0.3 2 invoke read x", f"0.4 2 {read_result} @n2",
             "1.0 n info kill-start",
             "1.1 1 invoke write x 2", "1.2 1 fail write x 2 @n1",
             "4.0 1 invoke write x 3", "4.1 1 ok write x 3 @n2",
             "13.0 n info kill-stop")


JUDGE = ReplicaReadsAndFailover(Resumes("write", "kill", bound_s=12.0, other_node=True))


def test_replicas_serving_reads_and_taking_over_are_upheld() -> None:
    d = decide(replica_reads("ok read x 1"), {}, JUDGE, faults=["kill"])
    assert d.outcome == "upheld", d.reason
    assert "1 of 1 reads served by replicas (n2)" in d.reason and "resumed on n2" in d.reason


def test_replicas_that_serve_no_read_refute() -> None:
    d = decide(replica_reads("fail read x"), {}, JUDGE, faults=["kill"])
    assert d.outcome == "refuted" and d.anomalies[0]["kind"] == "replica-unavailable"


def test_no_failover_refutes() -> None:
    history = h("0.1 1 invoke write x 1", "0.2 1 ok write x 1 @n1",
                "0.3 2 invoke read x", "0.4 2 ok read x 1 @n2",
                "1.0 n info kill-start",
                "1.1 1 invoke write x 2", "1.2 1 fail write x 2 @n1",
                "13.0 n info kill-stop")
    d = decide(history, {}, JUDGE, faults=["kill"])
    assert d.outcome == "refuted" and d.attributed


def test_no_read_sent_to_a_replica_is_inconclusive() -> None:
    history = h("0.1 1 invoke write x 1", "0.2 1 ok write x 1 @n1",
                "1.0 n info kill-start",
                "4.0 1 invoke write x 3", "4.1 1 ok write x 3 @n2",
                "13.0 n info kill-stop")
    d = decide(history, {}, JUDGE, faults=["kill"])
    assert d.outcome == "inconclusive" and "no read was sent to a replica" in d.reason


def test_a_phantom_is_outside_every_bound() -> None:
    history = deposed(final="[1,4,8]")
    d = decide(history, lost(history), DeposedPrimaryLoss(1.0), faults=["pause"])
    assert d.outcome == "refuted" and "phantom" in {a["kind"] for a in d.anomalies}


# --- MissedOwnWritesWhileCut --------------------------------------------------------------

def cut(read_inside: str, before: str = "0.4 1 ok read x 1 @n2") -> History:
    """Process 1 writes to n1 and reads from replica n2; the cut is on from 1 s to 3 s."""
    return h("0.1 1 invoke write x 1", "0.2 1 ok write x 1 @n1",
             "0.3 1 invoke read x", before,
             "1.0 n info partition-start",
             "1.1 1 invoke write x 2", "1.2 1 ok write x 2 @n1",
             "1.3 1 invoke read x", f"1.4 1 {read_inside} @n2",
             "3.0 n info partition-stop")


def sessions(history: History) -> dict[str, Any]:
    return {"sessions": check_sessions(history)}


def test_a_read_missing_its_own_write_during_the_cut_refutes() -> None:
    history = cut("ok read x 1")
    d = decide(history, sessions(history), MissedOwnWritesWhileCut(), faults=["partition"])
    assert d.outcome == "refuted" and d.attributed
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_reads_seeing_own_writes_during_the_cut_are_upheld() -> None:
    history = cut("ok read x 2")
    d = decide(history, sessions(history), MissedOwnWritesWhileCut(), faults=["partition"])
    assert d.outcome == "upheld", d.reason


def test_a_miss_before_the_cut_is_not_counted() -> None:
    history = h("0.1 1 invoke write x 1", "0.2 1 ok write x 1 @n1",
                "0.3 1 invoke read x", "0.4 1 ok read x null @n2",
                "1.0 n info partition-start",
                "1.1 1 invoke write x 2", "1.2 1 ok write x 2 @n1",
                "1.3 1 invoke read x", "1.4 1 ok read x 2 @n2",
                "3.0 n info partition-stop")
    v = sessions(history)
    assert v["sessions"].result == "invalid"
    d = decide(history, v, MissedOwnWritesWhileCut(), faults=["partition"])
    assert d.outcome == "upheld" and "1 away from the faults" in d.reason


def test_no_read_after_an_own_write_inside_the_cut_is_not_exercised() -> None:
    history = h("0.1 1 invoke write x 1", "0.2 1 ok write x 1 @n1",
                "1.0 n info partition-start",
                "1.3 1 invoke read x", "1.4 1 ok read x 1 @n2",
                "3.0 n info partition-stop")
    d = decide(history, sessions(history), MissedOwnWritesWhileCut(), faults=["partition"])
    assert d.outcome == "inconclusive" and "not exercised" in d.reason
