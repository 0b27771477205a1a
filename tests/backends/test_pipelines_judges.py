"""The pipeline judges: a copy's freshness (immediate, or lagging and converging) and the
relay crash between publish and mark."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sdconform.backends.pipelines import (
    CausalOrder,
    Freshness,
    Visibility,
    causal_inversions,
    invisible_reads,
    published_twice,
    stale_reads,
)
from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD, Checkers
from pytest_sdconform.checkers.outbox import check_outbox
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import event, history

W1 = ("1 invoke write a 1", "1 ok write a 1")
W2 = ("1 invoke write a 2", "1 ok write a 2")


def finals(h: History, *events: str) -> History:
    n = len(h.ops)
    extra = [event(n + i, e) for i, e in enumerate(events)]
    for op in extra:
        op.extra = {"final": True}
    return History([*h.ops, *extra])


def test_a_read_missing_an_acknowledged_write_is_stale() -> None:
    h = history(*W1, *W2, "2 invoke read a", "2 ok read a 1")
    stale, judged = stale_reads(h)
    assert judged == 1
    assert [s.missed.invoke.value for s in stale] == [2]
    d = decide(h, {}, Freshness("immediate"))
    assert d.outcome == REFUTED
    assert "1 of 1 reads" in d.reason


def test_a_read_of_nothing_after_a_write_is_stale() -> None:
    h = history(*W1, "2 invoke read a", "2 ok read a")
    assert len(stale_reads(h)[0]) == 1


def test_concurrent_writes_may_be_read_in_either_order() -> None:
    h = history("1 invoke write a 1", "3 invoke write a 2", "1 ok write a 1", "3 ok write a 2",
                "2 invoke read a", "2 ok read a 1")
    assert stale_reads(h)[0] == []


def test_a_read_concurrent_with_the_write_may_miss_it() -> None:
    h = history("1 invoke write a 1", "2 invoke read a", "1 ok write a 1", "2 ok read a")
    assert stale_reads(h) == ([], 0)


def test_fresh_reads_uphold_immediate_consistency() -> None:
    h = history(*W1, "2 invoke read a", "2 ok read a 1")
    assert decide(h, {}, Freshness("immediate")).outcome == UPHELD


def test_no_read_after_a_write_is_inconclusive() -> None:
    h = history("2 invoke read a", "2 ok read a", *W1)
    d = decide(h, {}, Freshness("immediate"))
    assert d.outcome == INCONCLUSIVE
    assert "no read began after" in d.reason


def test_a_lag_then_convergence_upholds_may_lag() -> None:
    h = finals(history(*W1, *W2, "2 invoke read a", "2 ok read a 1"),
               "2 invoke read a", "2 ok read a 2")
    d = decide(h, {}, Freshness("may-lag"))
    assert d.outcome == UPHELD
    assert "converged" in d.reason


def test_a_stale_final_read_refutes_convergence() -> None:
    h = finals(history(*W1, *W2), "2 invoke read a", "2 ok read a 1")
    d = decide(h, {}, Freshness("may-lag"))
    assert d.outcome == REFUTED
    assert "final reads" in d.reason


def test_no_lag_seen_leaves_may_lag_inconclusive() -> None:
    h = finals(history(*W1, "2 invoke read a", "2 ok read a 1"),
               "2 invoke read a", "2 ok read a 1")
    d = decide(h, {}, Freshness("may-lag"))
    assert d.outcome == INCONCLUSIVE
    assert "never showed" in d.reason


def outbox_history(topic: list[list[object]], kill: bool = True) -> History:
    ops = ["n invoke kill-start", "n info kill-start"] if kill else []
    ops += [*W1, "n invoke kill-stop", "n info kill-stop"] if kill else [*W1]
    h = finals(history(*ops), "9 invoke read table", "9 ok read table [[\"a\", 1]]",
               "9 invoke poll topic", f"9 ok poll topic {topic}".replace("'", '"'))
    return h


JUDGE = Checkers(["outbox"], published_twice("kill"), "a crash between publish and mark")


def test_a_duplicate_after_a_crash_exercises_the_outbox() -> None:
    h = outbox_history([["a", 1, 0], ["a", 1, 1]])
    d = decide(h, {"outbox": check_outbox(h)}, JUDGE, faults=["kill"])
    assert d.outcome == UPHELD


def test_crashes_that_never_duplicated_are_inconclusive() -> None:
    h = outbox_history([["a", 1, 0]])
    d = decide(h, {"outbox": check_outbox(h)}, JUDGE, faults=["kill"])
    assert d.outcome == INCONCLUSIVE
    assert "none between publish and mark" in d.reason


def test_a_lost_message_refutes_the_outbox() -> None:
    h = outbox_history([])
    d = decide(h, {"outbox": check_outbox(h)}, JUDGE, faults=["kill"])
    assert d.outcome == REFUTED
    assert "lost-message" in d.reason


def test_the_relay_prints_what_its_readiness_waits_for() -> None:
    from pytest_sdconform.backends.pipelines import relay, topology

    assert relay.READY == topology.READY


def appended(offset: int) -> tuple[str, str]:
    return (f"1 invoke write - {offset + 100}", f"1 ok write - {offset + 100}")


def with_offsets(h: History) -> History:
    for op in h.ops:
        if op.type == "ok" and op.f == "write":
            op.extra = {"offset": int(op.value) - 100}
    return h


def test_a_watermark_below_an_acknowledged_append_refutes_visibility() -> None:
    h = with_offsets(history(*appended(0), "2 invoke read -", "2 ok read - 0"))
    found, judged = invisible_reads(h)
    assert (len(found), judged) == (1, 1)
    d = decide(h, {}, Visibility())
    assert d.outcome == REFUTED
    assert "not yet readable" in d.reason


def test_a_watermark_past_every_acknowledged_append_upholds_visibility() -> None:
    h = with_offsets(history(*appended(0), *appended(1), "2 invoke read -", "2 ok read - 2"))
    assert decide(h, {}, Visibility()).outcome == UPHELD


def test_a_read_concurrent_with_the_append_is_not_judged() -> None:
    h = with_offsets(history("1 invoke write - 100", "2 invoke read -", "1 ok write - 100",
                             "2 ok read - 0"))
    assert invisible_reads(h) == ([], 0)
    assert decide(h, {}, Visibility()).outcome == INCONCLUSIVE


def test_no_invisible_append_where_none_is_promised_is_inconclusive() -> None:
    h = with_offsets(history(*appended(0), "2 invoke read -", "2 ok read - 1"))
    d = decide(h, {}, Visibility(not_guaranteed="acks=1 acknowledges first"))
    assert d.outcome == INCONCLUSIVE
    assert "acks=1" in d.reason


def observed(*polls: list[Any], skew: bool = True) -> History:
    """Each poll's events (rows ``[value, prev, seq, ts, by, offset]``), inside a clock-skew
    window when ``skew``."""
    ops = ["n invoke clock-skew-start", "n info clock-skew-start"] if skew else []
    h = history(*ops)
    out = list(h.ops)
    for rows in polls:
        n = len(out)
        inv, ok = event(n, "1 invoke poll events"), event(n + 1, "1 ok poll events")
        ok.value = rows
        out += [inv, ok]
    return History(out)


A = ["p1-1", None, 1, 100.0, "p1", 0]
B_LATE_CLOCK = ["p2-1", "p1-1", 2, 98.5, "p2", 1]  # read A, published with a clock behind
B_FINE = ["p2-1", "p1-1", 2, 100.5, "p2", 1]


def test_a_skewed_timestamp_before_its_causal_predecessor_refutes_timestamp_order() -> None:
    h = observed([A], [B_LATE_CLOCK])
    found, crossing = causal_inversions(h, "ts")
    assert (len(found), crossing) == (1, 1)
    d = decide(h, {}, CausalOrder("ts"))
    assert d.outcome == REFUTED
    assert "p2-1" in d.reason


def test_counters_keep_the_causal_order_under_the_same_skew() -> None:
    h = observed([A], [B_LATE_CLOCK])
    assert decide(h, {}, CausalOrder("seq")).outcome == UPHELD


def test_a_counter_not_past_its_predecessor_refutes() -> None:
    h = observed([A, ["p2-1", "p1-1", 1, 101.0, "p2", 1]])
    assert decide(h, {}, CausalOrder("seq")).outcome == REFUTED


def test_timestamps_with_no_skew_window_are_inconclusive() -> None:
    h = observed([A, B_FINE], skew=False)
    d = decide(h, {}, CausalOrder("ts"))
    assert d.outcome == INCONCLUSIVE
    assert "clock-skew" in d.reason


def test_links_within_one_publisher_only_are_not_exercised() -> None:
    h = observed([A, ["p1-2", "p1-1", 2, 100.1, "p1", 1]])
    d = decide(h, {}, CausalOrder("seq"))
    assert d.outcome == INCONCLUSIVE


def test_an_unknown_ordering_is_refused() -> None:
    with pytest.raises(ValueError, match="one of ts, seq, offset"):
        CausalOrder("wallclock")


def test_immediate_is_exercised_only_by_reads_racing_the_propagation() -> None:
    from pytest_sdconform.backends.pipelines.judges import racing_reads

    # the first read showing the write began after its ack: it raced the propagation
    h = history(*W1, "2 invoke read a", "2 ok read a 1")
    assert len(racing_reads(h)) == 1
    # a read begun after another read had shown the copy holding the write proves nothing
    late = history(*W1, "2 invoke read a", "2 ok read a 1", "3 invoke read a", "3 ok read a 1")
    assert [r.process for r in racing_reads(late)] == [2]
    # a lone read begun long after another read showed it: nothing raced
    shown_first = history("2 invoke read a", *W1, "2 ok read a 1", "3 invoke read a",
                          "3 ok read a 1")
    assert racing_reads(shown_first) == []
    d = decide(shown_first, {}, Freshness("immediate"))
    assert d.outcome == INCONCLUSIVE and not d.exercised
    assert "before a read had shown the copy holding" in d.reason


def test_timestamps_are_exercised_only_by_a_link_published_inside_the_skew() -> None:
    from pytest_sdconform.backends.pipelines.judges import skewed_links

    # B first shown by a poll whose poller had already polled inside the window without it
    inside = observed([A], [B_FINE])
    assert skewed_links(inside) == 1
    d = decide(inside, {}, CausalOrder("ts"))
    assert d.outcome == UPHELD and d.exercised, d.reason
    # both events in the first poll: they may have been published before the window opened
    unknown = observed([A, B_FINE])
    assert skewed_links(unknown) == 0
    d = decide(unknown, {}, CausalOrder("ts"))
    assert d.outcome == INCONCLUSIVE and "inside a clock-skew window" in d.reason
    # a window that closed before the polls
    closed = observed([A], [B_FINE])
    stop = [event(2, "n invoke clock-skew-stop"), event(3, "n info clock-skew-stop")]
    closed = History([*closed.ops[:2], *stop, *closed.ops[2:]])
    for i, op in enumerate(closed.ops):
        op.index, op.time = i, i
    assert [w.end is not None for w in closed.fault_windows()] == [True]
    assert skewed_links(closed) == 0


def test_watermarks_are_compared_with_the_appends_of_their_own_partition() -> None:
    from pytest_sdconform.history import HistoryError

    # offset 5 of partition 1 says nothing of partition 0's watermark 1
    h = history(*appended(0), *appended(5), "2 invoke read -", "2 ok read - 1")
    for op in h.ops:
        if op.type == "ok" and op.f == "write":
            op.extra = {"offset": int(op.value) - 100, "partition": 0 if op.value == 100 else 1}
        elif op.type == "ok":
            op.extra = {"partition": 0}
    assert invisible_reads(h) == ([], 1)
    assert decide(h, {}, Visibility()).outcome == UPHELD
    # two appends acknowledged at one offset and no partition named: refused
    same = history(*appended(0), *appended(0), "2 invoke read -", "2 ok read - 1")
    with pytest.raises(HistoryError, match="several partitions"):
        invisible_reads(with_offsets(same))


def test_a_value_no_write_wrote_is_a_phantom_not_a_stale_read() -> None:
    from pytest_sdconform.backends.pipelines.judges import phantom_reads

    h = history(*W1, "2 invoke read a", "2 ok read a 7")
    assert stale_reads(h) == ([], 0)
    assert [r.value for r in phantom_reads(h)] == [7]
    for claim in ("immediate", "may-lag"):
        ruling = Freshness(claim).rule(h, {})
        assert ruling.outcome == REFUTED and "no write wrote" in ruling.reason
        assert [a.kind for a in ruling.anomalies] == ["phantom-read"]
