"""The VIP topology's settings: VRRPv2's takeover bound from the priorities and the interval
(RFC 3768 §6.1), and the keepalived configuration each machine gets."""

from __future__ import annotations

import pytest

from pytest_sdconform.backends.vip import Topology, VipInfo
from pytest_sdconform.backends.vip.topology import keepalived_conf
from pytest_sdconform.nodes.netns import Network


def test_master_down_interval_is_three_adverts_plus_the_backups_skew() -> None:
    info = VipInfo("10.213.7.100", Network.for_run("x", ["lb1", "lb2"], 7), {}, advert_int=2)
    assert info.master_down_s() == pytest.approx(3 * 2 + (256 - 100) / 256 * 2)


def test_lb1_starts_master_with_the_higher_priority_and_nopreempt_is_passed_on() -> None:
    lb1 = keepalived_conf("lb1", "10.213.7.100", 1, preempt=True)
    lb2 = keepalived_conf("lb2", "10.213.7.100", 1, preempt=False)
    assert "state MASTER" in lb1 and "priority 150" in lb1 and "nopreempt" not in lb1
    assert "state BACKUP" in lb2 and "priority 100" in lb2 and "nopreempt" in lb2
    assert "10.213.7.100/24" in lb1


def test_describe_names_the_settings() -> None:
    assert Topology(advert_int=3).describe()["advert_int_s"] == 3
