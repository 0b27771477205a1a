"""Availability under faults: constructed histories with explicit times, and properties."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.availability import AvailabilityChecker, check_availability
from pytest_sdconform.history import History, Operation

MS = 1_000_000


def hist(*rows: tuple[Any, ...]) -> History:
    """Rows are (ms, process, type, f); the nemesis is process "nemesis"."""
    return History([Operation(i, ms * MS, p, typ, f) for i, (ms, p, typ, f) in enumerate(rows)])


def op(p: int, f: str, start: int, end: int, outcome: str = "ok") -> list[tuple[Any, ...]]:
    return [(start, p, "invoke", f), (end, p, outcome, f)]


def fault(ms: int, edge: str, name: str = "partition") -> tuple[Any, ...]:
    return (ms, "nemesis", "info", f"{name}-{edge}")


def test_without_faults_only_outside_stats_are_reported() -> None:
    v = check_availability(hist(*op(1, "read", 0, 10), *op(1, "write", 10, 30, "fail")))
    assert v.result == "valid", v.reason
    d = v.details
    assert d["during_faults"] is None and d["vacuous"] is None
    assert d["outside_faults"]["ok"] == 1 and d["outside_faults"]["fail"] == 1
    assert d["outside_faults"]["success_ratio"] == 0.5
    assert d["by_f"]["read"]["outside_faults"]["p50_ms"] == 10.0
    assert d["by_f"]["read"]["during_faults"] is None
    assert d["outside_faults"]["throughput_ok_per_s"] == 1 / 0.030
    json.dumps(v.to_json())


def test_an_op_is_during_faults_when_invoked_inside_a_window() -> None:
    h = hist(
        *op(1, "read", 0, 20),  # invoked before the fault, completes inside: outside
        fault(10, "start"),
        *op(1, "read", 20, 30),  # inside
        *op(1, "write", 30, 40, "info"),  # inside
        fault(50, "stop"),
        *op(1, "write", 60, 70),
    )
    v = check_availability(h)
    assert v.result == "valid"
    d = v.details
    assert (d["during_faults"]["ok"], d["during_faults"]["info"]) == (1, 1)
    assert d["outside_faults"]["ok"] == 2
    assert d["by_f"]["write"]["vacuous"] is True
    assert d["by_f"]["read"]["vacuous"] is False
    assert d["vacuous"] is False
    assert d["fault_time_s"] == 0.040
    assert d["during_faults"]["throughput_ok_per_s"] == 1 / 0.040


def test_nothing_succeeding_during_the_faults_is_vacuous() -> None:
    h = hist(*op(1, "write", 0, 5), fault(10, "start"), *op(1, "write", 10, 20, "fail"),
             fault(30, "stop"), *op(1, "write", 40, 45))  # fmt: skip
    v = check_availability(h)
    assert v.result == "unknown"
    assert v.reason == "vacuous: no operation succeeded during the faults"
    assert v.details["vacuous"] is True


def test_faults_with_no_client_op_inside_are_vacuous() -> None:
    h = hist(*op(1, "read", 0, 5), fault(10, "start"), fault(20, "stop"), *op(1, "read", 30, 35))
    assert check_availability(h).reason.startswith("vacuous")


def test_a_low_success_ratio_during_faults_breaks_the_requirement() -> None:
    h = hist(fault(0, "start"), *op(1, "read", 1, 2), *op(1, "read", 3, 4, "fail"),
             *op(1, "read", 5, 6, "fail"), fault(10, "stop"))  # fmt: skip
    assert check_availability(h, min_success_ratio=0.3).result == "valid"
    v = check_availability(h, min_success_ratio=0.5)
    assert [(a.kind, a.ops) for a in v.anomalies] == [("low-availability", [0, 7])]


def test_failing_everything_during_faults_with_a_ratio_required_is_invalid_not_vacuous() -> None:
    h = hist(fault(0, "start"), *op(1, "read", 1, 2, "fail"), fault(10, "stop"))
    assert check_availability(h, min_success_ratio=0.1).anomaly_kinds == ["low-availability"]


def test_without_faults_the_ratio_is_judged_over_the_run() -> None:
    h = hist(*op(1, "read", 0, 1, "fail"), *op(1, "read", 1, 2))
    v = check_availability(h, min_success_ratio=0.9)
    assert [(a.kind, a.ops) for a in v.anomalies] == [("low-availability", [])]


def test_the_longest_stretch_without_success_breaks_max_unavailable() -> None:
    h = hist(*op(1, "write", 0, 10), fault(10, "start"), *op(1, "write", 10, 400, "info"),
             *op(2, "write", 400, 500), fault(600, "stop"), *op(2, "write", 600, 610))  # fmt: skip
    v = check_availability(h, max_unavailable_s=0.5)
    gap = v.details["longest_unavailable"]
    assert (gap["start_s"], gap["end_s"], gap["during_faults"]) == (0.010, 0.500, True)
    assert v.result == "valid"
    v = check_availability(h, max_unavailable_s=0.2)
    assert [(a.kind, a.ops) for a in v.anomalies] == [("unavailable", [0, 1, 5, 6])]


def test_the_stretch_may_run_from_the_start_or_to_the_end() -> None:
    h = hist(*op(1, "read", 0, 100, "fail"), *op(1, "read", 100, 110), *op(1, "read", 110, 120))
    gap = check_availability(h).details["longest_unavailable"]
    assert (gap["length_s"], gap["ops"]) == (0.110, [2, 3])
    h = hist(*op(1, "read", 0, 10), *op(1, "read", 10, 100, "fail"))
    gap = check_availability(h).details["longest_unavailable"]
    assert (gap["start_s"], gap["end_s"], gap["ops"]) == (0.010, 0.100, [0, 1])


def test_recovery_counts_only_ops_invoked_after_the_instant() -> None:
    h = hist(
        *op(1, "write", 0, 5),
        (8, 1, "invoke", "write"),
        fault(10, "start", "kill"),
        (12, 1, "ok", "write"),  # in flight when the fault began: does not count
        *op(2, "read", 15, 30),
        *op(2, "write", 30, 60),
        fault(70, "stop", "kill"),
        *op(2, "write", 75, 90),
    )
    (w,) = check_availability(h).details["fault_windows"]
    assert w["fault"] == "kill"
    assert w["to_first_ok_s"] == 0.020
    assert w["by_f"]["write"]["to_first_ok_s"] == 0.050
    assert w["heal_to_first_ok_s"] == 0.020
    assert w["by_f"]["read"]["heal_to_first_ok_s"] is None


def test_a_fault_never_healed_lasts_to_the_end() -> None:
    h = hist(
        *op(1, "read", 0, 10), fault(20, "start"), *op(1, "read", 30, 40), (50, 2, "invoke", "read")
    )
    v = check_availability(h)
    assert v.details["fault_time_s"] == 0.030
    assert v.details["fault_windows"][0]["heal_to_first_ok_s"] is None
    assert v.details["during_faults"]["info"] == 1  # never completed: unknown


def test_latency_percentiles_are_nearest_rank() -> None:
    rows = [r for i in range(1, 101) for r in op(i, "read", 1000 * i, 1000 * i + i)]
    s = check_availability(hist(*rows)).details["by_f"]["read"]["outside_faults"]
    assert (s["p50_ms"], s["p99_ms"]) == (50.0, 99.0)


def test_an_empty_history_is_unknown() -> None:
    assert check_availability(hist(fault(0, "start"))).result == "unknown"


def test_the_checker_follows_the_protocol() -> None:
    checker: Checker = AvailabilityChecker(max_unavailable_s=1.0)
    assert checker.name == "availability"
    assert checker.check(hist(*op(1, "read", 0, 1))).valid


@st.composite
def runs(draw: st.DrawFn) -> History:
    """Sequential ops by a few processes with random outcomes, and random fault windows."""
    rows: list[tuple[Any, ...]] = []
    t = 0
    for _ in range(draw(st.integers(1, 30))):
        t += draw(st.integers(0, 50))
        if draw(st.integers(0, 5)) == 0:
            rows.append(fault(t, draw(st.sampled_from(["start", "stop"]))))
            continue
        outcome = draw(st.sampled_from(["ok", "ok", "fail", "info"]))
        length = draw(st.integers(0, 40))
        rows += op(len(rows), draw(st.sampled_from(["read", "write"])), t, t + length, outcome)
        t += length
    h = hist(*rows)
    assume(h.complete())  # without a client op there is nothing to measure
    return h


@given(runs())
def test_every_client_op_is_counted_once(h: History) -> None:
    d = check_availability(h).details
    phases = [d["outside_faults"]] + ([d["during_faults"]] if d["during_faults"] else [])
    assert sum(p["ok"] + p["fail"] + p["info"] for p in phases) == len(h.complete())
    for p in phases:
        assert p["success_ratio"] is None or 0 <= p["success_ratio"] <= 1
    assert 0 <= d["longest_unavailable"]["length_s"] <= d["span_s"]
    assert 0 <= d["fault_time_s"] <= d["span_s"]


@given(runs())
def test_max_unavailable_is_broken_exactly_beyond_the_longest_stretch(h: History) -> None:
    gap = check_availability(h).details["longest_unavailable"]["length_s"]
    assert "unavailable" not in check_availability(h, max_unavailable_s=gap).anomaly_kinds
    if gap > 0:
        tighter = check_availability(h, max_unavailable_s=gap * 0.99)
        assert tighter.result == "invalid"
        assert tighter.anomaly_kinds[0] == "unavailable"
