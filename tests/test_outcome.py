"""The one decision path: faults proven, exercised before upheld, refutations attributed."""

from __future__ import annotations

from pytest_sdconform.checkers.judge import Checkers, acked_before_every_window, some_ok
from pytest_sdconform.checkers.verdict import Anomaly, Verdict
from pytest_sdconform.outcome import decide, fault_records
from tests.compact import history

VALID = {"c": Verdict("c", "valid")}


def invalid(*ops: int) -> dict[str, Verdict]:
    return {"c": Verdict("c", "invalid", [Anomaly("stale-read", list(ops))])}


# Positions: 0-1 a write before the fault, 2 fault on, 3-4 a read during it, 5 heal,
# 6-7 a read after.
WITH_FAULT = (
    "1 invoke write x 1", "1 ok write x 1",
    "n info kill-start", "2 invoke read x", "2 ok read x 1", "n info kill-stop",
    "3 invoke read x", "3 ok read x 1",
)


def test_upheld_needs_the_fault_proven_and_exercised() -> None:
    d = decide(history(*WITH_FAULT), VALID, Checkers(["c"]), faults=["kill"])
    assert d.outcome == "upheld" and d.exercised
    assert [r.to_json()["proven"] for r in d.faults] == [True]


def test_a_fault_that_never_started_is_inconclusive() -> None:
    h = history("1 invoke write x 1", "1 ok write x 1")
    d = decide(h, VALID, Checkers(["c"]), faults=["kill"])
    assert d.outcome == "inconclusive" and "never started" in d.reason


def test_a_fault_without_traffic_is_not_exercised() -> None:
    h = history("1 invoke write x 1", "1 ok write x 1", "n info kill-start", "n info kill-stop")
    d = decide(h, VALID, Checkers(["c"]), faults=["kill"])
    assert d.outcome == "inconclusive" and not d.exercised and "not exercised" in d.reason


def test_an_unhealed_fault_is_not_proven() -> None:
    h = history("n info kill-start", "2 invoke read x", "2 ok read x 1")
    assert [r.proven for r in fault_records(h)] == [False]
    d = decide(h, VALID, Checkers(["c"]), faults=["kill"])
    assert d.outcome == "inconclusive" and "heal" in d.reason


def test_a_failed_heal_is_not_proven() -> None:
    h = history("n info kill-start", "2 invoke read x", "2 ok read x 1", "n info kill-stop",
                "n info kill-heal-failed")
    assert [r.proven for r in fault_records(h)] == [False]


def test_refutation_during_a_fault_is_attributed() -> None:
    d = decide(history(*WITH_FAULT), invalid(3, 4), Checkers(["c"]), faults=["kill"])
    assert d.outcome == "refuted" and d.attributed
    assert d.anomalies[0]["relative_to_faults"] == "during"


def test_refutation_after_a_fault_is_attributed() -> None:
    d = decide(history(*WITH_FAULT), invalid(6, 7), Checkers(["c"]), faults=["kill"])
    assert d.anomalies[0]["relative_to_faults"] == "after" and d.attributed


def test_refutation_only_before_any_fault_is_flagged() -> None:
    d = decide(history(*WITH_FAULT), invalid(0, 1), Checkers(["c"]), faults=["kill"])
    assert d.outcome == "refuted" and not d.attributed
    assert d.anomalies[0]["relative_to_faults"] == "before"
    assert "harness bug or a finding" in d.reason


def test_a_fault_is_felt_from_its_invocation_though_proven_later() -> None:
    """A container's kill takes a while: a read that saw it before the kill was proven lies
    in the fault's window (its onset), not before it."""
    h = history("1 invoke write x 1", "1 ok write x 1", "n invoke kill-start",
                "2 invoke read x", "2 ok read x", "n info kill-start", "n info kill-stop")
    d = decide(h, invalid(3, 4), Checkers(["c"]), faults=["kill"])
    assert d.anomalies[0]["relative_to_faults"] == "during" and d.attributed
    (window,) = h.fault_windows()
    assert window.onset < window.start  # what "while down" judges measure from


def test_a_fault_free_case_is_refuted_without_attribution() -> None:
    h = history("1 invoke write x 1", "1 ok write x 1")
    d = decide(h, invalid(0, 1), Checkers(["c"], some_ok))
    assert d.outcome == "refuted" and d.attributed
    assert d.anomalies[0]["relative_to_faults"] == "none"


def test_unknown_is_inconclusive_and_emulator_limits_everything() -> None:
    unknown = {"c": Verdict("c", "unknown", reason="out of time")}
    assert decide(history(*WITH_FAULT), unknown, Checkers(["c"]),
                  faults=["kill"]).outcome == "inconclusive"
    d = decide(history(*WITH_FAULT), invalid(3, 4), Checkers(["c"]), faults=["kill"],
               emulator_limit="one process")
    assert d.outcome == "inconclusive" and "emulator" in d.reason


def test_durability_is_exercised_by_acks_before_each_crash_and_a_final_read() -> None:
    judge = Checkers(["c"], acked_before_every_window("add"))
    final = {"final": True}
    h = history("1 invoke add s 1", "1 ok add s 1", "n info kill-start", "n info kill-stop",
                "9 invoke read s", "9 ok read s [1]")
    for op in h.ops[-2:]:
        op.extra = final
    assert decide(h, VALID, judge, faults=["kill"]).outcome == "upheld"
    h2 = history("n info kill-start", "n info kill-stop", "9 invoke read s", "9 ok read s []")
    for op in h2.ops[-2:]:
        op.extra = final
    d = decide(h2, VALID, judge, faults=["kill"])
    assert d.outcome == "inconclusive" and "acknowledged add" in d.reason


def test_attribution_looks_past_the_anomalies_the_record_keeps() -> None:
    early = [Anomaly("stale-read", [0, 1]) for _ in range(60)]
    verdicts = {"c": Verdict("c", "invalid", [*early, Anomaly("stale-read", [3, 4])])}
    d = decide(history(*WITH_FAULT), verdicts, Checkers(["c"]), faults=["kill"])
    assert d.attributed and len(d.anomalies) == 50
    assert d.anomalies[0]["relative_to_faults"] == "during"
