"""NPlusOne: with a spare server a kill costs no request; without one, every kill misses some."""

from __future__ import annotations

from pytest_sdconform.checkers.capacity import NPlusOne
from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.outcome import decide
from tests.compact import timed

KILL = ("n info kill-start", "n info kill-stop")


def kills(*windows: list[str]) -> list[str]:
    """Two kills, at 1-3 s and 5-7 s, with the given requests inside each (``"t p type"``:
    a read invoked at t, answered 0.1 s later)."""
    events = ["0.5 1 invoke read x", "0.6 1 ok read x 1"]
    for (start, stop), inside in zip(((1.0, 3.0), (5.0, 7.0)), windows, strict=True):
        events.append(f"{start} {KILL[0]}")
        for req in inside:
            t, p, typ = req.split()
            events += [f"{t} {p} invoke read x", f"{float(t) + 0.1:.2f} {p} {typ} read x"]
        events.append(f"{stop} {KILL[1]}")
    return events


def test_a_failure_with_a_spare_server_refutes() -> None:
    h = timed(*kills(["1.5 1 ok", "1.6 2 fail"], ["5.5 1 ok"]))
    d = decide(h, {}, NPlusOne(spare=True), faults=["kill"])
    assert d.outcome == REFUTED and d.attributed
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_no_failure_with_a_spare_server_upholds() -> None:
    h = timed(*kills(["1.5 1 ok", "1.6 2 ok"], ["5.5 1 ok"]))
    assert decide(h, {}, NPlusOne(spare=True), faults=["kill"]).outcome == UPHELD


def test_a_kill_with_no_request_inside_is_not_exercised() -> None:
    """The old judge upheld this: nothing was asked of the pool while it was short a server."""
    h = timed(*kills(["1.5 1 ok"], []))
    j = NPlusOne(spare=True)
    assert j.rule(h, {}).outcome == UPHELD
    d = decide(h, {}, j, faults=["kill"])
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason
    d = decide(h, {}, NPlusOne(spare=False), faults=["kill"])
    assert d.outcome != UPHELD


def test_too_few_requests_in_a_kill_is_not_exercised() -> None:
    h = timed(*kills(["1.5 1 ok"], ["5.5 1 ok", "5.6 2 ok"]))
    d = decide(h, {}, NPlusOne(spare=True, min_requests=2), faults=["kill"])
    assert d.outcome == INCONCLUSIVE


def test_without_a_spare_every_kill_must_miss_requests() -> None:
    missed = timed(*kills(["1.5 1 ok", "1.6 2 fail"], ["5.5 1 fail"]))
    assert decide(missed, {}, NPlusOne(spare=False), faults=["kill"]).outcome == UPHELD
    free = timed(*kills(["1.5 1 ok", "1.6 2 fail"], ["5.5 1 ok"]))
    d = decide(free, {}, NPlusOne(spare=False), faults=["kill"])
    assert d.outcome == REFUTED and d.attributed and "cost nothing" in d.reason


def test_requests_answered_after_the_heal_do_not_count() -> None:
    h = timed("0.5 n info kill-start", "1.0 1 invoke read x", "2.5 n info kill-stop",
              "2.6 1 fail read x")
    d = decide(h, {}, NPlusOne(spare=True), faults=["kill"])
    assert d.outcome == INCONCLUSIVE
