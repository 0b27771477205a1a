"""The caching backend's judges on synthetic histories: each one refuted, inconclusive
(not exercised) and upheld, and through ``outcome.decide``."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.caching.dns import TtlExpiry
from pytest_sdconform.backends.caching.judges import (
    FlushLoss,
    StaleWhileDown,
    WriteAround,
    ttl_bound,
)
from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.checkers.staleness import StalenessBound
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import Event, timed


def h(*events: Event) -> History:
    return timed(*events)


def v(n: int) -> dict[str, Any]:
    return {"version": n}


# --- ttl_bound ---------------------------------------------------------------------------------

# x=1 cached by a fill (0.5 s), x=2 committed at 3 s; reads of 1 at 3.5 s (0.5 s stale) and at
# 5 s (2 s stale).
TTL_HISTORY = h(
    "0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
    "1.5 2 invoke read x", ("2 2 ok read x 1", {"source": "miss", "fill_s": 0.5}),
    "2.5 1 invoke write x 2", ("3 1 ok write x 2", v(2)),
    "3.5 2 invoke read x", ("3.6 2 ok read x 1", {"source": "hit"}),
    "5 2 invoke read x", ("5.1 2 ok read x 1", {"source": "hit"}),
)


def test_ttl_bound_adds_the_longest_fill_and_granularity() -> None:
    bound, why = ttl_bound(1.0)(TTL_HISTORY)
    assert bound == 1.5 and "fill 0.500s" in why
    assert ttl_bound(1.0, 1.0)(TTL_HISTORY)[0] == 2.5


def test_ttl_bound_refutes_a_read_staler_than_ttl_plus_fill() -> None:
    judge = StalenessBound(ttl_bound(1.0), stale_expected=True)
    ruling = judge.rule(TTL_HISTORY, {})
    assert ruling.outcome == REFUTED
    assert [a.kind for a in ruling.anomalies] == ["stale-beyond-bound"]
    assert StalenessBound(ttl_bound(1.0, 1.0), stale_expected=True).rule(
        TTL_HISTORY, {}).outcome == UPHELD


# --- write-around ------------------------------------------------------------------------------

AROUND = h(
    "0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
    "2 2 invoke read x", ("3 2 ok read x 1", {"source": "miss"}),
    "4 1 invoke write x 2", ("5 1 ok write x 2", v(2)),
    "6 2 invoke read x", ("7 2 ok read x 1", {"source": "hit"}),
    "8 2 invoke read x", ("9 2 ok read x 2", {"source": "miss"}),
    "10 2 invoke read x", ("11 2 ok read x 2", {"source": "hit"}),
)


def test_write_around_upheld_when_each_value_is_first_served_by_a_miss() -> None:
    ruling = WriteAround().rule(AROUND, {})
    assert ruling.outcome == UPHELD
    assert "1 hits served the old value" in ruling.reason


def test_write_around_a_hit_concurrent_with_its_fill_is_explained() -> None:
    # The hit began first, but the fill began before the hit completed: its SET came first.
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
             "2 3 invoke read x", "2.5 2 invoke read x",
             ("3 3 ok read x 1", {"source": "hit"}), ("3.5 2 ok read x 1", {"source": "miss"}))
    assert WriteAround().rule(hist, {}).outcome == UPHELD


def test_write_around_refuted_by_a_hit_on_a_value_no_fill_fetched() -> None:
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
             "2 2 invoke read x", ("3 2 ok read x 1", {"source": "hit"}))
    ruling = WriteAround().rule(hist, {})
    assert ruling.outcome == REFUTED
    assert ruling.anomalies[0].kind == "cache-hit-before-fill"


def test_write_around_inconclusive_without_a_hit_on_a_written_value() -> None:
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
             "2 2 invoke read x", ("3 2 ok read x 1", {"source": "miss"}))
    assert not WriteAround().exercised(hist, {}).done
    assert decide(hist, {}, WriteAround()).outcome == INCONCLUSIVE


# --- write-back loss ---------------------------------------------------------------------------

def loss(ack_a: float, kill: float) -> History:
    """a acked at ``ack_a`` and b at 0.5 s; Redis killed at ``kill``; the final read of the
    database shows b only."""
    final = {"final": True}
    return h("0 1 invoke write b 2", "0.5 1 ok write b 2",
             f"{ack_a - 0.1} 1 invoke write a 1", f"{ack_a} 1 ok write a 1",
             f"{kill} n info kill-start", f"{kill + 1} n info kill-stop",
             (f"{kill + 3} 1 invoke read a", final), (f"{kill + 3.1} 1 ok read a null", final),
             (f"{kill + 3.2} 1 invoke read b", final), (f"{kill + 3.3} 1 ok read b 2", final))


def window(history: History) -> tuple[float, str]:
    return 1.2, "gap 1.0s + flush 0.2s"


def test_flush_loss_upheld_when_the_lost_write_was_inside_the_window() -> None:
    hist = loss(ack_a=4.0, kill=4.5)
    judge = FlushLoss(window)
    assert judge.exercised(hist, {}).done
    ruling = judge.rule(hist, {})
    assert ruling.outcome == UPHELD and "1 acknowledged writes lost" in ruling.reason


def test_flush_loss_refuted_by_a_write_lost_after_the_window() -> None:
    ruling = FlushLoss(window).rule(loss(ack_a=1.0, kill=4.5), {})
    assert ruling.outcome == REFUTED
    assert ruling.anomalies[0].kind == "lost-beyond-flush-window"


def test_flush_loss_inconclusive_when_nothing_was_lost() -> None:
    final = {"final": True}
    hist = h("0 1 invoke write b 2", "0.5 1 ok write b 2", "2 n info kill-start",
             "3 n info kill-stop", ("5 1 invoke read b", final), ("5.1 1 ok read b 2", final))
    assert not FlushLoss(window).exercised(hist, {}).done
    assert decide(hist, {}, FlushLoss(window), faults=["kill"]).outcome == INCONCLUSIVE


def test_flush_loss_counts_only_the_last_write_of_a_key() -> None:
    final = {"final": True}
    # b=1 overwritten by b=2 long before the crash: the database rightly shows 2
    hist = h("0 1 invoke write b 1", "0.5 1 ok write b 1", "0.8 1 invoke write b 2",
             "1.0 1 ok write b 2", "4.5 n info kill-start", "5.5 n info kill-stop",
             ("7 1 invoke read b", final), ("7.1 1 ok read b 2", final))
    assert FlushLoss(window)._lost(hist) == []
    assert decide(hist, {}, FlushLoss(window), faults=["kill"]).outcome == INCONCLUSIVE
    # two racing writes of c: either may be the one the database kept
    race = h("0 1 invoke write c 1", "0.2 2 invoke write c 2", "0.5 1 ok write c 1",
             "0.6 2 ok write c 2", "4.5 n info kill-start", "5.5 n info kill-stop",
             ("7 1 invoke read c", final), ("7.1 1 ok read c 1", final))
    assert FlushLoss(window)._lost(race) == []
    # the last write of a key, acknowledged and gone, is still lost
    gone = h("0 1 invoke write d 1", "0.5 1 ok write d 1", "3.9 1 invoke write d 2",
             "4.0 1 ok write d 2", "4.5 n info kill-start", "5.5 n info kill-stop",
             ("7 1 invoke read d", final), ("7.1 1 ok read d 1", final))
    assert [c.invoke.value for c in FlushLoss(window)._lost(gone)] == [2]
    assert FlushLoss(window).rule(gone, {}).outcome == UPHELD


# --- DNS TTL expiry ----------------------------------------------------------------------------

def dns_history(last_call: float) -> History:
    """i1 gone from 2 s to 8 s; requests to i1 at 2.5 s and at ``last_call``, one to i2."""
    hist = h("0 1 invoke read k", ("0.1 1 ok read k \"x\"", {"resolve_s": 0.1}),
             "2 n info dead-instance-start",
             "2.5 1 invoke read k", "2.6 1 fail read k",
             "3 2 invoke read k", "3.1 2 ok read k \"x\"",
             f"{last_call} 1 invoke read k", f"{last_call + 0.1} 1 fail read k",
             "8 n info dead-instance-stop")
    for op in hist.ops:
        if op.type == "fail":
            op.node = "i1"
        elif op.type == "ok":
            op.node = "i2"
    return hist


def test_dns_upheld_when_calls_to_the_dead_instance_stop_within_the_ttl() -> None:
    hist = dns_history(last_call=3.5)
    judge = TtlExpiry(2.0)
    assert judge.exercised(hist, {}).done
    ruling = judge.rule(hist, {})
    assert ruling.outcome == UPHELD and "TTL 2.0s + longest resolution 0.100s" in ruling.reason


def test_dns_refuted_by_a_call_to_the_dead_instance_after_the_ttl() -> None:
    ruling = TtlExpiry(2.0).rule(dns_history(last_call=5.0), {})
    assert ruling.outcome == REFUTED
    assert ruling.anomalies[0].kind == "dead-endpoint-after-ttl"


def test_dns_inconclusive_when_no_client_called_the_dead_instance() -> None:
    hist = h("0 1 invoke read k", "0.1 1 ok read k \"x\"", "2 n info dead-instance-start",
             "3 2 invoke read k", "3.1 2 ok read k \"x\"", "8 n info dead-instance-stop")
    for op in hist.ops:
        op.node = "i2" if op.type == "ok" else None
    assert not TtlExpiry(2.0).exercised(hist, {}).done
    assert decide(hist, {}, TtlExpiry(2.0), faults=["dead-instance"]).outcome == INCONCLUSIVE


# --- CDN stale while the origin is down ------------------------------------------------------

def outage(during: str | tuple[str, dict[str, Any]], late_fresh: bool = False) -> History:
    late = ("9.5 2 ok read x 1", {"source": "HIT"}) if late_fresh else \
        ("9.5 2 ok read x 2", {"source": "MISS", "fill_s": 0.1})
    return h("0 1 invoke write x 1", ("0.1 1 ok write x 1", v(1)),
             "0.5 2 invoke read x", ("0.6 2 ok read x 1", {"source": "MISS", "fill_s": 0.1}),
             "1 1 invoke write x 2", ("1.1 1 ok write x 2", v(2)),
             "2 n info pause-start", "5 2 invoke read x", during, "6 n info pause-stop",
             "9 2 invoke read x", late)


def bound(history: History) -> tuple[float, str]:
    return 2.1, "TTL 1s + 1s + fill 0.1s"


def test_stale_while_down_upheld_when_the_edge_answers_stale() -> None:
    hist = outage(("5.1 2 ok read x 1", {"source": "STALE"}))
    judge = StaleWhileDown(bound)
    assert judge.exercised(hist, {}).done
    assert judge.rule(hist, {}).outcome == UPHELD


def test_stale_while_down_refuted_by_a_failed_read_of_a_cached_object() -> None:
    ruling = StaleWhileDown(bound).rule(outage("5.5 2 fail read x"), {})
    assert ruling.outcome == REFUTED
    assert ruling.anomalies[0].kind == "unavailable-while-cached"


def test_stale_while_down_refuted_by_a_stale_read_beyond_the_ttl_not_marked_stale() -> None:
    hist = outage(("5.1 2 ok read x 1", {"source": "STALE"}), late_fresh=True)
    ruling = StaleWhileDown(bound).rule(hist, {})
    assert ruling.outcome == REFUTED
    assert [a.kind for a in ruling.anomalies] == ["stale-beyond-bound"]


def test_stale_while_down_inconclusive_without_a_stale_answer() -> None:
    hist = outage(("5.1 2 ok read x 2", {"source": "MISS"}))
    assert not StaleWhileDown(bound).exercised(hist, {}).done
    assert decide(hist, {}, StaleWhileDown(bound), faults=["pause"]).outcome == INCONCLUSIVE
