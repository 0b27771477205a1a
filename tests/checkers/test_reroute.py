"""RoutedAround: a failed server is routed around within a detection bound."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.checkers.reroute import RoutedAround, victims_named
from pytest_sdconform.history import NEMESIS, Completed, FaultWindow, History, Operation
from pytest_sdconform.outcome import decide

Via = Callable[[int, float], Sequence[str]]  # (request number, time) -> servers tried


def routes(c: Completed) -> list[str]:
    return list(c.completion.get("via", [])) if c.completion is not None else []


def history(via: Via, fault: tuple[float, float] | None = (2.0, 9.5), victim: str = "a1",
            until: float = 11.0, step: float = 0.05, fails: Callable[[float], bool] | None = None,
            name: str = "pause") -> History:
    """Four clients, one request each every ``step`` seconds (10 ms long), routed by ``via``;
    ``fault``: the window in which ``victim`` was broken."""
    events: list[tuple[float, dict[str, Any]]] = []
    n = itertools.count()
    for p in range(4):
        t = p * step / 4
        while t < until:
            i = next(n)
            tried = list(via(i, t))
            ok = not (fails and fails(t))
            events.append((t, {"process": p, "type": "invoke", "f": "read", "key": "k"}))
            events.append((t + 0.01, {"process": p, "type": "ok" if ok else "fail", "f": "read",
                                      "key": "k", "node": tried[-1] if ok else None,
                                      "extra": {"via": tried}}))
            t += step
    if fault is not None:
        events.append((fault[0], {"process": NEMESIS, "type": "info", "f": f"{name}-start",
                                  "value": {"nodes": [victim]}}))
        events.append((fault[1], {"process": NEMESIS, "type": "info", "f": f"{name}-stop"}))
    events.sort(key=lambda e: e[0])
    return History([Operation(i, int(t * 1e9), **e) for i, (t, e) in enumerate(events)])


def judge(**kw: Any) -> RoutedAround:
    args: dict[str, Any] = {"fault": "pause", "detect_s": 1.5, "routes": routes, "servers": 2,
                            "reprobe_s": 2.0, "probes": 1}
    return RoutedAround(**{**args, **kw})


def ejects(start: float = 2.0, end: float = 9.5, detected: float = 3.0,
           probes: Sequence[float] = (5.0, 7.5)) -> Via:
    """A balancer that stops choosing a1 once it timed out on it, and tries it again once at
    each of ``probes`` (the request after that time)."""
    pending = sorted(probes)

    def via(i: int, t: float) -> list[str]:
        first = "a1" if i % 2 else "a2"
        if not start <= t < end:
            return [first]
        if t < detected:
            return ["a1", "a2"] if first == "a1" else ["a2"]
        if pending and t >= pending[0]:
            pending.pop(0)
            return ["a1", "a2"]
        return ["a2"]

    return via


def never_ejects(start: float = 2.0, end: float = 9.5) -> Via:
    """Round robin throughout: half the requests go to the paused a1 (and are retried)."""
    return lambda i, t: ["a1", "a2"] if i % 2 and start <= t < end else ["a1" if i % 2 else "a2"]


def test_a_balancer_that_keeps_sending_to_the_paused_server_is_refuted() -> None:
    h = history(never_ejects())
    ruling = judge().rule(h, {})
    assert ruling.outcome == REFUTED and "a1" in ruling.reason
    assert ruling.anomalies and {a.kind for a in ruling.anomalies} == {"routed-to-failed-server"}
    d = decide(h, {}, judge(), faults=["pause"])
    assert d.outcome == REFUTED and d.attributed
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_a_balancer_that_ejects_the_server_and_retries_it_now_and_then_is_upheld() -> None:
    h = history(ejects())
    d = decide(h, {}, judge(), faults=["pause"])
    assert d.outcome == UPHELD, d.reason
    assert d.exercised and "re-tries allowed: 4" in d.reason


def test_re_tries_beyond_what_the_re_probe_period_allows_are_refuted() -> None:
    h = history(ejects(probes=(4.0, 4.5, 5.0, 5.5, 6.0)))
    assert judge().rule(h, {}).outcome == REFUTED
    assert judge(reprobe_s=None).rule(history(ejects()), {}).outcome == REFUTED


def test_a_fault_shorter_than_the_bound_plus_a_margin_is_not_exercised() -> None:
    """The old pause (2 s) against a 1.5 s bound: even a balancer that never ejects the server
    sends it little after the bound, so upheld cannot be trusted."""
    h = history(ejects(end=4.0), fault=(2.0, 4.0))
    j = judge()
    assert j.rule(h, {}).outcome == UPHELD
    d = decide(h, {}, j, faults=["pause"])
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason and "past the detection" \
        in d.reason


def test_no_request_routed_to_the_broken_server_is_not_exercised() -> None:
    h = history(lambda i, t: ["a2"])
    d = decide(h, {}, judge(), faults=["pause"])
    assert d.outcome == INCONCLUSIVE and "nothing to route around" in d.reason


def test_too_few_requests_after_the_bound_is_not_exercised() -> None:
    h = history(ejects(), step=4.0)
    ex = judge().exercised(h, {})
    assert not ex.done


def test_nothing_served_after_the_bound_is_refuted() -> None:
    h = history(ejects(), fails=lambda t: 3.5 <= t < 9.5)
    ruling = judge().rule(h, {})
    assert ruling.outcome == REFUTED and "not rerouted" in ruling.reason


def test_no_fault_is_inconclusive() -> None:
    h = history(ejects(), fault=None)
    assert judge().rule(h, {}).outcome == INCONCLUSIVE
    assert not judge().exercised(h, {}).done


@pytest.mark.parametrize("value, victims", [
    ({"nodes": ["a1"]}, {"a1"}),
    ({"shape": "isolate", "groups": [["a2"], ["lb", "a1", "r1"]]}, {"a2"}),
    ({"shape": "halves", "groups": [["a1", "lb"], ["a2"]]}, set()),
    (None, set()),
])
def test_victims_come_from_the_fault_record(value: Any, victims: set[str]) -> None:
    assert victims_named(FaultWindow("x", 0, 1, 0, 1, value)) == victims
