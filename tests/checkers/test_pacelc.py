"""PACELC's else-branch judge: the strong group pays latency for the consistency the weak lacks."""

from __future__ import annotations

import pytest

from pytest_sdconform.checkers.pacelc import LatencyOrConsistency
from pytest_sdconform.checkers.sessions import check_sessions
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed

JUDGE = LatencyOrConsistency(min_ops=2)


def session(p: int, mode: str, t: float, key: str, values: list[int],
            write_s: float | list[float], stale: bool) -> list[tuple[str, str]]:
    """Each value written (taking ``write_s``, or its n-th entry) then read back: the value
    itself, or, when ``stale``, the one before it (the replica had not applied the write yet)."""
    out = []
    for n, v in enumerate(values):
        seen = values[n - 1] if stale and n else v
        took = write_s[n] if isinstance(write_s, list) else write_s
        out += [(f"{t:.4f} {p} invoke write {key} {v}", mode),
                (f"{t + took:.4f} {p} ok write {key} {v}", mode),
                (f"{t + took + 0.001:.4f} {p} invoke read {key}", mode),
                (f"{t + took + 0.002:.4f} {p} ok read {key} {seen}", mode)]
        t += 0.1
    return out


def h(*sessions: list[tuple[str, str]]) -> History:
    events = sorted((e for s in sessions for e in s), key=lambda e: float(e[0].split()[0]))
    history = timed(*(text for text, _ in events))
    for op, (_, mode) in zip(history.ops, events, strict=True):
        op.extra = {"mode": mode}
    return history


def judged(history: History) -> tuple[str, str]:
    verdicts = {"sessions": check_sessions(history)}
    d = decide(history, verdicts, JUDGE)
    return d.outcome, d.reason


def test_a_slower_strong_group_without_stale_reads_beside_a_stale_weak_one_upholds() -> None:
    outcome, reason = judged(h(session(1, "strong", 0.0, "a", [1, 2, 3], 0.010, stale=False),
                               session(2, "weak", 0.05, "b", [4, 5, 6], 0.002, stale=True)))
    assert outcome == "upheld", reason
    assert "strong: median write 10.00 ms (95% interval 10.00-10.00), 0 stale reads" in reason
    assert "weak: median write 2.00 ms (95% interval 2.00-2.00), 2 stale reads" in reason


def test_consistency_at_no_latency_cost_refutes() -> None:
    outcome, reason = judged(h(session(1, "strong", 0.0, "a", [1, 2, 3], 0.002, stale=False),
                               session(2, "weak", 0.05, "b", [4, 5, 6], 0.003, stale=True)))
    assert outcome == "refuted" and "consistency at no latency cost" in reason


@pytest.mark.parametrize("strong_stale, weak_stale, says", [
    (False, False, "the weak setting showed no stale read"),
    (True, True, "the strong setting read behind its own writes too"),
])
def test_nothing_traded_is_inconclusive(strong_stale: bool, weak_stale: bool, says: str) -> None:
    outcome, reason = judged(h(session(1, "strong", 0.0, "a", [1, 2, 3], 0.010, strong_stale),
                               session(2, "weak", 0.05, "b", [4, 5, 6], 0.002, weak_stale)))
    assert outcome == "inconclusive" and says in reason


def test_a_group_that_barely_ran_is_not_exercised() -> None:
    history = h(session(1, "strong", 0.0, "a", [1], 0.010, stale=False),
                session(2, "weak", 0.05, "b", [4, 5, 6], 0.002, stale=True))
    d = decide(history, {"sessions": check_sessions(history)}, JUDGE)
    assert d.outcome == "inconclusive" and not d.exercised
    assert "fewer than 2 in strong" in d.reason


def test_without_the_sessions_verdict_the_judge_says_so() -> None:
    with pytest.raises(ValueError, match="needs the 'sessions' verdict"):
        JUDGE.rule(h(session(1, "strong", 0.0, "a", [1], 0.01, False)), {})


def test_a_strong_read_in_a_weak_anomalys_proof_is_not_a_stale_read_of_the_strong_group() -> None:
    from pytest_sdconform.checkers.pacelc import stale_reads

    history = h([("0.000 1 invoke write a 1", "strong"), ("0.010 1 ok write a 1", "strong"),
                 ("0.011 1 invoke read a", "strong"), ("0.012 1 ok read a 1", "strong")],
                [("0.020 2 invoke write a 2", "weak"), ("0.022 2 ok write a 2", "weak"),
                 ("0.023 2 invoke read a", "weak"), ("0.024 2 ok read a 1", "weak")])
    stale = stale_reads(history, {"sessions": check_sessions(history)})
    assert [c.process for c in stale["weak"]] == [2] and stale["strong"] == []


def test_medians_apart_by_less_than_their_noise_are_inconclusive() -> None:
    # the same spread of write latencies in both groups, the strong median 0.1 ms above, then
    # below, the weak one: neither a cost nor its absence is shown
    spread = [0.002, 0.009, 0.003, 0.008, 0.004, 0.007, 0.005, 0.006]
    for shift in (0.0001, -0.0001):
        strong = [x + shift for x in spread]
        outcome, reason = judged(h(session(1, "strong", 0.0, "a", list(range(1, 9)), strong,
                                           stale=False),
                                   session(2, "weak", 0.05, "b", list(range(11, 19)), spread,
                                           stale=True)))
        assert outcome == "inconclusive" and "within each other's 95% intervals" in reason, \
            reason


def test_a_clear_latency_cost_upholds_despite_noise() -> None:
    weak = [0.002, 0.003, 0.002, 0.003, 0.002, 0.003, 0.002, 0.003]
    strong = [x + 0.010 for x in weak]
    outcome, reason = judged(h(session(1, "strong", 0.0, "a", list(range(1, 9)), strong,
                                       stale=False),
                               session(2, "weak", 0.05, "b", list(range(11, 19)), weak,
                                       stale=True)))
    assert outcome == "upheld", reason
