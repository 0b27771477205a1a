"""The transport layer's claim (claims.md, tcp-reliable): TCP retransmits what packet loss
dropped, UDP does not.

Run: ``pytest --sdconform suites/network``. One sink node; half the workers send numbered
lines over one TCP connection each, half send them as UDP datagrams, and both acknowledge a
send as the socket API does (the kernel took it). The fault drops packets to and from the
sink at random (iptables ``statistic``: netem is not available here).
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import transport
from pytest_sdconform.case import Case
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.log import Log

pytestmark = pytest.mark.backend("transport")

LOSS = 0.1  # each packet, each direction: the claim's "1-10 %" at its worst


@pytest.mark.claim("tcp-reliable")
def test_tcp_delivers_every_line_in_order_through_random_loss_and_udp_loses_some(
        sdconform: Case) -> None:
    """While 10 % of packets to and from the sink are dropped, every line a TCP sender wrote
    arrives once and in order (the kernel retransmits; the senders close their streams and
    wait for the sink's close before the report is read), while datagrams the kernel accepted
    go missing. A lost, duplicated or reordered TCP line refutes the claim."""
    cluster = sdconform.start(transport.Topology())
    loss = sdconform.fault(lambda: cluster.packet_loss(LOSS))
    endpoint = cluster.info.endpoint()

    def sender(i: int) -> transport.TcpSender | transport.UdpSender:
        return transport.TcpSender(endpoint) if i % 2 == 0 else transport.UdpSender(endpoint)

    sdconform.run(Log(poll_ratio=0.0), sender, [loss], checkers=[],
                  judge=transport.TransportDelivery(),
                  run=RunConfig(quiet=1.0, fault_duration=3.0, op_delay=0.002, settle=0.5),
                  config={"loss": LOSS, "how": "iptables statistic random DROP, both ways",
                          "senders": "even workers TCP (one connection each), odd UDP"})
