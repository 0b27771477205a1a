"""The Cassandra judges and exercise rules on synthetic histories: a violation refutes (with
evidence inside the fault windows), a run that never exercised the behaviour is inconclusive
through ``outcome.decide``, a run where the claim holds is upheld."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.cassandra.judges import (
    LastWriteWins,
    ReplicaHasEveryWrite,
    Settled,
    StaleWhileCut,
    acked_while_down,
    paxos_in_every_window,
    with_final_read_from,
    written_then_read_after,
)
from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.checkers.judge import Checkers, acked_before_every_window
from pytest_sdconform.checkers.sessions import check_sessions
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed

N1, N2, N3 = "10.0.0.1", "10.0.0.2", "10.0.0.3"


def view(text: str) -> dict[str, Any]:
    """``view=1,2``: the cluster's view of a set beside a final read, at ALL."""
    return {"cluster_view": [int(x) for x in text.split(",") if x], "cluster_view_cl": "ALL"}


def h(*events: str) -> History:
    """``timed`` events with suffixes: ``@node`` (the node that answered), ``#final`` (a final
    read), ``ts=N`` (a client timestamp on an ok write), ``view=1,2`` (the cluster's view of a
    set beside a final read, at ALL)."""
    return timed(*events, fields={"ts": lambda text: {"timestamp_us": int(text)}, "view": view})


def lost(history: History) -> dict[str, Verdict]:
    return {"lost-writes": check_lost_writes(history)}


def sessions(history: History) -> dict[str, Verdict]:
    return {"sessions": check_sessions(history)}


# --- hinted handoff: every acknowledged write on the lagging replica --------------------------

CUT = "partition+kill"


def hints(*inside: str, final: str = "[1, 2, 3]", node: str = N3, view: str = "") -> History:
    return h("0.1 1 invoke add s 1", "0.2 1 ok add s 1 @10.0.0.1",
             f"1.0 n info {CUT}-start", *inside, f"5.0 n info {CUT}-stop",
             "20.0 9 invoke read s #final",
             f"20.1 9 ok read s {final} @{node} #final" + (f" view={view}" if view else ""))


DURING = ("1.1 1 invoke add s 2", "1.2 1 ok add s 2 @10.0.0.1",
          "1.3 1 invoke add s 3", "1.4 1 ok add s 3 @10.0.0.1")


def judge(settled: Settled | None = None, repair: bool = False) -> ReplicaHasEveryWrite:
    return ReplicaHasEveryWrite(N3, "n3", fault=CUT, settled=settled or Settled(True),
                                need_repair=repair)


def test_writes_missing_on_the_replica_after_the_hints_drained_refute() -> None:
    history = hints(*DURING, final="[1]")
    d = decide(history, lost(history), judge(Settled(True, detail="no pending hints")),
               faults=[CUT])
    assert d.outcome == "refuted" and d.attributed
    assert "2 acknowledged writes are missing on n3" in d.reason
    assert "0 acknowledged before the window opened" in d.reason
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_missing_writes_when_the_needed_repair_did_not_complete_are_inconclusive() -> None:
    history = hints(*DURING, final="[1]")
    d = decide(history, lost(history), judge(Settled(True, repaired=None), repair=True),
               faults=[CUT])
    assert d.outcome == "inconclusive" and "repair the claim relies on did not complete" \
        in d.reason
    d = decide(history, lost(history), judge(Settled(True, repaired=True), repair=True),
               faults=[CUT])
    assert d.outcome == "refuted" and "and a full repair" in d.reason


def test_missing_writes_while_hints_are_still_pending_are_inconclusive() -> None:
    history = hints(*DURING, final="[1]")
    d = decide(history, lost(history), judge(Settled(False, detail="n1 holds hints")),
               faults=[CUT])
    assert d.outcome == "inconclusive" and "may yet arrive" in d.reason


def test_no_write_taken_while_the_replica_was_cut_is_not_exercised() -> None:
    history = hints(final="[1]")  # the write before the cut was already on n3 anyway
    d = decide(history, lost(history), judge(), faults=[CUT])
    assert d.outcome == "inconclusive" and d.reason.startswith("not exercised")


def test_a_final_read_from_another_node_is_not_exercised() -> None:
    history = hints(*DURING, node=N1)
    d = decide(history, lost(history), judge(), faults=[CUT])
    assert d.outcome == "inconclusive" and "answered by n3" in d.reason


def test_every_write_on_the_replica_upholds_and_repair_must_have_run() -> None:
    history = hints(*DURING)
    d = decide(history, lost(history), judge(), faults=[CUT])
    assert d.outcome == "upheld" and "2 acknowledged while it was cut off" in d.reason
    d = decide(history, lost(history), judge(Settled(repaired=False), repair=True), faults=[CUT])
    assert d.outcome == "inconclusive" and "repair" in d.reason
    d = decide(history, lost(history), judge(Settled(repaired=True), repair=True), faults=[CUT])
    assert d.outcome == "upheld"


# --- stale reads while n3 is cut (R + W <= N) ----------------------------------------------


def cut(*inside: str, before: tuple[str, ...] = ()) -> History:
    return h(*before, "1.0 n info partition-start", *inside, "5.0 n info partition-stop")


STALE_WHILE_CUT = ("1.1 1 invoke write x 7", "1.2 1 ok write x 7 @10.0.0.1",
                   "1.3 1 invoke read x", "1.4 1 ok read x null @10.0.0.3")
FRESH_WHILE_CUT = ("1.1 1 invoke write x 7", "1.2 1 ok write x 7 @10.0.0.1",
                   "1.3 1 invoke read x", "1.4 1 ok read x 7 @10.0.0.3")
STALE = StaleWhileCut(N3, "n3", fault="partition")


def test_a_stale_read_through_the_cut_node_refutes() -> None:
    history = cut(*STALE_WHILE_CUT)
    d = decide(history, sessions(history), STALE, faults=["partition"])
    assert d.outcome == "refuted" and d.attributed and "1 stale reads through n3" in d.reason
    assert d.anomalies[0]["kind"] == "read-your-writes"


def test_a_stale_read_before_the_cut_decides_nothing() -> None:
    before = ("0.1 2 invoke write y 5", "0.2 2 ok write y 5 @10.0.0.1",
              "0.3 2 invoke read y", "0.4 2 ok read y null @10.0.0.2")
    history = cut(*FRESH_WHILE_CUT, before=before)
    assert check_sessions(history).result == "invalid"
    d = decide(history, sessions(history), STALE, faults=["partition"])
    assert d.outcome == "upheld" and "1 more outside the cut" in d.reason


def test_reads_through_the_cut_node_of_keys_nobody_wrote_are_not_exercised() -> None:
    history = cut("1.1 1 invoke write x 7", "1.2 1 ok write x 7 @10.0.0.1",
                  "1.3 2 invoke read x", "1.4 2 ok read x null @10.0.0.3")
    d = decide(history, sessions(history), STALE, faults=["partition"])
    assert d.outcome == "inconclusive" and d.reason.startswith("not exercised")


# --- last write wins under clock skew --------------------------------------------------------

SKEW = "clock-skew"


def skewed(*inside: str) -> History:
    return h("0.5 n info clock-skew-start", *inside, "4.5 n info clock-skew-stop")


INVERTED = ("1.0 0 invoke write x 1", "1.1 0 ok write x 1 @10.0.0.1 ts=1000000",
            "1.2 1 invoke write x 2", "1.3 1 ok write x 2 @10.0.0.2 ts=-900000")


def test_a_later_write_dropped_for_an_older_timestamp_refutes() -> None:
    history = skewed(*INVERTED, "1.4 2 invoke read x", "1.5 2 ok read x 1 @10.0.0.3")
    d = decide(history, {}, LastWriteWins(SKEW), faults=[SKEW])
    assert d.outcome == "refuted" and d.attributed
    assert "1 explained by an older client timestamp" in d.reason
    assert len(d.anomalies) == 1 and len(d.anomalies[0]["ops"]) == 6


def test_without_a_timestamp_inversion_lww_is_not_exercised() -> None:
    history = skewed("1.0 0 invoke write x 1", "1.1 0 ok write x 1 ts=1000000",
                     "1.2 1 invoke write x 2", "1.3 1 ok write x 2 ts=2000000",
                     "1.4 2 invoke read x", "1.5 2 ok read x 2")
    d = decide(history, {}, LastWriteWins(SKEW), faults=[SKEW])
    assert d.outcome == "inconclusive" and "no inversion" in d.reason


def test_concurrent_writes_and_reads_of_the_later_write_uphold() -> None:
    history = skewed(*INVERTED, "1.4 2 invoke read x", "1.5 2 ok read x 2",
                     # concurrent with write 3: either value may be read
                     "2.0 0 invoke write x 3", "2.0 1 invoke read x", "2.1 1 ok read x 2",
                     "2.2 0 ok write x 3 ts=5")
    d = decide(history, {}, LastWriteWins(SKEW), faults=[SKEW])
    assert d.outcome == "upheld" and d.exercised


# --- exercise rules of the checker-decided cases ---------------------------------------------

VALID = {"c": Verdict("c", "valid")}


def rule_outcome(history: History, rule: Any, fault: str) -> str:
    return decide(history, VALID, Checkers(["c"], rule), faults=[fault]).outcome


def test_lwt_rounds_must_complete_inside_every_window() -> None:
    rule = paxos_in_every_window("kill")
    ok = h("1.0 n info kill-start", "1.1 1 invoke cas x [1, 2]", "1.5 1 ok cas x [1, 2]",
           "3.0 n info kill-stop")
    late = h("1.0 n info kill-start", "1.1 1 invoke cas x [1, 2]", "1.5 1 fail cas x [1, 2]",
             "1.6 2 invoke read x", "1.7 2 ok read x 1",
             "2.9 1 invoke write x 3", "3.0 n info kill-stop", "3.1 1 ok write x 3")
    assert rule_outcome(ok, rule, "kill") == "upheld"
    assert rule_outcome(late, rule, "kill") == "inconclusive"


def test_quorum_cases_need_writes_during_the_cut_and_reads_after_the_heal() -> None:
    rule = written_then_read_after("partition")
    base = ("1.0 n info partition-start", "1.1 1 invoke write x 1", "1.2 1 ok write x 1",
            "4.0 n info partition-stop")
    assert rule_outcome(h(*base, "4.5 2 invoke read x", "4.6 2 ok read x 1"), rule,
                        "partition") == "upheld"
    assert rule_outcome(h(*base, "4.5 2 invoke read y", "4.6 2 ok read y null"), rule,
                        "partition") == "inconclusive"


def test_writes_must_be_acknowledged_while_the_replica_is_down() -> None:
    rule = acked_while_down("add", "kill")
    final = ("9.0 9 invoke read s #final", "9.1 9 ok read s [1] #final")
    down = h("1.0 n info kill-start", "1.1 1 invoke add s 1", "1.2 1 ok add s 1",
             "3.0 n info kill-stop", *final)
    before = h("0.1 1 invoke add s 1", "0.2 1 ok add s 1", "1.0 n info kill-start",
               "1.1 1 invoke add s 2", "1.2 1 fail add s 2", "3.0 n info kill-stop", *final)
    assert rule_outcome(down, rule, "kill") == "upheld"
    assert rule_outcome(before, rule, "kill") == "inconclusive"


def test_the_commitlog_case_needs_its_final_read_from_the_killed_node() -> None:
    def history(node: str) -> History:
        return h("0.1 1 invoke add s 1", "0.2 1 ok add s 1 @10.0.0.1", "1.0 n info kill-start",
                 "2.0 n info kill-stop", "9.0 9 invoke read s #final",
                 f"9.1 9 ok read s [1] @{node} #final")

    rule = with_final_read_from(N3, "n3", acked_before_every_window("add", "kill"))
    assert rule_outcome(history(N3), rule, "kill") == "upheld"
    d = decide(history(N2), VALID, Checkers(["c"], rule), faults=["kill"])
    assert d.outcome == "inconclusive" and "answered by n3" in d.reason


def test_writes_lost_from_every_replica_are_not_the_lagging_replica_s() -> None:
    # Write 3 is in the cluster's view (only n3 lacks it); write 2 is nowhere (its single
    # replica crashed as it acknowledged it at ONE).
    history = hints(*DURING, final="[1]", view="1,3")
    d = decide(history, lost(history), judge(Settled(repaired=True), repair=True), faults=[CUT])
    assert d.outcome == "refuted" and "1 acknowledged writes are missing on n3" in d.reason
    assert "though the cluster still has them (ALL read)" in d.reason
    assert "1 more are missing from every replica" in d.reason
    assert len(d.anomalies) == 1
    history = hints(*DURING, final="[1, 3]", view="1,3")
    d = decide(history, lost(history), judge(Settled(repaired=True), repair=True), faults=[CUT])
    assert d.outcome == "upheld" and "1 more are missing from every replica" in d.reason
