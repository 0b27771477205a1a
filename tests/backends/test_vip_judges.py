"""The split-brain judge on synthetic histories: two holders of the VIP at a heal refute, one
upholds, a cut shorter than the backup's master_down_interval is inconclusive through
``outcome.decide``."""

from __future__ import annotations

import time

from pytest_sdconform.backends.vip import SingleMaster
from pytest_sdconform.history import NEMESIS, History
from pytest_sdconform.outcome import decide
from pytest_sdconform.recorder import Recorder


def history(holders: list[str], window_s: float) -> History:
    rec = Recorder()
    rec.record(1, "invoke", "read", "k")
    rec.record(1, "ok", "read", "k", None, "lb1")
    rec.record(NEMESIS, "invoke", "vrrp-cut-start")
    rec.record(NEMESIS, "info", "vrrp-cut-start", value={"nodes": ["lb1", "lb2"]})
    time.sleep(window_s)
    rec.record(NEMESIS, "info", "vrrp-cut-stop")
    rec.record(NEMESIS, "info", "vrrp-cut-healed", value={"observed": {"holders": holders}})
    return rec.history()


def outcome(h: History, bound_s: float = 0.05) -> tuple[str, str]:
    d = decide(h, {}, SingleMaster(bound_s), faults=["vrrp-cut"])
    return d.outcome, d.reason


def test_two_holders_at_once_refute() -> None:
    h = history(["lb1", "lb2"], 0.06)
    ruling = SingleMaster(0.05).rule(h, {})
    assert ruling.outcome == "refuted"
    assert [a.kind for a in ruling.anomalies] == ["dual-master"]
    assert outcome(h)[0] == "refuted"


def test_one_holder_upholds() -> None:
    result, reason = outcome(history(["lb2"], 0.06))
    assert result == "upheld", reason


def test_a_cut_shorter_than_the_takeover_bound_is_not_exercised() -> None:
    result, reason = outcome(history(["lb1"], 0.0), bound_s=5.0)
    assert result == "inconclusive"
    assert "shorter than the bound" in reason
