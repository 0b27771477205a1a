"""Network namespaces for machines of their own: made and removed, a link set down and up with
proof, and what a killed run left (recorded in its ledger) removed by cleanup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pytest_sdconform.cleanup import clean_run
from pytest_sdconform.faults.link import LinkDown, ProtocolCut, is_up
from pytest_sdconform.nodes.netns import Network, create, free_third_octet, ip, remove
from pytest_sdconform.runs import Run

needs_ip = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="network namespaces need root and iproute2 (apt-get install iproute2)")


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_names_fit_the_kernels_limits_and_addresses_follow_the_prefix() -> None:
    net = Network.for_run("0123abcd", ["lb1", "lb2"], 7)
    assert all(len(n) <= 15 for n in [net.bridge, *net.veths.values()])
    assert (net.gateway, net.vip, net.address("lb2")) == ("10.213.7.1", "10.213.7.100",
                                                            "10.213.7.12")


def test_a_link_down_fault_refuses_an_unknown_victim() -> None:
    with pytest.raises(ValueError, match="no link for"):
        LinkDown({"lb1": "veth0"}, ["lb3"])


@needs_ip
@pytest.mark.integration
def test_machines_are_made_cut_healed_and_removed(run: Run) -> None:
    net = Network.for_run(run.id.replace("-", "")[-8:], ["m1", "m2"], free_third_octet(99))
    try:
        create(net)
        # Reachable: the gateway answers a connection to a closed port with a reset.
        probe = ("import socket, sys\ns = socket.socket(); s.settimeout(1)\n"
                 f"try: s.connect(('{net.gateway}', 9))\n"
                 "except ConnectionRefusedError: sys.exit(0)\nexcept OSError: sys.exit(1)")
        ping = ["ip", "netns", "exec", net.machines["m1"], sys.executable, "-c", probe]
        assert subprocess.run(ping, capture_output=True).returncode == 0
        fault = LinkDown(net.veths, ["m1"])
        assert fault.start()["nodes"] == ["m1"]
        assert not is_up(net.veths["m1"]) and is_up(net.veths["m2"])
        assert subprocess.run(ping, capture_output=True).returncode != 0
        assert fault.stop() == {"up": ["m1"]}
        assert is_up(net.veths["m1"])
        cut = ProtocolCut(net.machines, "vrrp", observe=lambda: {"seen": 1})
        assert cut.start()["protocol"] == "vrrp"
        assert subprocess.run(ping, capture_output=True).returncode == 0  # TCP still passes
        assert cut.stop() == {"observed": {"seen": 1}}
        assert cut.stop() == {}
    finally:
        removed = remove(list(net.machines.values()), [net.bridge])
    assert len(removed) == 3
    assert net.machines["m1"] not in namespaces()
    assert ip("link", "show", net.bridge, check=False).returncode != 0


@needs_ip
@pytest.mark.integration
def test_cleanup_removes_the_namespaces_and_bridge_a_killed_run_recorded(run: Run) -> None:
    net = Network.for_run(run.id.replace("-", "")[-8:], ["m1"], free_third_octet(77))
    for ns in net.machines.values():
        run.record("netns", name=ns)
    run.record("link", name=net.bridge)
    create(net)
    removed = clean_run(run)
    assert any(net.bridge in r for r in removed)
    assert net.machines["m1"] not in namespaces()
    assert ip("link", "show", net.bridge, check=False).returncode != 0
