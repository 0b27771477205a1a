"""TakesOver on synthetic histories: requests routed to the old master after the bound refute,
a takeover the fault saw had not happened by the bound refutes, an unwatched takeover is not
exercised, a timely one upholds; Watched records what its polls saw in the heal record."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from pytest_sdconform.backends import vip
from pytest_sdconform.backends.vip import faults as vip_faults
from pytest_sdconform.history import NEMESIS, Completed, History, Operation
from pytest_sdconform.outcome import decide

MASTER_DOWN = 3.609
BOUND = vip.takeover_bound_s(MASTER_DOWN, 1)


def routes(c: Completed) -> list[str]:
    return list(c.completion.get("routes") or []) if c.completion is not None else []


def history(switch_s: float, seen: dict[str, Any] | None, start: float = 1.0,
            length: float = 6.6, until: float = 9.0) -> History:
    """Three clients, a request every 50 ms each; requests invoked before ``switch_s`` into the
    link-down go to lb1 (and fail while it is down), later ones to lb2; ``seen``: what the
    fault watched (its heal record's ``observed``)."""
    events: list[tuple[float, dict[str, Any]]] = []
    n = itertools.count()
    for p in range(3):
        t = p * 0.017
        while t < until:
            down = start <= t < start + length
            machine = "lb1" if not down or t < start + switch_s else "lb2"
            ok = not (down and machine == "lb1")
            events.append((t, {"process": p, "type": "invoke", "f": "read", "key": "k"}))
            events.append((t + 0.01, {"process": p, "type": "ok" if ok else "fail", "f": "read",
                                      "key": "k", "node": machine if ok else None,
                                      "extra": {"routes": [machine]}}))
            t += 0.05
            next(n)
    events.append((start - 0.01, {"process": NEMESIS, "type": "invoke", "f": "link-down-start"}))
    events.append((start, {"process": NEMESIS, "type": "info", "f": "link-down-start",
                           "value": {"nodes": ["lb1"], "links": ["veth"]}}))
    events.append((start + length, {"process": NEMESIS, "type": "info", "f": "link-down-stop"}))
    healed: dict[str, Any] = {"up": ["lb1"]}
    if seen is not None:
        healed["observed"] = seen
    events.append((start + length + 0.005, {"process": NEMESIS, "type": "info",
                                            "f": "link-down-healed", "value": healed}))
    events.sort(key=lambda e: e[0])
    return History([Operation(i, int(t * 1e9), **e) for i, (t, e) in enumerate(events)])


def judge() -> vip.TakesOver:
    return vip.TakesOver("link-down", BOUND, MASTER_DOWN, routes)


def watched(not_taken: float | None, took: float | None) -> dict[str, Any]:
    return {"takeover": {"not_before_s": not_taken, "after_s": took, "polls": 100},
            "arp": {"not_before_s": not_taken, "after_s": took, "polls": 100}}


def test_a_timely_takeover_upholds_and_says_when_it_came() -> None:
    d = decide(history(3.6, watched(3.55, 3.6)), {}, judge(), faults=["link-down"])
    assert d.outcome == "upheld", d.reason
    assert "took the VIP at worst 3.60s" in d.reason


def test_requests_still_sent_to_the_old_master_after_the_bound_refute() -> None:
    h = history(5.0, watched(3.55, 3.6))  # the traffic did not follow the takeover
    ruling = judge().rule(h, {})
    assert ruling.outcome == "refuted", ruling.reason
    assert {a.kind for a in ruling.anomalies} == {"routed-to-failed-server"}
    assert decide(h, {}, judge(), faults=["link-down"]).outcome == "refuted"


def test_a_takeover_seen_missing_after_the_bound_refutes() -> None:
    # The traffic moved in time (say by an ARP of its own), but the backup had no VIP at 5.0 s.
    for took in (5.1, None):
        ruling = judge().rule(history(3.6, watched(5.0, took)), {})
        assert ruling.outcome == "refuted", ruling.reason
        assert [a.kind for a in ruling.anomalies] == ["late-takeover"]


def test_a_poll_that_began_before_the_bound_does_not_refute() -> None:
    d = decide(history(3.6, watched(BOUND - 0.01, BOUND + 0.4)), {}, judge(),
               faults=["link-down"])
    assert d.outcome == "upheld", d.reason


def test_an_unwatched_takeover_is_not_exercised() -> None:
    for seen in (None, {"takeover": {"polls": 0}}, {"arp": {"after_s": 1.0, "polls": 3}}):
        d = decide(history(3.6, seen), {}, judge(), faults=["link-down"])
        assert d.outcome == "inconclusive"
        assert "not watched" in d.reason


def test_the_bound_needs_positive_settings() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        vip.takeover_bound_s(0.0, 1)
    assert vip.takeover_bound_s(3.609375, 1) == pytest.approx(4.609375)


class _Fault:
    name = "link-down"

    def start(self) -> dict[str, Any]:
        return {"nodes": ["lb1"]}

    def stop(self) -> dict[str, Any]:
        return {"up": ["lb1"]}


def test_watched_records_the_takeover_and_the_arp_its_polls_saw(
        monkeypatch: pytest.MonkeyPatch) -> None:
    info: Any = type("Info", (), {})()
    info.network = type("Net", (), {"machines": {"lb1": "ns1", "lb2": "ns2"}})()
    info.macs = {"aa": "lb1", "bb": "lb2"}
    info.vip = "10.0.0.9"
    polls = itertools.count()
    monkeypatch.setattr(vip_faults, "holds", lambda i, m: m == "lb2" and next(polls) >= 3)
    monkeypatch.setattr(vip_faults, "resolved", lambda v: "bb")
    fault = vip.watched(_Fault(), info, every_s=0.001)
    assert fault.name == "link-down"
    assert fault.start() == {"nodes": ["lb1"]}
    time.sleep(0.2)
    out = fault.stop()
    assert out["up"] == ["lb1"]
    took, arp = out["observed"]["takeover"], out["observed"]["arp"]
    assert took["polls"] == 4
    assert 0 <= took["not_before_s"] <= took["after_s"]
    assert arp["after_s"] is not None and arp["polls"] == 1
    with pytest.raises(ValueError, match="no machine"):
        vip.watched(_Fault(), info, backup="lb3")
