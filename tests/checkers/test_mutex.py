"""Mutual exclusion of leases: golden histories (one holder at a time, leases handed over by
release and by expiry) and violating ones (two holders at once), plus bad input."""

from __future__ import annotations

import pytest

from pytest_sdconform.checkers.mutex import MutexChecker, check_mutual_exclusion, holds
from pytest_sdconform.history import History
from tests.compact import timed


def with_ttl(h: History, ttl_ms: float, *indices: int) -> History:
    for i in indices:
        h.ops[i].extra = {**(h.ops[i].extra or {}), "ttl_ms": ttl_ms}
    return h


def test_one_holder_at_a_time_is_valid() -> None:
    h = timed("0.0 1 invoke acquire L \"a\"", "0.1 1 ok acquire L \"a\"",
              "0.2 2 invoke acquire L \"b\"", "0.3 2 fail acquire L \"b\"",
              "0.5 1 invoke release L \"a\"", "0.6 1 ok release L \"a\"",
              "0.7 2 invoke acquire L \"c\"", "0.8 2 ok acquire L \"c\"",
              "0.9 2 invoke release L \"c\"", "1.0 2 ok release L \"c\"")
    v = check_mutual_exclusion(h)
    assert v.result == "valid"
    assert v.details["holds"] == 2 and v.details["contended"] == 1
    assert v.details["ended_by"]["release"] == 2


def test_two_holders_at_once_are_an_anomaly() -> None:
    h = timed("0.0 1 invoke acquire L \"a\"", "0.1 1 ok acquire L \"a\"",
              "0.2 2 invoke acquire L \"b\"", "0.3 2 ok acquire L \"b\"",
              "0.5 1 invoke release L \"a\"", "0.6 1 ok release L \"a\"",
              "0.9 2 invoke release L \"b\"", "1.0 2 ok release L \"b\"")
    v = check_mutual_exclusion(h)
    assert v.result == "invalid"
    [a] = v.anomalies
    assert a.kind == "two-holders" and a.key == "L"
    assert a.ops == [0, 1, 2, 3, 4, 6]  # both acquires and both releases
    assert "200.0 ms" in a.explanation
    assert v.details["overlaps"] == 1 and v.details["longest_overlap_ms"] == 200.0


def test_a_lease_ends_at_the_holders_own_deadline() -> None:
    # Process 1 never releases; its 300 ms lease, counted from when it asked, ends at 0.3 s,
    # before process 2 acquires at 0.45 s: a hand-over by expiry, not two holders.
    h = with_ttl(timed("0.0 1 invoke acquire L \"a\"", "0.1 1 ok acquire L \"a\"",
                       "0.4 2 invoke acquire L \"b\"", "0.45 2 ok acquire L \"b\""),
                 300, 0)
    v = check_mutual_exclusion(h)
    assert v.result == "valid" and v.details["ended_by"]["lease"] == 1
    [first, _] = sorted(holds(h), key=lambda x: x.start)
    assert first.end == int(0.3e9) and first.ended_by == "lease"


def test_a_lease_granted_again_before_its_deadline_is_two_holders() -> None:
    # The server let the lease go early (a failover, a clock jump): 2 holds it at 0.2 s while
    # 1's 500 ms lease still runs.
    h = with_ttl(timed("0.0 1 invoke acquire L \"a\"", "0.1 1 ok acquire L \"a\"",
                       "0.15 2 invoke acquire L \"b\"", "0.2 2 ok acquire L \"b\""),
                 500, 0, 2)
    v = check_mutual_exclusion(h)
    assert v.result == "invalid" and v.anomalies[0].kind == "two-holders"
    assert "lease" in v.anomalies[0].explanation


def test_unknown_and_refused_acquires_hold_nothing() -> None:
    h = timed("0.0 1 invoke acquire L \"a\"", "0.1 1 info acquire L \"a\"",
              "0.2 2 invoke acquire L \"b\"", "0.3 2 ok acquire L \"b\"",
              "0.4 3 invoke acquire L \"c\"", "0.5 3 fail acquire L \"c\"")
    v = check_mutual_exclusion(h)
    assert v.result == "valid" and v.details["holds"] == 1
    assert v.details["ended_by"]["end of history"] == 1


def test_different_locks_do_not_exclude_each_other() -> None:
    h = timed("0.0 1 invoke acquire L \"a\"", "0.1 1 ok acquire L \"a\"",
              "0.2 2 invoke acquire M \"b\"", "0.3 2 ok acquire M \"b\"")
    assert check_mutual_exclusion(h).result == "valid"


def test_no_hold_is_unknown() -> None:
    h = timed("0.0 1 invoke acquire L \"a\"", "0.1 1 fail acquire L \"a\"")
    v = MutexChecker().check(h)
    assert v.result == "unknown" and "no acquire succeeded" in v.reason


def test_a_bad_lease_is_refused_with_its_index() -> None:
    h = with_ttl(timed("0.0 1 invoke acquire L \"a\"", "0.1 1 ok acquire L \"a\""), -5, 0)
    with pytest.raises(ValueError, match="index 0: ttl_ms must be a positive"):
        check_mutual_exclusion(h)
