"""Load-balancer claims (claims.md §14): nginx's passive health checks, retries and timeouts
against real app servers that are killed, paused or cut off, and the balancer itself killed.

Run: ``pytest --sdconform suites/nginx``. Each reroute case breaks one app server for longer
than nginx's detection bound (``judges.detection_s``: max_fails attempts of at most
proxy_connect_timeout + proxy_read_timeout) plus a fail_timeout, and checks from
``$upstream_addr`` that requests were sent to it and then stopped going there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx import NginxInfo, judges
from pytest_sdconform.backends.nginx.client import HttpClient, Requests
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.reroute import RoutedAround
from pytest_sdconform.checkers.spof import WhileDown
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults.composite import InTurn
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("nginx")

BALANCING = nb.Balancing(max_fails=1, fail_timeout=2, connect_timeout=0.5, read_timeout=1.0)
DETECT = judges.detection_s(BALANCING)
# One fault per case that outlasts the detection bound by more than two re-try periods
# (fail_timeout), so that a balancer that never ejects the server would send it far more than
# the re-tries allow; the run ends before a second fault could start (quiet after the heal).
REROUTE = RunConfig(duration=10.0, quiet=2.0, fault_duration=DETECT + 3 * BALANCING.fail_timeout,
                    settle=1.0, op_delay=0.005, op_timeout=4.0)


def clients(cluster: Cluster[NginxInfo], timeout: float | None = None
            ) -> Callable[[int], HttpClient]:
    """Clients through the balancer; their timeout outlasts nginx's own worst answer (every
    try of proxy_next_upstream_tries at its connect and read timeouts)."""
    b = BALANCING
    worst = b.next_upstream_tries * (b.connect_timeout + b.read_timeout)
    return lambda i: HttpClient(cluster.info.lb, timeout=timeout or worst + 1.0)


def rerouted(cluster: Cluster[NginxInfo], fault: str) -> RoutedAround:
    return judges.rerouted(BALANCING, fault, cluster.info.addresses, len(cluster.info.apps))


@pytest.mark.claim("lb-health-reroute")
def test_a_killed_app_server_is_routed_around(sdconform: Case) -> None:
    """SIGKILL an app server: connections are refused, nginx retries on the next upstream
    (proxy_next_upstream error) and leaves it out for fail_timeout, then tries it again."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    sdconform.run(
        Requests(),
        clients(cluster),
        [cluster.kill(cluster.info.apps)],
        judge=rerouted(cluster, "kill"),
        checkers=[],
        run=REROUTE,
    )


@pytest.mark.claim("lb-health-reroute")
def test_a_paused_app_server_costs_a_read_timeout_per_detection(sdconform: Case) -> None:
    """SIGSTOP an app server: its kernel still accepts connections, so each request sent to it
    waits proxy_read_timeout, then GET/PUT are retried elsewhere and POST gets a 504."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    sdconform.run(
        Requests(),
        clients(cluster),
        [cluster.pause(cluster.info.apps)],
        judge=rerouted(cluster, "pause"),
        checkers=[],
        run=REROUTE,
    )


@pytest.mark.claim("lb-two-az-min")
def test_traffic_continues_when_one_app_server_is_cut_off(sdconform: Case) -> None:
    """Two app servers ("zones"); one is cut from the balancer and Redis: after one connect
    timeout per detection the survivor carries the traffic."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    nodes = list(cluster.info.addresses)
    cut = sdconform.fault(
        lambda: cluster.partition(cuts=[isolate(nodes, a) for a in cluster.info.apps])
    )
    sdconform.run(
        Requests(),
        clients(cluster),
        [cut],
        judge=rerouted(cluster, "partition"),
        checkers=[],
        run=REROUTE,
    )


# One kill of a balancer: the run ends before a second one could start.
BALANCER_DOWN = RunConfig(fault_duration=2.0, quiet=1.0, duration=3.6)


@pytest.mark.claim("lb-elb-inherently-ha")
def test_two_balancers_with_client_failover_stay_available(sdconform: Case) -> None:
    """A managed balancer is several balancers behind one name; the stand-in is two nginx with
    the same upstreams, and clients that connect to the second when the first refuses."""
    cluster = sdconform.start(nb.Topology(apps=2, balancers=2, balancing=BALANCING))
    lbs = cluster.info.lbs
    sdconform.run(
        Register(keys=2),
        lambda i: HttpClient(lbs[0], timeout=1.0, fallback=lbs[1:]),
        [cluster.kill(["lb"])],
        judge=WhileDown(claim="available", fault="kill", what="nginx lb (of two)"),
        checkers=[],
        config={"balancers": 2, "client": "fails over to lb2 when lb refuses"},
        run=BALANCER_DOWN,
    )


@pytest.mark.claim("lb-elb-inherently-ha", config="single-nginx")
def test_a_single_nginx_is_a_single_point_of_failure(sdconform: Case) -> None:
    """The claim is about a managed ELB; a self-run balancer alone does not inherit it."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    sdconform.run(
        Register(keys=2),
        clients(cluster, timeout=1.0),
        [cluster.kill(["lb"])],
        judge=WhileDown(claim="available", fault="kill", what="the only nginx"),
        checkers=[],
        config={"balancers": 1},
        run=BALANCER_DOWN,
    )


@pytest.mark.claim("nginx-active-health-checks")
def test_open_source_nginx_has_only_passive_health_checks(sdconform: Case, tmp_path: Path) -> None:
    """``health_check`` is NGINX Plus; the Debian binary rejects it. A paused server stays in
    the pool and keeps costing live requests a read timeout after every fail_timeout."""
    accepted, answer = nb.nginx_accepts(
        "health_check interval=1 fails=1 passes=1;", tmp_path / "nginx-t"
    )
    said = "accepted" if accepted else f"rejected ({answer.splitlines()[0] if answer else ''})"
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    sdconform.run(
        Register(keys=2),
        clients(cluster),
        [cluster.pause(["a1"])],
        # nginx's clock counts whole seconds: a failed server is tried again at most
        # fail_timeout + 1 s after it was found out.
        judge=judges.PassiveOnly(judges.upstream_routes(cluster.info.addresses),
                                 reprobe_s=BALANCING.fail_timeout + 1.0, health_check=said),
        checkers=[],
        config={"nginx_t_health_check": said},
        run=RunConfig(duration=9.0, quiet=1.0,
                      fault_duration=DETECT + 2 * (BALANCING.fail_timeout + 1.0), op_delay=0.05),
    )


@pytest.mark.claim("lb-health-reroute", config="back-to-back-failures")
def test_a_recovered_server_stays_out_for_fail_timeout(sdconform: Case) -> None:
    """Back-to-back failures: a1 dies and is restarted, then a2 dies. nginx still counts a1 as
    failed (its last failed try was within fail_timeout), so it has no live upstream at all
    although a1 is up: passive checks learn that a server is back only by trying it."""
    # The first kill outlasts fail_timeout plus a second (nginx's clock ticks in whole seconds,
    # so the re-try comes up to fail_timeout + 1 s after the first failure) plus a second of
    # margin, so nginx surely tries the dead a1 again and marks it failed anew shortly before
    # it is restarted (once, 8.5 s under load was too short: the re-try found a1 back). A long
    # fail_timeout leaves room for a slow restart (seconds, on a busy machine).
    b = nb.Balancing(max_fails=1, fail_timeout=8, connect_timeout=0.5, read_timeout=1.0)
    cluster = sdconform.start(nb.Topology(apps=2, balancing=b))
    # The app servers killed one after another (a1, a2, a1...), each restarted at the heal.
    in_turn = InTurn([cluster.kill([a]) for a in cluster.info.apps], name="kill")
    sdconform.run(
        Register(keys=2),
        clients(cluster),
        [in_turn],
        judge=judges.HealthyServerLeftOut(),
        checkers=[],
        run=RunConfig(duration=16.0, quiet=0.3, fault_duration=b.fail_timeout + 2.0,
                      op_delay=0.005),
        config={"faults": "a1 then a2 killed, 0.3 s after a1 is back"},
    )
