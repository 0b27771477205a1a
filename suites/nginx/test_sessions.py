"""Session claims (claims.md §14): sticky sessions, ip_hash persistence, and sessions kept in
Redis behind a stateless app tier.

Each client thread is one user: its requests carry the cookie ``sid=s<i>`` and its keys are its
own (a cart). With ``store="memory"`` an app server keeps its users' data in its own memory.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient, probe
from pytest_sdconform.checkers.linearizable import LinearizabilityChecker
from pytest_sdconform.checkers.sessions import SessionsChecker
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("nginx")

STICKY = nb.Balancing(method="hash $cookie_sid consistent")
RUN = {
    "duration": 10.0,
    "quiet": 1.5,
    "fault_duration": 3.0,
    "settle": 1.0,
    "op_timeout": 4.0,
    "op_delay": 0.01,
}

# Six users, mostly reading: a user moved to another server usually reads before it writes
# again, which is when the loss shows (a write first would hide it).
USERS = 6
STICKY_RUN = {**RUN, "concurrency": USERS}


def users(cluster: Any) -> Any:
    return lambda i: HttpClient(cluster.info["lb"], session=f"s{i}", namespace=True)


def busiest(cluster: Any, sessions: int) -> str:
    """The app server that most users' cookies hash to (the one whose death hurts most)."""
    homes = [probe(cluster.info["lb"], f"s{i}") for i in range(sessions)]
    named = [h for h in homes if h]
    if not named:
        pytest.fail("no app server answered through nginx before the run")
    return max(set(named), key=named.count)


def before_first_fault(history: History) -> int | None:
    """Half a second before the first fault was recorded: a kill is recorded once it is done,
    so a request that completed just before the record may already have met it."""
    windows = history.fault_windows()
    return windows[0].start - 500_000_000 if windows else None


def lost_on_failover(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """The catalogue's criterion: session data stays consistent on its server while that server
    is up (each user sticks to one server, no session anomaly before the first fault) and is
    lost when the server dies (read-your-writes broken after nginx moves the user)."""
    start = before_first_fault(history)
    if start is None:
        return INCONCLUSIVE, "no fault was injected"
    homes: dict[Any, set[str]] = {}
    for c in history.complete():
        if c.completion is not None and c.type == "ok" and c.completion.time < start:
            homes.setdefault(c.process, set()).add(str(c.completion.node))
    moved = sorted(str(p) for p, h in homes.items() if len(h) > 1)
    anomalies = verdicts["sessions"].anomalies
    times = [max(history[i].time for i in a.ops) for a in anomalies]
    early = [t for t in times if t < start]
    if moved or early:
        return REFUTED, (
            f"not consistent on a healthy server: users {moved} moved before any "
            f"fault; {len(early)} session anomalies before it"
        )
    if not anomalies:
        return REFUTED, "no session data was lost when a user's server died"
    kinds = sorted({a.kind for a in anomalies})
    return UPHELD, (
        f"{len(homes)} users each stuck to one server while it was up; after it "
        f"died, {len(anomalies)} session anomalies ({', '.join(kinds)}): the "
        "session data did not survive failover"
    )


@pytest.mark.claim("lb-sticky-sessions")
def test_sticky_sessions_lose_server_side_state_on_failover(sdconform: Any) -> None:
    cluster = sdconform.start(nb.Topology(apps=2, store="memory", balancing=STICKY))
    victim = busiest(cluster, USERS)
    sdconform.run(
        Register(keys=1, read_ratio=0.9),
        users(cluster),
        [cluster.kill([victim])],
        checkers=[SessionsChecker()],
        judge=lost_on_failover,
        config={"sessions": "app server memory", "killed": victim},
        **STICKY_RUN,
    )


@pytest.mark.claim("lb-ryw-sticky-node", expected="refuted")
def test_read_your_writes_via_stickiness_breaks_when_the_node_dies(sdconform: Any) -> None:
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
        **STICKY_RUN,
    )


@pytest.mark.claim("lb-stateless-redis-sessions")
def test_sessions_in_redis_survive_an_app_server_kill(sdconform: Any) -> None:
    """Round robin over stateless app servers; session data lives in Redis. A killed app
    server costs no session data: read-your-writes and linearizability hold for every user."""
    cluster = sdconform.start(nb.Topology(apps=2, store="redis"))
    # One shared register (no per-user keys), so linearizability is checked across users too.
    sdconform.run(
        Register(keys=1, read_ratio=0.5),
        lambda i: HttpClient(cluster.info["lb"], session=f"s{i}"),
        [cluster.kill(cluster.info["apps"])],
        checkers=[SessionsChecker(), LinearizabilityChecker("cas-register", 30.0)],
        decide_by=["sessions", "linearizable"],
        config={"sessions": "redis"},
        **RUN,
    )


def stays_on_one_backend(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Upheld when, outside the faults, every request from the one client address went to the
    same app server, and during the kill of that server it was remapped to another."""
    windows = history.fault_windows()
    if not windows:
        return INCONCLUSIVE, "no fault was injected"
    home: dict[str, int] = {}
    remapped: dict[str, int] = {}
    for c in history.complete():
        if c.completion is None or c.type != "ok" or c.is_final:
            continue
        t = c.completion.time
        during = any(w.start <= c.invoke.time and (w.end is None or t <= w.end) for w in windows)
        if not during and all(
            w.end is None or c.invoke.time > w.end + 5e9 or t < w.start - 5e8 for w in windows
        ):
            home[str(c.completion.node)] = home.get(str(c.completion.node), 0) + 1
        elif during:
            remapped[str(c.completion.node)] = remapped.get(str(c.completion.node), 0) + 1
    victims = {n for w in windows if isinstance(w.value, dict) for n in w.value.get("nodes", [])}
    if len(home) != 1:
        return REFUTED, f"one client address was spread over {home} while all servers were up"
    target = next(iter(home))
    moved = {n: k for n, k in remapped.items() if n not in victims}
    if not moved:
        return REFUTED, f"nothing was served while {sorted(victims)} was down: not remapped"
    return UPHELD, (
        f"all {home[target]} requests went to {target} while it was up; during its "
        f"kill they were remapped to {moved}"
    )


@pytest.mark.claim("nginx-ip-hash-persistence")
def test_ip_hash_sends_one_client_address_to_one_server(sdconform: Any) -> None:
    """ip_hash keys on the first three octets of the client's IPv4 address: every request of
    this harness goes to one server; when it dies they move, and come back after fail_timeout
    once it is up again (requests within 5 s after the heal, or 0.5 s before the kill was
    recorded, are not counted)."""
    cluster = sdconform.start(nb.Topology(apps=3, balancing=nb.Balancing(method="ip_hash")))
    target = probe(cluster.info["lb"])
    if target is None:
        pytest.fail("no app server answered through nginx before the run")
    sdconform.run(
        Register(keys=2),
        lambda i: HttpClient(cluster.info["lb"]),
        [cluster.kill([target])],
        judge=stays_on_one_backend,
        checkers=[],
        config={"killed": target},
        **RUN,
    )
