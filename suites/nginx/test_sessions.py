"""Session claims (claims.md §14): sticky sessions, ip_hash persistence, and sessions kept in
Redis behind a stateless app tier.

Each client thread is one user: its requests carry the cookie ``sid=s<i>`` and its keys are its
own (a cart). With ``store="memory"`` an app server keeps its users' data in its own memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx import NginxInfo, judges
from pytest_sdconform.backends.nginx.client import HttpClient, probe
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.judge import Checkers
from pytest_sdconform.checkers.linearizable import LinearizabilityChecker
from pytest_sdconform.checkers.sessions import SessionsChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("nginx")

STICKY = nb.Balancing(method="hash $cookie_sid consistent")
RUN = RunConfig(duration=10.0, quiet=1.5, fault_duration=3.0, settle=1.0, op_timeout=4.0,
                op_delay=0.01)

# Six users, mostly reading: a user moved to another server usually reads before it writes
# again, which is when the loss shows (a write first would hide it).
USERS = 6
STICKY_RUN = replace(RUN, concurrency=USERS)


def users(cluster: Cluster[NginxInfo]) -> Callable[[int], HttpClient]:
    return lambda i: HttpClient(cluster.info.lb, session=f"s{i}", namespace=True)


def busiest(cluster: Cluster[NginxInfo], sessions: int) -> str:
    """The app server that most users' cookies hash to (the one whose death hurts most)."""
    homes = [probe(cluster.info.lb, f"s{i}") for i in range(sessions)]
    named = [h for h in homes if h]
    if not named:
        pytest.fail("no app server answered through nginx before the run")
    return max(set(named), key=named.count)


@pytest.mark.claim("lb-sticky-sessions")
def test_sticky_sessions_lose_server_side_state_on_failover(sdconform: Case) -> None:
    cluster = sdconform.start(nb.Topology(apps=2, store="memory", balancing=STICKY))
    victim = busiest(cluster, USERS)
    sdconform.run(
        Register(keys=1, read_ratio=0.9),
        users(cluster),
        [cluster.kill([victim])],
        checkers=[SessionsChecker()],
        judge=judges.LostOnFailover(judges.upstream_routes(cluster.info.addresses)),
        config={"sessions": "app server memory", "killed": victim},
        run=STICKY_RUN,
    )


@pytest.mark.claim("lb-ryw-sticky-node")
def test_sticky_sessions_to_a_healthy_node_read_their_writes(sdconform: Case) -> None:
    """The claim as documented: each user sticks to one node (hash on its cookie), which keeps
    its data in memory; while that node is healthy every user reads its own writes."""
    cluster = sdconform.start(nb.Topology(apps=2, store="memory", balancing=STICKY))
    rule = judges.reads_follow_own_writes(USERS)
    sdconform.run(
        Register(keys=1, read_ratio=0.7),
        users(cluster),
        [],
        checkers=[SessionsChecker()],
        judge=Checkers(["sessions"], rule, rule.__doc__ or ""),
        config={"sessions": "app server memory", "nodes": "healthy"},
        run=replace(STICKY_RUN, duration=5.0),
    )


@pytest.mark.claim("lb-ryw-sticky-node", config="sticky-node-killed")
def test_read_your_writes_via_stickiness_breaks_when_the_node_dies(sdconform: Case) -> None:
    """Read-your-writes holds while the sticky node lives; killing it re-routes its users to a
    node that never saw their writes."""
    cluster = sdconform.start(nb.Topology(apps=2, store="memory", balancing=STICKY))
    victim = busiest(cluster, USERS)
    sdconform.run(
        Register(keys=1, read_ratio=0.9),
        users(cluster),
        [cluster.kill([victim])],
        checkers=[SessionsChecker()],
        decide_by=["sessions"],
        config={"sessions": "app server memory", "killed": victim},
        run=STICKY_RUN,
    )


@pytest.mark.claim("lb-stateless-redis-sessions")
def test_sessions_in_redis_survive_an_app_server_kill(sdconform: Case) -> None:
    """Round robin over stateless app servers; session data lives in Redis. A killed app
    server costs no session data: read-your-writes and linearizability hold for every user."""
    cluster = sdconform.start(nb.Topology(apps=2, store="redis"))
    # One shared register (no per-user keys), so linearizability is checked across users too.
    sdconform.run(
        Register(keys=1, read_ratio=0.5),
        lambda i: HttpClient(cluster.info.lb, session=f"s{i}"),
        [cluster.kill(cluster.info.apps)],
        checkers=[SessionsChecker(), LinearizabilityChecker("cas-register", 30.0)],
        decide_by=["sessions", "linearizable"],
        config={"sessions": "redis"},
        run=RUN,
    )


@pytest.mark.claim("nginx-ip-hash-persistence")
def test_ip_hash_sends_one_client_address_to_one_server(sdconform: Case) -> None:
    """ip_hash keys on the first three octets of the client's IPv4 address: every request of
    this harness goes to one server; when it dies they move, and come back after fail_timeout
    once it is up again (requests after the heal are not counted)."""
    cluster = sdconform.start(nb.Topology(apps=3, balancing=nb.Balancing(method="ip_hash")))
    target = probe(cluster.info.lb)
    if target is None:
        pytest.fail("no app server answered through nginx before the run")
    sdconform.run(
        Register(keys=2),
        lambda i: HttpClient(cluster.info.lb),
        [cluster.kill([target])],
        judge=judges.StaysOnOneBackend(judges.upstream_routes(cluster.info.addresses)),
        checkers=[],
        config={"killed": target},
        run=RUN,
    )
