"""A floating address (claims.md, lb-vip-failover): keepalived moves the VIP to the backup
machine when the master drops off the network.

Run: ``pytest --sdconform suites/network``. Two machines (network namespaces behind a bridge),
keepalived's VRRP and an HTTP server in each; the harness sends requests to the VIP and
records, for each, which machine's MAC the VIP resolved to and which machine answered.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import vip
from pytest_sdconform.case import Case
from pytest_sdconform.faults.link import LinkDown, ProtocolCut
from pytest_sdconform.history import Completed
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("vip")


def routes(c: Completed) -> list[str]:
    return list(c.completion.get("routes") or []) if c.completion is not None else []


@pytest.mark.claim("lb-vip-failover")
def test_the_vip_moves_to_the_backup_when_the_master_drops_off_the_network(sdconform: Case
                                                                           ) -> None:
    """lb1's link goes down (its processes keep running). Within the backup's
    master_down_interval (RFC 3768: 3 advert_int + skew) plus one advert_int (the bound of
    ``vip.judges``: keepalived takes over at the RFC's edge, measured from the cut) lb2 takes
    the VIP and sends gratuitous ARPs: requests invoked after that bound go to lb2's MAC and
    are answered. A request still sent to lb1 after the bound, none answered, or a takeover the
    fault saw had not happened by then refutes."""
    cluster = sdconform.start(vip.Topology())
    info = cluster.info
    bound = vip.takeover_bound_s(info.master_down_s(), info.advert_int)
    down = LinkDown({m: info.network.veths[m] for m in vip.MACHINES}, ["lb1"])
    sdconform.run(Register(keys=1, read_ratio=1.0, prefix="vip:"),
                  lambda i: vip.VipClient(info), [vip.watched(down, info)], checkers=[],
                  judge=vip.TakesOver("link-down", bound, info.master_down_s(), routes),
                  # One window: lb1 back too soon would find the VIP elsewhere and take it
                  # back only after its own master_down_interval (preemption).
                  run=RunConfig(duration=bound + 3.5, quiet=1.0, fault_duration=bound + 2.0,
                                op_delay=0.02, op_timeout=2.0, settle=1.0),
                  config={"fault": "lb1's link down", "bound_s": round(bound, 3),
                          "master_down_s": round(info.master_down_s(), 3),
                          "vip": info.vip})


@pytest.mark.claim("lb-vip-failover", config="keepalived-killed")
def test_the_vip_moves_to_the_backup_when_the_masters_keepalived_is_killed(sdconform: Case
                                                                          ) -> None:
    """lb1's keepalived is SIGKILLed: it can neither say goodbye (a priority-0 advert) nor
    take the VIP off its interface, so lb1 still holds the address while lb2, hearing no
    adverts, takes it within its master_down_interval and sends gratuitous ARPs, which move
    the harness's traffic. Requests sent to lb1 after the bound (master_down_interval + one
    advert_int, as above), none answered, or a takeover not seen by then refute."""
    cluster = sdconform.start(vip.Topology())
    info = cluster.info
    bound = vip.takeover_bound_s(info.master_down_s(), info.advert_int)
    sdconform.run(Register(keys=1, read_ratio=1.0, prefix="vip:"),
                  lambda i: vip.VipClient(info), [vip.watched(cluster.kill(["lb1-vrrp"]), info)],
                  checkers=[],
                  judge=vip.TakesOver("kill", bound, info.master_down_s(), routes,
                                      victims=lambda w: {"lb1"}),
                  run=RunConfig(duration=bound + 3.5, quiet=1.0, fault_duration=bound + 2.0,
                                op_delay=0.02, op_timeout=2.0, settle=1.0),
                  config={"fault": "lb1's keepalived SIGKILLed (its VIP left on eth0)",
                          "bound_s": round(bound, 3),
                          "master_down_s": round(info.master_down_s(), 3), "vip": info.vip})


@pytest.mark.claim("lb-vip-failover", config="vrrp-cut")
def test_cutting_vrrp_adverts_between_the_machines_leaves_two_masters(sdconform: Case) -> None:
    """Only VRRP is dropped between the machines (clients still reach both): lb2, hearing no
    adverts, becomes master after its master_down_interval while lb1, hearing nothing
    either, stays master. Just before the heal the fault reads which machines carry the VIP:
    more than one is a split brain. The cut lasts past the takeover bound of the cases above
    (master_down_interval + one advert_int: keepalived takes over at the RFC's edge), so that a
    backup slowed by a busy machine has taken over when the holders are read."""
    cluster = sdconform.start(vip.Topology())
    info = cluster.info
    bound = vip.takeover_bound_s(info.master_down_s(), info.advert_int)
    cut = ProtocolCut(info.network.machines, "vrrp", observe=lambda: vip.holders(info))
    sdconform.run(Register(keys=1, read_ratio=1.0, prefix="vip:"),
                  lambda i: vip.VipClient(info), [cut], checkers=[],
                  judge=vip.SingleMaster(bound),
                  run=RunConfig(duration=bound + 3.0, quiet=1.0, fault_duration=bound + 1.5,
                                op_delay=0.02, op_timeout=2.0, settle=1.0),
                  config={"fault": "VRRP dropped between lb1 and lb2", "vip": info.vip})
