"""RpoWithinMeasuredLag: a Redis primary's region lost while its replica lags."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_sdconform.backends.redis.region_judges import RpoWithinMeasuredLag, losses
from pytest_sdconform.backends.redis.regions import RegionLoss, Writers
from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.checkers.judge import NS
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD, Decision, decide
from tests.compact import timed

# The link is slow from 3.5 (1.5 s before the death at 5.0). The primary's offset was 100 at
# 3.4 (before the delay), 200 at 4.0 and 300 at 4.5; the replica held 200, so every write
# acknowledged before 4.0 was on it (safe = 4.0, lag 1.0 s). The promoted replica is primary
# when the window opens at 5.2 and takes add 5 at 6.1.


def region_history(final: list[int], held: int = 200) -> History:
    value: dict[str, Any] = {
        "killed": "n1", "promoted": "n2", "since_kill_s": 0.2, "cut_to_kill_s": 1.5,
        "cut_proof_s": 0.1, "promote_s": 0.05, "replica_offset": held, "offset_at_kill": 300,
        "samples": [[1.6, 100], [1.0, 200], [0.5, 300]],
        "link": {"measured": {"repl": {"added_ms": 300.5}}}}
    return timed(
        "1.0 1 invoke add s 1", "1.1 1 ok add s 1",
        "2.0 2 invoke add s 2", "2.1 2 ok add s 2",
        "3.8 1 invoke add s 3", "3.9 1 ok add s 3",
        "4.6 2 invoke add s 4", "4.65 2 ok add s 4",
        f"5.2 n info region-loss-start - {json.dumps(value)}",
        "6.0 1 invoke add s 5", "6.1 1 ok add s 5",
        "8.0 n info region-loss-stop",
        "9.0 9 invoke read s", f"9.1 9 ok read s {json.dumps(final)}",
    )


def mark_final(history: History) -> History:
    for op in history.ops[-2:]:
        op.extra = {"final": True}
    return history


def region(final: list[int], held: int = 200) -> Decision:
    hist = mark_final(region_history(final, held))
    return decide(hist, {"lost-writes": check_lost_writes(hist)}, RpoWithinMeasuredLag(),
                  faults=["region-loss"])


def test_the_measured_lag_is_the_latest_sample_the_replica_held() -> None:
    (loss,) = losses(region_history([1]))
    assert loss.killed == int(5.0 * NS) and loss.slow == int(3.5 * NS)
    assert loss.safe == int(4.0 * NS) and loss.behind_bytes == 100


def test_losing_the_tail_within_the_lag_is_upheld_with_the_figures() -> None:
    d = region([1, 2, 3, 5])
    assert d.outcome == UPHELD, d.reason
    assert "RPO 0.35s" in d.reason and "lag 1.00s (100 bytes behind" in d.reason
    assert "link delay 300.5 ms" in d.reason and "RTO 1.10s" in d.reason


def test_a_write_lost_though_the_replica_held_it_refutes() -> None:
    d = region([1, 3, 4, 5])  # 2, acknowledged at 2.1 < safe 4.0, is lost
    assert d.outcome == REFUTED, d.reason
    assert {a["kind"] for a in d.anomalies} == {"loss-beyond-lag"}
    assert "though the replica held" in json.dumps(d.anomalies)


def test_a_hole_inside_the_lag_refutes() -> None:
    d = region([1, 2, 4, 5], held=100)  # 3 lost, 4 (invoked after 3's ack) survived
    assert d.outcome == REFUTED, d.reason
    assert "survived" in json.dumps(d.anomalies)


def test_nothing_lost_is_inconclusive() -> None:
    d = region([1, 2, 3, 4, 5])
    assert d.outcome == INCONCLUSIVE and "RPO 0" in d.reason


def test_no_write_while_the_link_was_slow_is_not_exercised() -> None:
    hist = mark_final(region_history([1, 2, 5]))
    hist.ops = [op for op in hist.ops if op.value not in (3, 4)]
    verdicts = {"lost-writes": check_lost_writes(hist)}
    made = RpoWithinMeasuredLag().exercised(hist, verdicts)
    assert not made.done and "while the link was slow" in made.why
    assert decide(hist, verdicts, RpoWithinMeasuredLag(),
                  faults=["region-loss"]).outcome == INCONCLUSIVE


def test_a_lag_beyond_every_sample_is_not_measured() -> None:
    hist = mark_final(region_history([1, 2, 5], held=50))
    verdicts = {"lost-writes": check_lost_writes(hist)}
    made = RpoWithinMeasuredLag().exercised(hist, verdicts)
    assert not made.done and "not measured" in made.why


def test_writers_move_and_bad_settings_are_refused() -> None:
    w = Writers("127.0.0.1")
    w.move("127.0.0.2")
    assert w() == "127.0.0.2"
    with pytest.raises(ValueError, match="lag_s"):
        RegionLoss(None, None, "repl", w, lag_s=0)  # type: ignore[arg-type]
