"""Load-balancer claims (claims.md §14): nginx's passive health checks, retries and timeouts
against real app servers that are killed, paused or cut off, and the balancer itself killed.

Run: ``pytest --sdconform suites/nginx``. Availability figures (failed requests and RTO per
fault, with their spread over the repeated faults) are in each case's judge reason and config.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient, Requests
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.history import Completed, FaultWindow, History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("nginx")

BALANCING = nb.Balancing(max_fails=1, fail_timeout=2, connect_timeout=0.5, read_timeout=1.0)
LEAD = 1.5  # seconds before a fault's record that count as its own (quiet is longer)
REPEATED = {
    "duration": 14.0,
    "quiet": 2.5,
    "fault_duration": 2.0,
    "settle": 1.0,
    "op_delay": 0.005,
    "op_timeout": 4.0,
}


def clients(cluster: Any, timeout: float = 3.0) -> Any:
    return lambda i: HttpClient(cluster.info["lb"], timeout=timeout)


def window_ops(history: History, w: FaultWindow, lead: float = 0.0) -> list[Completed]:
    """Client requests invoked in the window, or up to ``lead`` seconds before it: a fault is
    recorded once it is proven (a partition's probes take a while), after it began to bite."""
    end = w.end if w.end is not None else max(op.time for op in history)
    start = w.start - lead * 1e9
    return [
        c
        for c in history.complete()
        if not c.is_final and c.process != "nemesis" and start <= c.invoke.time <= end
    ]


def spread(xs: Sequence[float]) -> str:
    if not xs:
        return "none"
    return f"min {min(xs):g} / median {statistics.median(xs):g} / max {max(xs):g}"


def impact(
    history: History, fault: str, slow_s: float, config: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per window of ``fault``: requests made, failed (not ok), slow (ok but >= ``slow_s``),
    availability (ok share) and RTO: from the first hurt request's start to the last one's end,
    how long clients saw the fault (0 when none was hurt). Also stored in the case's config."""
    rows: list[dict[str, Any]] = []
    for w in history.fault_windows():
        if w.fault != fault:
            continue
        ops = window_ops(history, w, lead=LEAD)
        bad = [c for c in ops if c.type != "ok"]
        slow = [c for c in ops if c.type == "ok" and (c.latency or 0) >= slow_s * 1e9]
        ends = [c.completion.time if c.completion else c.invoke.time for c in bad + slow]
        starts = [c.invoke.time for c in bad + slow]
        rows.append(
            {
                "requests": len(ops),
                "failed": len(bad),
                "slow": len(slow),
                "availability": round(1 - len(bad) / len(ops), 3) if ops else None,
                "rto_s": round((max(ends) - min(starts)) / 1e9, 2) if ends else 0.0,
                "victim": (w.value or {}).get("nodes") if isinstance(w.value, dict) else None,
            }
        )
    config["per_fault"] = rows
    config["failed_per_fault"] = spread([r["failed"] for r in rows])
    config["rto_s_per_fault"] = spread([r["rto_s"] for r in rows])
    return rows


def summary(rows: list[dict[str, Any]]) -> str:
    shares = [r["availability"] for r in rows if r["availability"] is not None]
    return (
        f"{len(rows)} faults; failed requests per fault: "
        f"{spread([r['failed'] for r in rows])}; slow: {spread([r['slow'] for r in rows])}; "
        f"availability: {spread(shares)}; "
        f"RTO s: {spread([r['rto_s'] for r in rows])}"
    )


def rerouted_within(fault: str, b: nb.Balancing, config: dict[str, Any]) -> Any:
    """Upheld when, after each fault, failures and timeout-long requests stop within one
    detection period (fail_timeout plus the connect and read timeouts) and at most one request
    per client fails then: the balancer stopped sending traffic to the broken server."""
    bound = b.fail_timeout + b.connect_timeout + b.read_timeout * b.next_upstream_tries
    slow = min(b.connect_timeout, b.read_timeout) * 0.9

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        rows = impact(history, fault, slow, config)
        if not rows or not any(r["requests"] for r in rows):
            return INCONCLUSIVE, f"no request was made during a {fault}"
        late = [r for r in rows if r["rto_s"] > bound]
        if late:
            return REFUTED, (
                f"requests still failed or stalled {late[0]['rto_s']}s into a "
                f"{fault} (> {bound:g}s); " + summary(rows)
            )
        return UPHELD, f"traffic rerouted within {bound:g}s of each {fault}: " + summary(rows)

    return judge


@pytest.mark.claim("lb-health-reroute")
def test_a_killed_app_server_is_routed_around(sdconform: Any) -> None:
    """SIGKILL an app server: connections are refused, nginx retries on the next upstream
    (proxy_next_upstream error) and marks it failed for fail_timeout."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    config: dict[str, Any] = {}
    sdconform.run(
        Requests(),
        clients(cluster),
        [cluster.kill(cluster.info["apps"])],
        judge=rerouted_within("kill", BALANCING, config),
        checkers=[],
        config={"measured": config},
        **REPEATED,
    )


@pytest.mark.claim("lb-health-reroute")
def test_a_paused_app_server_costs_a_read_timeout_per_detection(sdconform: Any) -> None:
    """SIGSTOP an app server: its kernel still accepts connections, so each request sent to it
    waits proxy_read_timeout, then GET/PUT are retried elsewhere and POST gets a 504."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    config: dict[str, Any] = {}
    sdconform.run(
        Requests(),
        clients(cluster),
        [cluster.pause(cluster.info["apps"])],
        judge=rerouted_within("pause", BALANCING, config),
        checkers=[],
        config={"measured": config},
        **REPEATED,
    )


@pytest.mark.claim("lb-two-az-min")
def test_traffic_continues_when_one_app_server_is_cut_off(sdconform: Any) -> None:
    """Two app servers ("zones"); one is cut from the balancer and Redis: after one connect
    timeout per detection the survivor carries the traffic."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    nodes = list(cluster.info["addresses"])
    cut = sdconform.fault(
        lambda: cluster.partition(cuts=[isolate(nodes, a) for a in cluster.info["apps"]])
    )
    config: dict[str, Any] = {}
    sdconform.run(
        Requests(),
        clients(cluster),
        [cut],
        judge=rerouted_within("partition", BALANCING, config),
        checkers=[],
        config={"measured": config},
        **REPEATED,
    )


def balancer_down(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Refuted (the balancer is a single point of failure) when every request made while the
    only nginx was down failed; upheld if any succeeded."""
    windows = [w for w in history.fault_windows() if w.fault == "kill"]
    inside = [
        c
        for w in windows
        for c in window_ops(history, w)
        if c.completion is not None and (w.end is None or c.completion.time < w.end)
    ]
    ok = [c for c in inside if c.type == "ok"]
    if not inside:
        return INCONCLUSIVE, "no request was made while nginx was down"
    if ok:
        return UPHELD, f"{len(ok)} of {len(inside)} requests succeeded while nginx was down"
    return REFUTED, (
        f"all {len(inside)} requests made while the only nginx was down failed: "
        "a single balancer is a single point of failure"
    )


@pytest.mark.claim("lb-elb-inherently-ha", expected="refuted")
def test_a_single_nginx_is_a_single_point_of_failure(sdconform: Any) -> None:
    """The claim is about a managed ELB; a self-run balancer alone does not inherit it."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    sdconform.run(
        Register(keys=2),
        clients(cluster, timeout=1.0),
        [cluster.kill(["lb"])],
        judge=balancer_down,
        checkers=[],
        fault_duration=2.0,
        quiet=1.0,
        config={"balancers": 1},
    )


def passive_only(b: nb.Balancing, accepted: bool, answer: str, config: dict[str, Any]) -> Any:
    """Refuted when the binary has no active health check (``nginx -t`` rejects
    ``health_check``) and a paused server kept receiving live requests after it was first
    detected: only failed client requests find it out, again after every fail_timeout."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        probes = 0
        for w in history.fault_windows():
            if w.fault != "pause" or not isinstance(w.value, dict):
                continue
            victim = history_address(config, w.value.get("nodes", []))
            # The first detection is the requests in flight when it stopped; later ones are
            # sent after a read timeout has marked it failed: re-probes by live traffic.
            after = w.start + (b.read_timeout + 0.25) * 1e9
            probes += sum(
                1
                for c in window_ops(history, w)
                if c.invoke.time > after
                and c.completion is not None
                and victim in str(c.completion.get("upstream") or "")
            )
        config["requests_sent_to_paused_server_after_detection"] = probes
        check = "accepted" if accepted else f"rejected ({answer.splitlines()[0]})"
        if accepted:
            return UPHELD, f"nginx -t accepted health_check: {check}"
        if probes == 0:
            return INCONCLUSIVE, f"health_check {check}, but no request re-tried the paused server"
        return REFUTED, (
            f"health_check {check}; detection is passive only: {probes} client "
            "requests were sent to the paused server after it was first detected"
        )

    return judge


def history_address(config: dict[str, Any], nodes: list[str]) -> str:
    addresses = config.get("addresses", {})
    return f"{addresses.get(nodes[0], '?')}:" if nodes else "?"


@pytest.mark.claim("nginx-active-health-checks")
def test_open_source_nginx_has_only_passive_health_checks(sdconform: Any, tmp_path: Any) -> None:
    """``health_check`` is NGINX Plus; the Debian binary rejects it. A paused server stays in
    the pool and keeps costing live requests a read timeout after every fail_timeout."""
    accepted, answer = nb.nginx_accepts(
        "health_check interval=1 fails=1 passes=1;", tmp_path / "nginx-t"
    )
    cluster = sdconform.start(nb.Topology(apps=2, balancing=BALANCING))
    config: dict[str, Any] = {
        "nginx_t_health_check": "accepted" if accepted else answer,
        "addresses": dict(cluster.info["addresses"]),
    }
    sdconform.run(
        Register(keys=2),
        clients(cluster),
        [cluster.pause(["a1"])],
        judge=passive_only(BALANCING, accepted, answer, config),
        checkers=[],
        config={"measured": config},
        duration=8.0,
        quiet=1.0,
        fault_duration=6.0,
        op_delay=0.05,
    )


class KillInTurn:
    """Kill the app servers one after another (a1, a2, a1...), each restarted at the heal."""

    name = "kill"

    def __init__(self, kill: Any, nodes: Sequence[Any]):
        self.kill, self.nodes, self.turn = kill, list(nodes), 0

    def start(self) -> dict[str, Any]:
        node = self.nodes[self.turn % len(self.nodes)]
        self.turn += 1
        return dict(self.kill.start([node]))

    def stop(self) -> dict[str, Any]:
        return dict(self.kill.stop())


def healthy_server_left_out(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Refuted when nginx answered "no live upstreams" (502, no upstream tried) while the
    server killed before had been restarted and was ready: it was still marked failed."""
    windows = [w for w in history.fault_windows() if w.fault == "kill"]
    if len(windows) < 2:
        return INCONCLUSIVE, "fewer than two kills: no server was back when another died"
    refused = []
    for w in windows[1:]:
        refused += [
            c
            for c in window_ops(history, w)
            if c.type != "ok"
            and c.completion is not None
            and str(c.completion.get("upstream")).split(", ")[-1] == "app"
        ]
    if not refused:
        return UPHELD, "every kill after the first was routed around the restarted server"
    span = (max(c.invoke.time for c in refused) - min(c.invoke.time for c in refused)) / 1e9
    return REFUTED, (
        f"{len(refused)} requests got 502 'no live upstreams' over {span:.1f}s while the "
        "server killed before was running again: it stays marked failed for fail_timeout"
    )


@pytest.mark.claim("lb-health-reroute", expected="refuted")
def test_a_recovered_server_stays_out_for_fail_timeout(sdconform: Any) -> None:
    """Back-to-back failures: a1 dies and is restarted, then a2 dies. nginx still counts a1 as
    failed (its last failed try was within fail_timeout), so it has no live upstream at all
    although a1 is up: passive checks learn that a server is back only by trying it."""
    # The first kill outlasts fail_timeout (nginx's clock ticks in whole seconds), so nginx
    # tries the dead a1 again and marks it failed anew shortly before it is restarted. A long
    # fail_timeout leaves room for a slow restart (seconds, on a busy machine).
    b = nb.Balancing(max_fails=1, fail_timeout=8, connect_timeout=0.5, read_timeout=1.0)
    cluster = sdconform.start(nb.Topology(apps=2, balancing=b))
    nodes = [cluster.node(a) for a in cluster.info["apps"]]
    sdconform.run(
        Register(keys=2),
        clients(cluster),
        [KillInTurn(cluster.kill(), nodes)],
        judge=healthy_server_left_out,
        checkers=[],
        duration=16.0,
        quiet=0.3,
        fault_duration=8.5,
        op_delay=0.005,
        config={"faults": "a1 then a2 killed, 0.3 s after a1 is back"},
    )
