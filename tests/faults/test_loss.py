"""The packet-loss fault: its rules drop a share of a node's packets, are counted by protocol,
and are gone after the heal; what a killed run left is removed by cleanup."""

from __future__ import annotations

import pytest
from conftest import needs_netfilter

from pytest_sdconform.cleanup import clean_run
from pytest_sdconform.faults.loss import PacketLoss
from pytest_sdconform.faults.netfilter import Netfilter, iptables
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run


def test_a_probability_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(ValueError, match="probability"):
        PacketLoss(None, {"n1": "127.0.0.9"}, 1.5)  # type: ignore[arg-type]


@needs_netfilter
@pytest.mark.integration
def test_loss_is_proven_counted_and_healed(run: Run, block: AddressBlock) -> None:
    netfilter = Netfilter(run)
    try:
        loss = PacketLoss(netfilter, {"n1": block.node(1)}, 0.2)
        started = loss.start()
        assert started["probe"]["dropped"] > 0
        healed = loss.stop()
        assert healed["dropped"]["udp"] >= started["probe"]["dropped"]
        assert iptables("-t", "raw", "-S", loss.chain, check=False).returncode != 0
        assert loss.stop()["dropped"] == {"tcp": 0, "udp": 0}  # idempotent
    finally:
        netfilter.close()


@needs_netfilter
@pytest.mark.integration
def test_cleanup_removes_the_rules_of_a_run_that_never_healed(run: Run, block: AddressBlock
                                                              ) -> None:
    netfilter = Netfilter(run)
    loss = PacketLoss(netfilter, {"n1": block.node(1)}, 0.2)
    loss.start()
    clean_run(run)
    assert iptables("-t", "raw", "-S", loss.chain, check=False).returncode != 0
    assert run.tag not in iptables("-t", "raw", "-S").stdout
