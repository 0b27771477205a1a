"""The staleness checker and judge: golden histories (fresh, stale, stale beyond a bound,
thin air), the unknown cases, bad input, and a property: a history whose reads always return
the newest acknowledged version before them is never stale."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.checkers.staleness import StalenessBound, check_staleness, races
from pytest_sdconform.history import HistoryError
from pytest_sdconform.outcome import decide
from tests.compact import Event, timed


def h(*events: Event) -> Any:
    """``timed`` events; a (text, extra) pair puts fields such as ``version`` on the op."""
    return timed(*events)


def v(n: int) -> dict[str, Any]:
    return {"version": n}


FRESH = h(
    "0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
    "2 2 invoke read x", "3 2 ok read x 1",
    "4 1 invoke write x 2", ("5 1 ok write x 2", v(2)),
    "6 2 invoke read x", "7 2 ok read x 2",
)

# x=1 then x=2 acknowledged at 3s; a read at 5s still serves 1 (2s stale, one version behind),
# one at 9s serves the initial value (8s stale: both versions).
STALE = h(
    "0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
    "2 1 invoke write x 2", ("3 1 ok write x 2", v(2)),
    "5 2 invoke read x", ("5.1 2 ok read x 1", {"source": "hit"}),
    "9 3 invoke read x", ("9.1 3 ok read x null", {"source": "hit"}),
)


def test_fresh_reads_are_valid() -> None:
    verdict = check_staleness(FRESH)
    assert verdict.result == "valid"
    assert verdict.details["stale_reads"] == 0
    assert verdict.details["reads_after_a_write"] == 2


def test_stale_reads_are_measured_in_time_and_versions() -> None:
    verdict = check_staleness(STALE)
    assert verdict.result == "invalid"
    assert [a.kind for a in verdict.anomalies] == ["stale-read", "stale-read"]
    first, second = verdict.anomalies
    assert first.details == {"stale_s": 2.0, "versions_behind": 1, "source": "hit"}
    assert second.details is not None and second.details["stale_s"] == 8.0
    assert second.details["versions_behind"] == 2
    assert verdict.details["max_stale_s"] == 8.0
    assert verdict.details["by_source"]["hit"] == {"reads": 2, "stale": 2}


def test_a_bound_keeps_only_the_reads_beyond_it() -> None:
    verdict = check_staleness(STALE, bound_s=3.0)
    assert verdict.result == "invalid"
    assert [a.kind for a in verdict.anomalies] == ["stale-beyond-bound"]
    assert check_staleness(STALE, bound_s=8.0).result == "valid"


def test_a_read_concurrent_with_the_write_is_not_stale() -> None:
    hist = h("0 1 invoke write x 1", "1 2 invoke read x", ("2 1 ok write x 1", v(1)),
             "3 2 ok read x null", "4 2 invoke read x", "5 2 ok read x 1")
    assert check_staleness(hist).result == "valid"


def test_concurrent_writes_rank_by_the_source_of_truths_version() -> None:
    # Write 2 committed first (version 1), write 1 second (version 2): a read of 2 after both
    # is stale although 2 is the value written last in invocation order.
    hist = h("0 1 invoke write x 1", "0 2 invoke write x 2", ("1 2 ok write x 2", v(1)),
             ("2 1 ok write x 1", v(2)), "3 3 invoke read x", "4 3 ok read x 2")
    verdict = check_staleness(hist)
    assert verdict.result == "invalid"
    assert verdict.anomalies[0].details is not None
    assert verdict.anomalies[0].details["stale_s"] == 1.0


def test_a_value_nobody_wrote_is_thin_air() -> None:
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)), "2 2 invoke read x",
             "3 2 ok read x 7")
    assert [a.kind for a in check_staleness(hist).anomalies] == ["thin-air-read"]


def test_a_value_of_a_write_with_unknown_outcome_is_not_ranked() -> None:
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)), "2 1 invoke write x 2",
             "3 1 info write x 2", "4 2 invoke read x", "5 2 ok read x 2",
             "6 2 invoke read x", "7 2 ok read x 1")
    verdict = check_staleness(hist)
    assert verdict.result == "valid"
    assert verdict.details["reads_after_a_write"] == 1


def test_unknown_without_versions_or_without_a_read_after_a_write() -> None:
    no_versions = h("0 1 invoke write x 1", "1 1 ok write x 1", "2 2 invoke read x",
                    "3 2 ok read x 1")
    assert check_staleness(no_versions).result == "unknown"
    no_exposure = h("0 2 invoke read x", "1 1 invoke write x 1", ("2 1 ok write x 1", v(1)),
                    "3 2 ok read x null")
    verdict = check_staleness(no_exposure)
    assert verdict.result == "unknown"
    assert "nothing could have been stale" in verdict.reason


def test_bad_input_is_refused_clearly() -> None:
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", {"version": "one"}))
    with pytest.raises(HistoryError, match="version must be an integer"):
        check_staleness(hist)
    with pytest.raises(ValueError, match="bound_s"):
        check_staleness(FRESH, bound_s=-1)


def test_judge_refutes_never_stale_with_a_stale_read() -> None:
    judge = StalenessBound(None)
    assert judge.rule(STALE, {}).outcome == REFUTED
    assert judge.rule(FRESH, {}).outcome == UPHELD
    assert not judge.exercised(FRESH, {}).done  # sequential writes: no race to stale it


def test_never_stale_with_no_race_is_not_exercised() -> None:
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
             "2 2 invoke read x", ("2.1 2 ok read x 1", {"source": "hit"}))
    d = decide(hist, {}, StalenessBound(None))
    assert d.outcome == INCONCLUSIVE and not d.exercised
    assert "nothing could have gone stale" in d.reason


def test_never_stale_is_exercised_by_overlapping_writes_of_one_key() -> None:
    hist = h("0 1 invoke write x 1", "0.5 3 invoke write x 2", ("1 1 ok write x 1", v(1)),
             ("1.5 3 ok write x 2", v(2)), "2 2 invoke read x", "2.1 2 ok read x 2")
    d = decide(hist, {}, StalenessBound(None))
    assert d.outcome == UPHELD and d.exercised, d.reason
    assert "1 pairs of overlapping writes" in d.exercised_why
    assert races(hist) == (1, 0)


def test_never_stale_is_exercised_by_a_fill_overlapping_a_write() -> None:
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
             "2 2 invoke read x", "2.5 1 invoke write x 2", ("3 2 ok read x 1", {"source": "miss"}),
             ("3.5 1 ok write x 2", v(2)), "4 2 invoke read x", ("4.1 2 ok read x 2",
                                                                 {"source": "hit"}))
    assert races(hist) == (0, 1)
    assert StalenessBound(None).exercised(hist, {}).done
    # the same fill, once the write had completed: no race
    late = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
             "2 2 invoke read x", ("3 2 ok read x 1", {"source": "miss"}))
    assert races(late) == (0, 0) and not StalenessBound(None).exercised(late, {}).done


def test_judge_with_a_bound_from_the_history() -> None:
    judge = StalenessBound(lambda hist: (3.0, "TTL 2s + fill 1s"), stale_expected=True)
    ruling = judge.rule(STALE, {})
    assert ruling.outcome == REFUTED and "TTL 2s + fill 1s" in ruling.reason
    within = StalenessBound(10.0, stale_expected=True)
    assert within.rule(STALE, {}).outcome == UPHELD
    assert within.exercised(STALE, {}).done


def test_judge_expecting_staleness_is_inconclusive_without_it() -> None:
    judge = StalenessBound(10.0, stale_expected=True)
    assert not judge.exercised(FRESH, {}).done
    assert judge.rule(FRESH, {}).outcome == INCONCLUSIVE


def test_judge_of_final_reads_only() -> None:
    hist = h("0 1 invoke write x 1", ("1 1 ok write x 1", v(1)),
             "2 1 invoke write x 2", ("3 1 ok write x 2", v(2)),
             "5 2 invoke read x", "6 2 ok read x 1",
             ("7 3 invoke read x", {"final": True}), ("8 3 ok read x 2", {"final": True}))
    assert StalenessBound(None).rule(hist, {}).outcome == REFUTED
    assert StalenessBound(None, only_final=True).rule(hist, {}).outcome == UPHELD


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 2)), min_size=1, max_size=30))
def test_reads_of_the_newest_acknowledged_version_are_never_stale(
        steps: list[tuple[bool, int]]) -> None:
    events: list[str | tuple[str, dict[str, Any]]] = []
    newest: dict[str, int | None] = {}
    version: dict[str, int] = {}
    t, value = 0, 0
    for is_write, k in steps:
        key = f"k{k}"
        if is_write:
            value += 1
            version[key] = version.get(key, 0) + 1
            events += [f"{t} 1 invoke write {key} {value}",
                       (f"{t + 1} 1 ok write {key} {value}", v(version[key]))]
            newest[key] = value
        else:
            shown = "null" if newest.get(key) is None else str(newest[key])
            events += [f"{t} 2 invoke read {key}", f"{t + 1} 2 ok read {key} {shown}"]
        t += 2
    assert check_staleness(h(*events)).result in ("valid", "unknown")
