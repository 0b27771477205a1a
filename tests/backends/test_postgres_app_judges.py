"""The judges of PostgreSQL's application and downtime claims on small histories: each refutes
a violation, is inconclusive (through ``outcome.decide``) when the behaviour was not
exercised, and upholds what holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from compact import timed

from pytest_sdconform.backends.postgres.judges import (
    DowntimeWithinDetection,
    NoOversell,
    RedoNotFlush,
    RestoredToTarget,
    RpoWithinLag,
    UniqueIds,
)
from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD, Judge
from pytest_sdconform.history import History
from pytest_sdconform.outcome import Decision, decide

FINAL = 9


def h(*events: str) -> History:
    return timed(*events, final_process=FINAL)


def failover(at: float, since_kill: float, **more: Any) -> str:
    value = {"killed": "n1", "promoted": "n2", "since_kill_s": since_kill, **more}
    return f"{at} n info failover-start - {json.dumps(value)}"


def run(history: History, judge: Judge, faults: tuple[str, ...] = ("failover",)) -> Decision:
    return decide(history, {}, judge, faults=list(faults))


# --- UniqueIds -------------------------------------------------------------------------------

# The odd server's primary dies at 4.8; its standby is primary when the window opens at 5.0.


def tickets(after: list[int]) -> History:
    events = ["1.0 1 invoke next odd", "1.1 1 ok next odd 1",
              "2.0 2 invoke next odd", "2.1 2 ok next odd 3",
              "3.0 1 invoke next odd", "3.1 1 ok next odd 5",
              failover(5.0, 0.2, cut_to_kill_s=1.5)]
    t = 5.5
    for i, v in enumerate(after):
        events += [f"{t} {1 + i % 2} invoke next odd", f"{t + 0.05} {1 + i % 2} ok next odd {v}"]
        t += 0.1
    return h(*events, "8.0 n info failover-stop")


def test_unique_ids_upholds_ids_that_go_on_after_the_failover() -> None:
    d = run(tickets([7, 9]), UniqueIds())
    assert d.outcome == UPHELD, d.reason
    assert "5 acknowledged IDs, all unique" in d.reason


def test_unique_ids_refutes_an_id_handed_out_again_after_the_promotion() -> None:
    d = run(tickets([5, 7]), UniqueIds())  # the promoted standby had not seen 5 go
    assert d.outcome == REFUTED and d.attributed, d.reason
    (a,) = d.anomalies
    assert a["kind"] == "duplicate-id" and "ID 5 acknowledged 2 times" in a["explanation"]
    assert a["relative_to_faults"] in ("during", "after")


def test_unique_ids_refutes_an_id_of_the_other_servers_parity() -> None:
    d = run(tickets([8]), UniqueIds())
    assert d.outcome == REFUTED
    assert {a["kind"] for a in d.anomalies} == {"wrong-parity"}


def test_unique_ids_without_ids_after_the_promotion_is_not_exercised() -> None:
    d = run(tickets([]), UniqueIds())
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason
    assert "0 after the promotion" in d.reason


def test_unique_ids_refuses_an_id_that_is_not_an_integer() -> None:
    with pytest.raises(ValueError, match="not an integer ID"):
        UniqueIds().rule(tickets(['"x"']), {})  # type: ignore[list-item]


# --- NoOversell ------------------------------------------------------------------------------


def booking_history(third: str, final: list[list[int]]) -> History:
    """Room 1 (capacity 2): three bookings overlap; the third answers ``third``."""
    return h(
        "1.0 1 invoke book 1 1", "1.0 2 invoke book 1 2", "1.0 3 invoke book 1 3",
        '1.1 1 ok book 1 "booked"', '1.2 2 ok book 1 "booked"', f'1.3 3 ok book 1 "{third}"',
        "2.0 1 invoke book 1 4", '2.1 1 ok book 1 "full"',
        "3.0 9 invoke read bookings", f"3.1 9 ok read bookings {json.dumps(final)}",
    )


def test_no_oversell_upholds_a_sold_out_room_that_refused_the_third() -> None:
    d = run(booking_history("full", [[1, 2]]), NoOversell(2), ())
    assert d.outcome == UPHELD, d.reason
    assert "2 bookings confirmed in 1 rooms" in d.reason


def test_no_oversell_refutes_a_third_confirmed_booking() -> None:
    d = run(booking_history("booked", [[1, 3]]), NoOversell(2), ())
    assert d.outcome == REFUTED, d.reason
    (a,) = d.anomalies
    assert a["kind"] == "oversold" and "3 bookings confirmed, 3 stored" in a["explanation"]


def test_no_oversell_refutes_a_confirmed_booking_missing_from_the_final_read() -> None:
    d = run(booking_history("full", [[1, 1]]), NoOversell(2), ())
    assert d.outcome == REFUTED
    assert {a["kind"] for a in d.anomalies} == {"lost-booking"}


def test_no_oversell_without_concurrent_bookings_is_not_exercised() -> None:
    hist = h('1.0 1 invoke book 1 1', '1.1 1 ok book 1 "booked"',
             '2.0 1 invoke book 1 2', '2.1 1 ok book 1 "booked"',
             '3.0 1 invoke book 1 3', '3.1 1 ok book 1 "full"',
             "4.0 9 invoke read bookings", "4.1 9 ok read bookings [[1, 2]]")
    d = run(hist, NoOversell(2), ())
    assert d.outcome == INCONCLUSIVE and "none with concurrent bookings" in d.reason


def test_no_oversell_refuses_a_final_read_of_another_shape() -> None:
    hist = booking_history("full", [[1, 2]])
    hist.ops[-1].value = {"1": 2}
    with pytest.raises(ValueError, match=r"not \[\[room, bookings\]"):
        NoOversell(2).rule(hist, {})


# --- DowntimeWithinDetection -----------------------------------------------------------------

# The primary dies at 4.9 (the window opens at 5.0), the standby is promoted at 8.0: a failover
# span of 3.1 s; clients get 2 s more to reconnect: a bound of 5.1 s after the death.


def downtime_history(first_ok: float | None) -> History:
    events = ["1.0 1 invoke add s 1", "1.1 1 ok add s 1",
              "4.95 2 invoke add s 2", "4.96 2 fail add s 2",
              failover(5.0, 0.1, promote="at-heal"),
              "6.0 1 invoke add s 3", "6.01 1 fail add s 3",
              "8.0 n info failover-stop"]
    if first_ok is not None:
        events += [f"{first_ok - 0.05} 1 invoke add s 4", f"{first_ok} 1 ok add s 4"]
    return h(*events)


def test_downtime_within_detection_upholds_writes_back_within_the_bound() -> None:
    d = run(downtime_history(8.3), DowntimeWithinDetection(client_bound_s=2.0))
    assert d.outcome == UPHELD, d.reason
    assert "3.40s (failover 3.10s" in d.reason and "bound 5.10s" in d.reason


def test_downtime_within_detection_refutes_writes_back_after_the_bound() -> None:
    d = run(downtime_history(10.5), DowntimeWithinDetection(client_bound_s=2.0))
    assert d.outcome == REFUTED and d.attributed, d.reason
    assert {a["kind"] for a in d.anomalies} == {"downtime-beyond-bound"}
    assert "5.60s" in d.reason


def test_downtime_within_detection_refutes_writes_that_never_come_back() -> None:
    d = run(downtime_history(None), DowntimeWithinDetection(client_bound_s=2.0))
    assert d.outcome == REFUTED
    assert "no write back" in d.reason


def test_downtime_within_detection_without_writes_while_down_is_not_exercised() -> None:
    hist = h("1.0 1 invoke add s 1", "1.1 1 ok add s 1",
             failover(5.0, 0.1, promote="at-heal"), "8.0 n info failover-stop",
             "8.2 1 invoke add s 4", "8.3 1 ok add s 4")
    d = run(hist, DowntimeWithinDetection(client_bound_s=2.0))
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


def test_downtime_within_detection_counts_the_promotion_up_to_the_heals_record() -> None:
    """At the heal the standby is promoted; its ``failover-healed`` record says when that was
    done (8.5 here, not the 8.0 the heal began): the failover took 3.6 s, the bound is 5.6 s."""
    hist = downtime_history(10.45)
    hist.ops.insert(8, timed('8.5 n info failover-healed - {"promote_s": 0.5}').ops[0])
    for i, op in enumerate(hist.ops):
        op.index = i
    d = run(hist, DowntimeWithinDetection(client_bound_s=2.0))
    assert d.outcome == UPHELD, d.reason
    assert "5.55s (failover 3.60s" in d.reason and "bound 5.60s" in d.reason


# --- RestoredToTarget ------------------------------------------------------------------------

# The target is taken between 3.0 (the invocation) and 3.1 (the window opens); the restore is
# done at 6.0, from node n2 (address 10.0.0.2); the final read is from there.


def pitr_history(final: list[int], node: str = "10.0.0.2") -> History:
    hist = h(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "2.9 2 invoke add s 2",  # in flight at the target: either way
        "3.0 n invoke pitr-restore-start",
        "3.05 2 ok add s 2",
        '3.1 n info pitr-restore-start - {"target": "2026-01-01 00:00:03+00"}',
        "4.0 1 invoke add s 3", "4.1 1 ok add s 3",
        "5.0 n info pitr-restore-stop",
        '6.0 n info pitr-restore-healed - {"address": "10.0.0.2", "restore_s": 0.9}',
        "7.0 9 invoke read s", f"7.1 9 ok read s {json.dumps(final)}",
    )
    hist.ops[-1].node = node
    return hist


def test_restored_to_target_upholds_exactly_the_history_before_the_target() -> None:
    d = run(pitr_history([1]), RestoredToTarget(), ("pitr-restore",))
    assert d.outcome == UPHELD, d.reason
    assert "all 1 writes acknowledged before it present, none of the 1 made after" in d.reason
    assert run(pitr_history([1, 2]), RestoredToTarget(), ("pitr-restore",)).outcome == UPHELD


def test_restored_to_target_refutes_a_write_acknowledged_before_it_missing() -> None:
    d = run(pitr_history([]), RestoredToTarget(), ("pitr-restore",))
    assert d.outcome == REFUTED, d.reason
    assert {a["kind"] for a in d.anomalies} == {"missing-before-target"}


def test_restored_to_target_refutes_a_write_made_after_it_present() -> None:
    d = run(pitr_history([1, 3]), RestoredToTarget(), ("pitr-restore",))
    assert d.outcome == REFUTED and d.attributed, d.reason
    assert {a["kind"] for a in d.anomalies} == {"present-after-target"}


def test_restored_to_target_with_a_final_read_from_elsewhere_is_not_exercised() -> None:
    d = run(pitr_history([1], node="10.0.0.1"), RestoredToTarget(), ("pitr-restore",))
    assert d.outcome == INCONCLUSIVE and "restored node" in d.reason


def test_restored_to_target_refuses_a_final_read_that_is_not_a_list() -> None:
    hist = pitr_history([1])
    hist.ops[-1].value = 1
    with pytest.raises(ValueError, match="not a list"):
        RestoredToTarget().rule(hist, {})


# --- RedoNotFlush ----------------------------------------------------------------------------

# Adds 1-4 acknowledged before the power goes at 3.0; the heap file's rows in the page cache
# and on disk after the cut are on the power loss's record; the node is back at 4.0.


def power_history(cache: list[list[int]], disk: list[list[int]], final: list[int]) -> History:
    heap = {"file": "pgdata/base/5/1", "cache": {"values": cache}, "disk": {"values": disk}}
    return h(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1", "1.2 2 invoke add s 2", "1.3 2 ok add s 2",
        "2.0 1 invoke add s 3", "2.1 1 ok add s 3", "2.2 2 invoke add s 4", "2.3 2 ok add s 4",
        "3.0 n invoke power-loss-start",
        f"3.1 n info power-loss-start - {json.dumps({'nodes': ['n1'], 'heap': heap})}",
        "4.0 n info power-loss-stop",
        "5.0 9 invoke read s", f"5.1 9 ok read s {json.dumps(final)}",
    )


def test_redo_not_flush_refutes_dropped_dirty_pages_while_every_commit_survives() -> None:
    d = run(power_history([[1, 3]], [], [1, 2, 3, 4]), RedoNotFlush(), ("power-loss",))
    assert d.outcome == REFUTED and d.attributed, d.reason
    assert "3 rows the page cache held were gone" in d.reason
    assert "all 4 acknowledged writes are back" in d.reason and "4 of them" in d.reason
    assert {a["kind"] for a in d.anomalies} == {"dirty-page-dropped"}


def test_redo_not_flush_upholds_pages_that_were_on_disk_after_the_cut() -> None:
    d = run(power_history([[1, 3]], [[1, 3]], [1, 2, 3, 4]), RedoNotFlush(), ("power-loss",))
    assert d.outcome == UPHELD, d.reason


def test_redo_not_flush_refutes_lost_commits_even_with_the_pages_on_disk() -> None:
    d = run(power_history([[1, 3]], [[1, 3]], [1, 2, 3]), RedoNotFlush(), ("power-loss",))
    assert d.outcome == REFUTED
    assert {a["kind"] for a in d.anomalies} == {"lost-write"}


def test_redo_not_flush_without_data_pages_in_the_page_cache_is_not_exercised() -> None:
    d = run(power_history([], [], [1, 2, 3, 4]), RedoNotFlush(), ("power-loss",))
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason
    assert "no page of an acknowledged write" in d.reason


# --- RpoWithinLag ----------------------------------------------------------------------------

# The link is slow from 3.5 (1.5 s before the death at 5.0); the promoted standby is primary
# when the window opens at 5.2 and takes add 5 at 6.1.


def region_history(final: list[int]) -> History:
    value = {"killed": "n1", "promoted": "n2", "since_kill_s": 0.2, "cut_to_kill_s": 1.5,
             "promote_s": 0.15, "link": {"measured": {"wal": {"added_ms": 300.5}}},
             "lag_at_kill": {"write_behind_bytes": 4096, "write_lag_s": 0.31}}
    return h(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "2.0 2 invoke add s 2", "2.1 2 ok add s 2",
        "4.0 1 invoke add s 3", "4.1 1 ok add s 3",
        "4.8 2 invoke add s 4", "4.85 2 ok add s 4",
        f"5.2 n info region-loss-start - {json.dumps(value)}",
        "6.0 1 invoke add s 5", "6.1 1 ok add s 5",
        "8.0 n info region-loss-stop",
        "9.0 9 invoke read s", f"9.1 9 ok read s {json.dumps(final)}",
    )


def region(final: list[int]) -> Decision:
    hist = region_history(final)
    return decide(hist, {"lost-writes": check_lost_writes(hist)}, RpoWithinLag(),
                  faults=["region-loss"])


def test_rpo_within_lag_upholds_losing_the_tail_and_reports_the_figures() -> None:
    d = region([1, 2, 3, 5])
    assert d.outcome == UPHELD, d.reason
    assert "RPO 0.15s (1 acknowledged writes)" in d.reason
    assert "link delay 300.5 ms" in d.reason and "RTO 1.10s" in d.reason
    assert "reported, not judged" in d.reason


def test_rpo_within_lag_refutes_a_loss_beyond_the_lag() -> None:
    d = region([2, 3, 4, 5])  # 1 lost, though 2 (invoked after 1's ack) survived
    assert d.outcome == REFUTED, d.reason
    assert {a["kind"] for a in d.anomalies} == {"loss-beyond-lag"}


def test_rpo_within_lag_with_nothing_lost_is_inconclusive() -> None:
    assert region([1, 2, 3, 4, 5]).outcome == INCONCLUSIVE


def test_rpo_within_lag_without_writes_while_the_link_lagged_is_not_exercised() -> None:
    hist = region_history([1, 2, 5])
    hist.ops = [op for op in hist.ops if op.value not in (3, 4)]
    verdicts = {"lost-writes": check_lost_writes(hist)}
    made = RpoWithinLag().exercised(hist, verdicts)
    assert not made.done and "no add was acknowledged while the standby lagged" in made.why
    assert decide(hist, verdicts, RpoWithinLag(), faults=["region-loss"]).outcome == INCONCLUSIVE
