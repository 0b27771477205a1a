"""The judges of Redis's application patterns (``backends/redis/app_judges.py``) on synthetic
histories: each upholds a golden history, refutes a violating one with the operations as
evidence, and says when a history did not exercise it; and the workloads' shapes."""

from __future__ import annotations

import random

import pytest

from pytest_sdconform.backends.redis.app_judges import (
    ExpiredNeverServed,
    HandedOutOnce,
    LeaderboardMatches,
    ProcessedOnce,
    lock_contended,
)
from pytest_sdconform.backends.redis.apps import Crawl, Expiring, Locks
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed


def final(h: History, *indices: int) -> History:
    for i in indices:
        h.ops[i].extra = {**(h.ops[i].extra or {}), "final": True}
    return h


def failover(h: History) -> History:
    """Acknowledged by n1 before the first fault window, by n2 (promoted) after it."""
    start = next(op.time for op in h.ops if op.process == "nemesis")
    for op in h.ops:
        if op.type == "ok":
            op.node = "n1" if op.time < start else "n2"
    return h


def ttl(h: History, ms: float, *indices: int) -> History:
    for i in indices:
        h.ops[i].extra = {**(h.ops[i].extra or {}), "ttl_ms": ms}
    return h


# --- leaderboard ---------------------------------------------------------------------------

def board(*reads: str, lost: bool = False) -> History:
    score = '[["p1", 1]]' if lost else '[["p1", 2], ["p2", 1]]'
    h = timed('0.0 1 invoke incr board:0 ["p1", 1]', '0.1 1 ok incr board:0 ["p1", 1]',
              '0.2 2 invoke incr board:0 ["p2", 1]', *reads,
              '0.3 2 ok incr board:0 ["p2", 1]',
              '0.4 1 invoke incr board:0 ["p1", 1]', '0.5 1 ok incr board:0 ["p1", 1]',
              "1.0 1 invoke read board:0", f"1.1 1 ok read board:0 {score}")
    return final(h, len(h.ops) - 2, len(h.ops) - 1)


def test_leaderboard_matching_the_model_is_upheld() -> None:
    h = board("0.21 3 invoke read board:0", '0.22 3 ok read board:0 [["p1", 1]]')
    d = decide(h, {}, LeaderboardMatches())
    assert d.outcome == "upheld" and d.exercised, d.reason


def test_leaderboard_read_behind_acknowledged_points_is_stale() -> None:
    h = board("0.21 3 invoke read board:0", "0.22 3 ok read board:0 []")
    d = decide(h, {}, LeaderboardMatches())
    assert d.outcome == "refuted" and "1 stale-score" in d.reason
    assert d.anomalies[0]["ops"] == [3, 4]


def test_leaderboard_losing_acknowledged_points_is_refuted() -> None:
    h = board("0.21 3 invoke read board:0", '0.22 3 ok read board:0 [["p1", 1]]', lost=True)
    d = decide(h, {}, LeaderboardMatches())
    assert d.outcome == "refuted" and "lost-points" in d.reason and "ranks shown" in d.reason


def test_leaderboard_phantom_points_are_refuted() -> None:
    h = board("0.21 3 invoke read board:0", '0.22 3 ok read board:0 [["p1", 5]]')
    assert "phantom-score" in decide(h, {}, LeaderboardMatches()).reason


def test_leaderboard_without_concurrent_reads_is_not_exercised() -> None:
    d = decide(board(), {}, LeaderboardMatches())
    assert d.outcome == "inconclusive" and not d.exercised


# --- dedup ---------------------------------------------------------------------------------

def crawl(second: str) -> History:
    return failover(timed("0.0 1 invoke visit u1", "0.1 1 ok visit u1 true",
                 "0.2 2 invoke visit u1", "0.3 2 ok visit u1 false",
                 "1.0 n info pause-start", "2.0 n info pause-stop",
                 "2.1 3 invoke visit u1", f"2.2 3 ok visit u1 {second}"))


def test_duplicates_caught_across_a_fault_are_upheld() -> None:
    d = decide(crawl("false"), {}, ProcessedOnce("pause"), faults=["pause"])
    assert d.outcome == "upheld" and d.exercised, d.reason


def test_a_url_processed_twice_is_refuted() -> None:
    d = decide(crawl("true"), {}, ProcessedOnce("pause"), faults=["pause"])
    assert d.outcome == "refuted" and "1 of 1 URLs processed more than once" in d.reason
    assert d.anomalies[0]["kind"] == "processed-twice" and d.anomalies[0]["ops"] == [0, 1, 6, 7]


def test_no_reoffer_after_the_fault_is_not_exercised() -> None:
    h = timed("0.0 1 invoke visit u1", "0.1 1 ok visit u1 true",
              "0.2 2 invoke visit u1", "0.3 2 ok visit u1 false",
              "1.0 n info pause-start", "2.0 n info pause-stop")
    d = decide(h, {}, ProcessedOnce("pause"), faults=["pause"])
    assert d.outcome == "inconclusive" and "re-offer" in d.reason


# --- IDs -----------------------------------------------------------------------------------

def ids(after: int | str) -> History:
    return failover(timed("0.0 1 invoke take ids", "0.1 1 ok take ids 1",
                 "0.2 2 invoke take ids", "0.3 2 ok take ids 2",
                 "1.0 n info pause-start", "2.0 n info pause-stop",
                 "2.1 3 invoke take ids", f"2.2 3 ok take ids {after}"))


def test_unique_ids_are_upheld() -> None:
    d = decide(ids(3), {}, HandedOutOnce("pause"), faults=["pause"])
    assert d.outcome == "upheld" and d.exercised, d.reason


def test_an_id_handed_out_twice_is_refuted() -> None:
    d = decide(ids(2), {}, HandedOutOnce("pause"), faults=["pause"])
    assert d.outcome == "refuted" and d.anomalies[0]["kind"] == "duplicate-id"
    assert d.anomalies[0]["ops"] == [2, 3, 6, 7]


def test_an_id_that_is_not_an_integer_is_refused() -> None:
    with pytest.raises(ValueError, match="index 6 returned 'x'"):
        HandedOutOnce().rule(ids('"x"'), {})


# --- TTL -----------------------------------------------------------------------------------

def cache(*reads: str) -> History:
    return ttl(timed("0.0 1 invoke setex ttl:0 7", "0.1 1 ok setex ttl:0 7", *reads), 200, 1)


def test_expired_keys_gone_and_live_ones_served_are_upheld() -> None:
    h = cache("0.15 2 invoke read ttl:0", "0.16 2 ok read ttl:0 7",
              "0.5 2 invoke read ttl:0", "0.51 2 ok read ttl:0 null")
    d = decide(h, {}, ExpiredNeverServed())
    assert d.outcome == "upheld" and d.exercised and "1 reads after expiry" in d.reason


def test_an_expired_key_served_is_refuted() -> None:
    h = cache("0.5 2 invoke read ttl:0", "0.51 2 ok read ttl:0 7",
              "0.6 2 invoke read ttl:0", "0.61 2 ok read ttl:0 null")
    d = decide(h, {}, ExpiredNeverServed())
    assert d.outcome == "refuted" and d.anomalies[0]["kind"] == "served-expired"
    assert "200.0 ms after" in d.anomalies[0]["explanation"]


def test_a_key_gone_before_its_ttl_is_refuted() -> None:
    h = cache("0.15 2 invoke read ttl:0", "0.16 2 ok read ttl:0 null",
              "0.5 2 invoke read ttl:0", "0.51 2 ok read ttl:0 null")
    d = decide(h, {}, ExpiredNeverServed())
    assert d.outcome == "refuted" and d.anomalies[0]["kind"] == "gone-early"
    # From a replica, a key not there yet may be replication lag: not this judge's matter.
    assert decide(h, {}, ExpiredNeverServed(early=False)).outcome == "upheld"


def test_a_read_within_the_resolution_is_not_expired() -> None:
    h = cache("0.3005 2 invoke read ttl:0", "0.31 2 ok read ttl:0 7",
              "0.5 2 invoke read ttl:0", "0.51 2 ok read ttl:0 null")
    assert decide(h, {}, ExpiredNeverServed()).outcome == "upheld"


def test_no_read_after_expiry_is_not_exercised() -> None:
    h = cache("0.15 2 invoke read ttl:0", "0.16 2 ok read ttl:0 7")
    assert decide(h, {}, ExpiredNeverServed()).outcome == "inconclusive"


def test_a_write_without_a_ttl_is_refused() -> None:
    h = timed("0.0 1 invoke setex ttl:0 7", "0.1 1 ok setex ttl:0 7",
              "0.5 2 invoke read ttl:0", "0.51 2 ok read ttl:0 7")
    with pytest.raises(ValueError, match="index 0: no positive ttl_ms"):
        ExpiredNeverServed().rule(h, {})


# --- locks ---------------------------------------------------------------------------------

def test_a_contended_lock_is_exercised_and_an_uncontended_one_is_not() -> None:
    h = timed('0.0 1 invoke acquire L "a"', '0.1 1 ok acquire L "a"',
              '0.2 2 invoke acquire L "b"', '0.3 2 fail acquire L "b"',
              "0.4 1 invoke release L", "0.5 1 ok release L",
              '0.6 2 invoke acquire L "c"', '0.7 2 ok acquire L "c"')
    assert lock_contended()(h, {}).done
    alone = timed('0.0 1 invoke acquire L "a"', '0.1 1 ok acquire L "a"')
    assert not lock_contended()(alone, {}).done


def test_workload_shapes() -> None:
    locks, rng = Locks(keys=2), random.Random(1)
    ops = [locks.next_op(rng) for _ in range(6)]
    assert [o.f for o in ops] == ["acquire", "work", "release"] * 2
    assert ops[0].key == ops[1].key == ops[2].key and ops[0].value != ops[3].value
    other = locks.next_op(random.Random(2))
    assert other.f == "acquire"  # each worker keeps its own cycle
    urls = [Crawl(recent=5).next_op(random.Random(3)).key for _ in range(3)]
    assert urls == ["u0", "u0", "u0"]  # three separate crawls each start at u0
    assert {Expiring(write_ratio=1.0).next_op(random.Random(4)).f} == {"setex"}


def test_a_fault_without_a_failover_is_not_exercised() -> None:
    h = crawl("false")
    for op in h.ops:
        op.node = "n1" if op.type == "ok" else None
    d = decide(h, {}, ProcessedOnce("pause"), faults=["pause"])
    assert d.outcome == "inconclusive" and "no failover happened" in d.reason
