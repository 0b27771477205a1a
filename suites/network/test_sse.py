"""Server-sent events (claims.md, sse-recover-missed): does a subscriber that lost its
connection get the events published meanwhile?

Run: ``pytest --sdconform suites/network``. One SSE server of ours with its event log in a
file; publishers post to it directly, two subscribers (our EventSource: reconnects after the
server's ``retry:`` with ``Last-Event-ID``) stream through a toxiproxy. Faults in turn: the
subscribers' connections reset (toxiproxy reset_peer: every stream and every reconnection
attempt) while the publishers go on, then the server killed and restarted on its log.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import sse
from pytest_sdconform.case import Case
from pytest_sdconform.faults.composite import InTurn
from pytest_sdconform.faults.latency import ResetPeer, RoundTrip
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.log import Log

pytestmark = pytest.mark.backend("sse")

# op_timeout: the final drain may wait out client.DRAIN_IDLE_S after the last progress.
RUN = RunConfig(quiet=1.0, fault_duration=1.5, op_delay=0.01, settle=0.5, op_timeout=8.0)


def run_case(sdconform: Case, replay: bool) -> None:
    cluster = sdconform.start(sse.Topology(replay=replay))
    proxies = sdconform.fault(cluster.toxiproxy)
    server = f"{cluster.info.address}:{sse.PORT}"
    through = proxies.proxy("sse", server)
    probe = RoundTrip(payload=b"GET /head HTTP/1.0\r\n\r\n", timeout=1.0)
    faults = InTurn([ResetPeer(proxies.client, [through], probe=probe, samples=2),
                     cluster.kill(["n1"])])
    with sse.Subscribers((through.host, through.port), count=2) as subscribers:
        sdconform.run(Log(poll_ratio=0.3),
                      lambda i: sse.SseClient(cluster.info.endpoint(), subscribers, i),
                      [faults], checkers=[], judge=sse.EventsRecovered(), run=RUN,
                      config={"subscribers": "2 EventSources through toxiproxy",
                              "publishers": "direct to the server",
                              "faults": "subscribers' connections reset, then server kill"})


@pytest.mark.claim("sse-recover-missed")
def test_subscribers_get_every_event_missed_while_cut_off_from_a_replaying_server(
        sdconform: Case) -> None:
    """The server answers Last-Event-ID with the events after it: each subscriber, back after
    a reset or the server's restart, receives what was published while it was away."""
    run_case(sdconform, replay=True)


@pytest.mark.claim("sse-recover-missed", config="server-ignores-last-event-id")
def test_events_published_while_cut_off_are_lost_when_the_server_only_broadcasts(
        sdconform: Case) -> None:
    """The EventSource reconnects and sends Last-Event-ID all the same, but the server only
    broadcasts what comes next: the events published while a subscriber was away never reach
    it. The recovery is the server's doing, not the protocol's."""
    run_case(sdconform, replay=False)
