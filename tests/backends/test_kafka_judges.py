"""The Kafka suite's judges and exercise rules, on small synthetic histories: each refutes a
violating history, is inconclusive through ``outcome.decide`` when the behaviour was not
exercised, and upholds a history where the claim holds."""

from __future__ import annotations

import json
from typing import Any

from pytest_sdconform.backends.kafka.judges import (
    DeletedByRetention,
    DuplicatesDelivered,
    PartitionOrder,
    consumer_crashes,
    in_flight_together,
    polled_in_every_window,
)
from pytest_sdconform.backends.kafka.writes_continue import writes_continue
from pytest_sdconform.checkers.delivery import check_delivery
from pytest_sdconform.checkers.judge import Checkers, acked_before_every_window
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD, decide
from tests.compact import timed


def extra(h: History, **by_index: dict[str, Any]) -> History:
    """Set completion fields: ``extra(h, op3={"offset": 1})`` (``op<index>``)."""
    for name, fields in by_index.items():
        op = h.ops[int(name[2:])]
        op.extra = {**(op.extra or {}), **fields}
    return h


def verdicts(h: History, *guarantees: str) -> dict[str, Any]:
    return {"delivery": check_delivery(h, guarantees=guarantees or ("at-least-once",))}


def final(h: History, *indices: int) -> History:
    for i in indices:
        op = h.ops[i]
        op.extra = {**(op.extra or {}), "final": True}
    return h


# --- writes continue (Resumes) ----------------------------------------------------------------

def kill_history(resumed: bool, traffic: bool = True, elected: float | None = 1.0,
                 stop: float = 9.0) -> History:
    """A kill from 2.0 s to ``stop``; with ``elected``, the fault's heal record says the other
    brokers named a new leader that long after the kill."""
    during = ["2.5 0 invoke send - 3",
              "3.0 0 fail send - 3",
              "3.5 1 invoke send - 4",
              f"4.5 1 {'ok' if resumed else 'fail'} send - 4"] if traffic else []
    seen = ({"new_leader": "n2", "elected_after_s": elected} if elected is not None
            else {"new_leader": None})
    return final(timed(
        "0.1 0 invoke send - 1", "0.2 0 ok send - 1",
        "1.0 1 invoke send - 2", "1.1 1 ok send - 2",
        "2.0 n info kill-start",
        *during,
        f"{stop} n info kill-stop",
        f"{stop + 0.5} n info kill-healed - {json.dumps(seen)}",
        "10.0 2 invoke poll - \"drain\"",
        f"10.5 2 ok poll - {[[0, 0, 1], [0, 1, 2]] + ([[0, 2, 4]] if resumed else [])}",
    ), -2, -1)


def test_writes_continue_refutes_a_window_where_no_send_succeeded() -> None:
    h = kill_history(resumed=False)
    d = decide(h, verdicts(h), writes_continue("kill", 6.0), faults=["kill"])
    assert d.outcome == REFUTED and "no send succeeded" in d.reason
    assert d.anomalies and d.anomalies[0]["relative_to_faults"] == "during"


def test_writes_continue_is_inconclusive_when_nobody_sent_during_the_fault() -> None:
    h = kill_history(resumed=False, traffic=False)
    d = decide(h, verdicts(h), writes_continue("kill", 6.0), faults=["kill"])
    assert d.outcome == INCONCLUSIVE and "no send was made" in d.reason


def test_writes_continue_bounds_recovery_from_the_election_the_fault_saw() -> None:
    h = kill_history(resumed=True)  # back 2.5 s into the kill; a new leader after 1.0 s
    d = decide(h, verdicts(h), writes_continue("kill", 6.0), faults=["kill"])
    assert d.outcome == UPHELD, d.reason
    assert "new leader named 1.00s in" in d.reason
    slow = decide(h, verdicts(h), writes_continue("kill", 1.0), faults=["kill"])
    assert slow.outcome == REFUTED and "> 2s" in slow.reason
    late = kill_history(resumed=True, elected=2.0)  # a later election moves the bound with it
    assert decide(late, verdicts(late), writes_continue("kill", 1.0),
                  faults=["kill"]).outcome == UPHELD


def test_writes_continue_without_a_seen_election_needs_sends_back_within_the_window() -> None:
    h = kill_history(resumed=True, elected=None)
    d = decide(h, verdicts(h), writes_continue("kill", 0.1), faults=["kill"])
    assert d.outcome == UPHELD and "no bound was applied" in d.reason
    h = kill_history(resumed=False, elected=None)
    d = decide(h, verdicts(h), writes_continue("kill", 0.1), faults=["kill"])
    assert d.outcome == REFUTED and "no send succeeded" in d.reason


def test_writes_continue_is_inconclusive_when_the_fault_healed_before_sends_were_due() -> None:
    h = kill_history(resumed=False, elected=1.0, stop=5.0)  # 3 s of kill, due at 1 + 6 s
    d = decide(h, verdicts(h), writes_continue("kill", 6.0), faults=["kill"])
    assert d.outcome == INCONCLUSIVE and "before sends were due back" in d.reason


# --- consumer crashes -------------------------------------------------------------------------

def crash_history(crashed: bool, lost: bool = False) -> History:
    """Three sends; a consumer polls the first two and crashes before committing; the drain
    (the group's next member) gets all three, or with ``lost`` the first two only."""
    drained = [[0, 0, 1], [0, 1, 2]] + ([] if lost else [[0, 2, 3]])
    h = timed(
        "0.1 0 invoke send - 1", "0.2 0 ok send - 1",
        "0.3 0 invoke send - 2", "0.4 0 ok send - 2",
        "1.0 1 invoke poll", "1.5 1 ok poll - [[0, 0, 1], [0, 1, 2]]",
        "1.6 0 invoke send - 3", "1.7 0 ok send - 3",
        "5.0 2 invoke poll - \"drain\"", f"5.5 2 ok poll - {drained}",
    )
    if crashed:
        extra(h, op5={"crashed": "after-processing", "in_hand": 2, "killed": True})
    return final(h, 8, 9)


def test_crash_rule_needs_a_proven_kill_with_messages_in_hand() -> None:
    rule = consumer_crashes("after-processing")
    assert rule(crash_history(crashed=True), {}).done
    assert not rule(crash_history(crashed=False), {}).done
    h = crash_history(crashed=True)
    extra(h, op5={"killed": False})  # the process was already gone: no crash proven
    assert not rule(h, {}).done
    h = crash_history(crashed=True)
    extra(h, op5={"in_hand": 0})
    assert not rule(h, {}).done
    assert not consumer_crashes("after-commit")(crash_history(crashed=True), {}).done


def test_a_crash_case_without_a_crash_is_inconclusive() -> None:
    h = crash_history(crashed=False)
    judge = Checkers(["delivery"], consumer_crashes("after-processing"))
    d = decide(h, verdicts(h), judge)
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


def test_a_crash_case_refuted_by_a_lost_message_and_upheld_without() -> None:
    judge = Checkers(["delivery"], consumer_crashes("after-processing"))
    h = crash_history(crashed=True)
    assert decide(h, verdicts(h), judge).outcome == UPHELD
    h = crash_history(crashed=True, lost=True)
    assert decide(h, verdicts(h), judge).outcome == REFUTED


# --- duplicates delivered ---------------------------------------------------------------------

def test_duplicates_delivered_refutes_a_lost_message() -> None:
    h = crash_history(crashed=True, lost=True)
    d = decide(h, verdicts(h, "at-least-once", "at-most-once"), DuplicatesDelivered())
    assert d.outcome == REFUTED and "never delivered" in d.reason and d.anomalies


def test_duplicates_delivered_without_a_crash_is_inconclusive() -> None:
    h = crash_history(crashed=False)
    d = decide(h, verdicts(h, "at-least-once", "at-most-once"), DuplicatesDelivered())
    assert d.outcome == INCONCLUSIVE and not d.exercised


def test_duplicates_delivered_with_no_redelivery_is_inconclusive() -> None:
    h = timed(
        "0.1 0 invoke send - 1", "0.2 0 ok send - 1",
        "1.0 1 invoke poll", "1.5 1 ok poll - [[0, 0, 1]]",
        "5.0 2 invoke poll - \"drain\"", "5.5 2 ok poll - []",
    )
    extra(h, op3={"crashed": "after-processing", "in_hand": 1, "killed": True})
    final(h, 4, 5)
    d = decide(h, verdicts(h, "at-least-once", "at-most-once"), DuplicatesDelivered())
    assert d.outcome == INCONCLUSIVE and "delivered twice" in d.reason


def test_duplicates_delivered_upholds_a_crashed_batch_delivered_again() -> None:
    h = crash_history(crashed=True)
    d = decide(h, verdicts(h, "at-least-once", "at-most-once"), DuplicatesDelivered())
    assert d.outcome == UPHELD and "2 of the 2 messages" in d.reason


# --- retention --------------------------------------------------------------------------------

def retention_history(drained: list[list[int]], log_start: int, read_after_s: float = 0.1
                      ) -> History:
    """Three sends acknowledged at 0.2 s, 1.2 s and 9.2 s; the drain starts at 10 s."""
    h = timed(
        "0.1 0 invoke send - 1", "0.2 0 ok send - 1",
        "1.1 0 invoke send - 2", "1.2 0 ok send - 2",
        "9.1 0 invoke send - 3", "9.2 0 ok send - 3",
        "10.0 1 invoke poll - \"drain\"", f"10.5 1 ok poll - {drained}",
    )
    for i, off in ((1, 0), (3, 1), (5, 2)):
        extra(h, **{f"op{i}": {"partition": 0, "offset": off}})
    extra(h, op7={"partitions": {"0": {"log_start": log_start, "end": 3, "committed": -1,
                                       "read_after_s": read_after_s}}})
    return final(h, 6, 7)


def test_retention_refutes_old_messages_below_the_log_start_as_deleted_by_retention() -> None:
    h = retention_history([[0, 2, 3]], log_start=2)
    d = decide(h, verdicts(h), DeletedByRetention(2000))
    assert d.outcome == REFUTED and "deleted by retention" in d.reason
    assert {a["kind"] for a in d.anomalies} == {"deleted-by-retention"}


def test_retention_calls_a_young_missing_message_lost_not_retention() -> None:
    h = retention_history([[0, 0, 1], [0, 1, 2]], log_start=0)  # 3 (acked 0.8 s before) missing
    d = decide(h, verdicts(h), DeletedByRetention(2000))
    assert d.outcome == REFUTED and "lost" in d.reason and "retention cannot explain" in d.reason
    assert {a["kind"] for a in d.anomalies} == {"lost-message"}
    # an old message missing above the log start was not removed by retention either
    h = retention_history([[0, 2, 3]], log_start=0)
    d = decide(h, verdicts(h), DeletedByRetention(2000))
    assert d.outcome == REFUTED and "lost" in d.reason


def test_retention_is_not_exercised_when_nothing_was_older_than_retention() -> None:
    h = retention_history([[0, 0, 1], [0, 1, 2], [0, 2, 3]], log_start=0)
    d = decide(h, verdicts(h), DeletedByRetention(60_000))
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


def test_retention_upholds_old_messages_still_in_the_stream() -> None:
    h = retention_history([[0, 0, 1], [0, 1, 2], [0, 2, 3]], log_start=0)
    d = decide(h, verdicts(h), DeletedByRetention(2000))
    assert d.outcome == UPHELD, d.reason


# --- partition order --------------------------------------------------------------------------

def order_history(overlap: bool, inverted: bool, fault: bool = True) -> History:
    """One producer, three sends; with ``overlap`` the second and third are in flight at once
    (during a stall); ``inverted``: the third was written before the second."""
    if overlap:
        events = ["0.1 0 invoke send k0 1", "0.2 0 ok send k0 1",
                  "1.0 n info stall-start",
                  "1.1 1 invoke send k0 2", "1.2 2 invoke send k0 3",
                  "2.0 2 ok send k0 3", "2.5 1 ok send k0 2",
                  "3.0 n info stall-stop"]
        idx = {1: 1, 2: 6, 3: 5}
    else:
        events = ["0.1 0 invoke send k0 1", "0.2 0 ok send k0 1",
                  "1.0 n info stall-start",
                  "1.1 1 invoke send k0 2", "1.2 1 ok send k0 2",
                  "1.3 2 invoke send k0 3", "1.4 2 ok send k0 3",
                  "3.0 n info stall-stop"]
        idx = {1: 1, 2: 4, 3: 6}
    if not fault:
        events = [e for e in events if " n " not in e]
        idx = {m: i - (1 if i > 2 else 0) for m, i in idx.items()}
    offsets = {1: 0, 2: 2 if inverted else 1, 3: 1 if inverted else 2}
    h = timed(*events, "5.0 3 invoke poll - \"drain\"",
              f"5.5 3 ok poll - {sorted([[0, offsets[m], m] for m in (1, 2, 3)])}")
    for m, i in idx.items():
        extra(h, **{f"op{i}": {"producer": "shared0", "seq": m, "partition": 0,
                               "offset": offsets[m], "retries_before": 0, "retries": 0}})
    return final(h, len(h) - 2, len(h) - 1)


def test_in_flight_together_counts_overlapping_sends_of_one_producer() -> None:
    most, together = in_flight_together(order_history(overlap=True, inverted=False))
    assert most == 2 and sorted(c.invoke.value for c in together) == [2, 3]
    assert in_flight_together(order_history(overlap=False, inverted=False))[0] == 1


def test_partition_order_refutes_a_later_send_written_first() -> None:
    h = order_history(overlap=True, inverted=True)
    d = decide(h, verdicts(h, "log-order"), PartitionOrder(), faults=["stall"])
    assert d.outcome == REFUTED and "lower offset" in d.reason
    assert {a["kind"] for a in d.anomalies} == {"produce-reorder"}
    assert d.attributed


def test_partition_order_with_one_send_in_flight_is_not_exercised() -> None:
    h = order_history(overlap=False, inverted=False)
    d = decide(h, verdicts(h, "log-order"), PartitionOrder(), faults=["stall"])
    assert d.outcome == INCONCLUSIVE and "in flight at once" in d.reason


def test_partition_order_needs_retries_or_a_fault_during_the_overlap() -> None:
    h = order_history(overlap=True, inverted=False, fault=False)
    assert not PartitionOrder().exercised(h, {}).done
    extra(h, op4={"retries": 3})  # the producer retried while send 3 was in flight
    assert PartitionOrder().exercised(h, {}).done


def test_partition_order_upholds_offsets_in_send_order() -> None:
    h = order_history(overlap=True, inverted=False)
    d = decide(h, verdicts(h, "log-order"), PartitionOrder(), faults=["stall"])
    assert d.outcome == UPHELD, d.reason


def test_partition_order_without_a_guarantee_is_never_upheld_by_a_quiet_run() -> None:
    h = order_history(overlap=True, inverted=False)
    d = decide(h, verdicts(h, "log-order"), PartitionOrder(not_guaranteed="no idempotence"),
               faults=["stall"])
    assert d.outcome == INCONCLUSIVE and "no reordering provoked" in d.reason
    h = order_history(overlap=True, inverted=True)
    d = decide(h, verdicts(h, "log-order"), PartitionOrder(not_guaranteed="no idempotence"),
               faults=["stall"])
    assert d.outcome == REFUTED


# --- consumer order ---------------------------------------------------------------------------

def test_polled_in_every_window_needs_messages_handed_out_during_each_fault() -> None:
    rule = polled_in_every_window("partition")
    h = timed("0.1 0 invoke send - 1", "0.2 0 ok send - 1", "1.0 n info partition-start",
              "1.5 1 invoke poll", "2.0 1 ok poll - [[0, 0, 1]]", "3.0 n info partition-stop")
    assert rule(h, {}).done
    h = timed("0.1 0 invoke send - 1", "0.2 0 ok send - 1", "1.0 n info partition-start",
              "1.5 1 invoke poll", "2.0 1 ok poll - []", "3.0 n info partition-stop")
    assert not rule(h, {}).done
    h = timed("0.1 0 invoke send - 1", "0.2 0 ok send - 1")
    assert not rule(h, {}).done


# --- durability evidence ----------------------------------------------------------------------

def loss_history(lost_during: bool) -> History:
    """Two sends acknowledged before a cut's window is recorded open, one during it; the drain
    misses the first ones and, with ``lost_during``, the one during the cut too."""
    drained = [[0, 2, 3]] if not lost_during else []
    return final(timed(
        "0.1 0 invoke send - 1", "0.2 0 ok send - 1",
        "0.3 0 invoke send - 2", "0.4 0 ok send - 2",
        "1.0 n info partition-start",
        "1.1 0 invoke send - 3", "1.2 0 ok send - 3",
        "3.0 n info partition-stop",
        "5.0 1 invoke poll - \"drain\"", f"5.5 1 ok poll - {drained}",
    ), 8, 9)


def test_a_loss_refutation_is_attributed_when_any_loss_touches_a_fault() -> None:
    judge = Checkers(["delivery"], acked_before_every_window("send", "partition"))
    h = loss_history(lost_during=True)
    d = decide(h, verdicts(h), judge, faults=["partition"], max_anomalies=1)
    assert d.outcome == REFUTED and d.attributed
    assert d.anomalies[0]["relative_to_faults"] == "during"
    # a message acknowledged before the fault and missing from the drain after it: the loss
    # spans the fault (as a lost write's does, with its final read), so it is attributed
    h = loss_history(lost_during=False)
    d = decide(h, verdicts(h), judge, faults=["partition"])
    assert d.outcome == REFUTED and d.attributed
    assert d.anomalies[0]["relative_to_faults"] == "during"


def test_losses_are_inconclusive_without_acknowledged_sends_before_the_fault() -> None:
    judge = Checkers(["delivery"], acked_before_every_window("send", "partition"))
    h = final(timed("1.0 n info partition-start", "1.1 0 invoke send - 3", "1.2 0 ok send - 3",
                    "3.0 n info partition-stop", "5.0 1 invoke poll - \"drain\"",
                    "5.5 1 ok poll - [[0, 0, 3]]"), 4, 5)
    d = decide(h, verdicts(h), judge, faults=["partition"])
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason
    h = loss_history(lost_during=False)
    h.ops[-1].value = [[0, 0, 1], [0, 1, 2], [0, 2, 3]]
    assert decide(h, verdicts(h), judge, faults=["partition"]).outcome == UPHELD
