"""ResumesAfterPromotion on synthetic histories: writes counted from the promotion the fault
saw; a write slower than the clients' bound after it refutes, no promotion during a window
longer than the settings' bound refutes, an unwatched kill is not exercised, a prompt
resumption upholds whatever the promotion took."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.redis.promotion import ResumesAfterPromotion
from pytest_sdconform.history import NEMESIS, History, Operation
from pytest_sdconform.outcome import decide

KILL = (2.0, 12.0)


def history(promoted: float | None, resumed: float, watched: bool = True,
            kill: tuple[float, float] = KILL) -> History:
    """Two clients adding every 0.1 s: n1 acknowledges before the kill; during it adds fail
    until ``resumed`` s into it, then n5 (the promoted replica) acknowledges them. The watch saw
    the promotion ``promoted`` s into the kill (None: not before the heal)."""
    events: list[tuple[float, dict[str, Any]]] = []
    v = 0
    for p in range(2):
        t = p * 0.05
        while t < kill[1] + 2.0:
            v += 1
            down = kill[0] <= t < kill[0] + resumed
            node = "n1" if t < kill[0] or t >= kill[1] + 1.0 else "n5"
            events.append((t, {"process": p, "type": "invoke", "f": "add", "value": v}))
            events.append((t + 0.02, {"process": p, "type": "fail" if down else "ok",
                                      "f": "add", "value": v, "node": None if down else node}))
            t += 0.1
    events.append((kill[0] - 0.01, {"process": NEMESIS, "type": "invoke", "f": "kill-start"}))
    events.append((kill[0], {"process": NEMESIS, "type": "info", "f": "kill-start",
                             "value": {"nodes": ["n1"]}}))
    events.append((kill[1], {"process": NEMESIS, "type": "info", "f": "kill-stop"}))
    heal: dict[str, Any] = {"restarted": ["n1"]}
    if watched:
        heal["observed"] = {"promoted": {
            "after_s": promoted, "polls": 40,
            "not_before_s": (promoted - 0.1) if promoted is not None else kill[1] - kill[0]}}
    events.append((kill[1] + 0.5, {"process": NEMESIS, "type": "info", "f": "kill-healed",
                                   "value": heal}))
    events.sort(key=lambda e: e[0])
    return History([Operation(i, int(t * 1e9), **e) for i, (t, e) in enumerate(events)])


def judge() -> ResumesAfterPromotion:
    return ResumesAfterPromotion("add", "kill", client_bound_s=2.0, settings_bound_s=8.1)


def outcome(h: History) -> tuple[str, str]:
    d = decide(h, {}, judge(), faults=["kill"])
    return d.outcome, d.reason


def test_writes_back_soon_after_a_slow_promotion_uphold() -> None:
    # The promotion took 6.5 s (a busy machine), the writes were back 0.3 s after it: the
    # clients' part is what is bounded.
    result, reason = outcome(history(promoted=6.5, resumed=6.8))
    assert result == "upheld", reason
    assert "promoted at worst 6.50s" in reason
    assert "s after the promotion in a kill (<= 2s)" in reason and "into a kill (<=" not in reason


def test_writes_slower_than_the_clients_bound_after_the_promotion_refute() -> None:
    ruling = judge().rule(history(promoted=3.0, resumed=5.5), {})
    assert ruling.outcome == "refuted", ruling.reason
    assert "s after the promotion in a kill (> 2s)" in ruling.reason
    assert "not back within 2s of the promotion" in ruling.anomalies[0].explanation
    assert outcome(history(promoted=3.0, resumed=5.5))[0] == "refuted"


def test_no_promotion_during_a_kill_longer_than_the_settings_bound_refutes() -> None:
    ruling = judge().rule(history(promoted=None, resumed=20.0), {})
    assert ruling.outcome == "refuted"
    assert [a.kind for a in ruling.anomalies] == ["no-promotion"]


def test_no_promotion_during_a_short_kill_is_inconclusive() -> None:
    ruling = judge().rule(history(promoted=None, resumed=20.0, kill=(2.0, 6.0)), {})
    assert ruling.outcome == "inconclusive" and "shorter than the settings' bound" in ruling.reason


def test_an_unwatched_kill_is_not_exercised() -> None:
    result, reason = outcome(history(promoted=3.0, resumed=3.2, watched=False))
    assert result == "inconclusive" and "not watched" in reason
