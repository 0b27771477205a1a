"""The nginx suite's judges on synthetic histories: each one violated (refuted), not exercised
(inconclusive through ``outcome.decide``) and holding (upheld)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from pytest_sdconform.backends.nginx import judges
from pytest_sdconform.backends.nginx.conf import Balancing
from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD, Checkers
from pytest_sdconform.checkers.spof import WhileDown
from pytest_sdconform.checkers.verdict import Anomaly, Verdict
from pytest_sdconform.history import NEMESIS, History, Operation
from pytest_sdconform.outcome import decide

ADDRESSES = {"lb": "10.0.0.9", "a1": "10.0.0.2", "a2": "10.0.0.3", "a3": "10.0.0.4"}
ROUTES = judges.upstream_routes(ADDRESSES)
B = Balancing(max_fails=1, fail_timeout=2, connect_timeout=0.5, read_timeout=1.0)


class Build:
    """Requests through nginx: ``via`` the app servers tried (``"app"``: none was live)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []

    def req(self, t: float, p: int, typ: str = "ok", via: Sequence[str] = ("a2",),
            f: str = "read", key: str = "k0", value: Any = None, took: float = 0.01,
            status: int | None = None) -> Build:
        upstream = ", ".join(f"{ADDRESSES[n]}:8080" if n in ADDRESSES else n for n in via)
        extra: dict[str, Any] = {"upstream": upstream or None,
                                 "status": status or (200 if typ == "ok" else 502)}
        node = via[-1] if typ == "ok" and via else None
        self.events.append((t, {"process": p, "type": "invoke", "f": f, "key": key,
                                "value": value if f != "read" else None}))
        self.events.append((t + took, {"process": p, "type": typ, "f": f, "key": key,
                                       "value": value, "node": node, "extra": extra}))
        return self

    def fault(self, name: str, start: float, stop: float | None, value: Any = None) -> Build:
        self.events.append((start, {"process": NEMESIS, "type": "info", "f": f"{name}-start",
                                    "value": value}))
        if stop is not None:
            self.events.append((stop, {"process": NEMESIS, "type": "info", "f": f"{name}-stop"}))
        return self

    def traffic(self, until: float, via: Callable[[int, float], Sequence[str]],
                step: float = 0.05, clients: int = 4, f: str = "read",
                typ: Callable[[float], str] = lambda t: "ok") -> Build:
        n = itertools.count()
        for p in range(clients):
            t = p * step / clients
            while t < until:
                self.req(t, p, typ(t), via(next(n), t), f=f)
                t += step
        return self

    def history(self) -> History:
        events = sorted(self.events, key=lambda e: e[0])
        return History([Operation(i, int(t * 1e9), **e) for i, (t, e) in enumerate(events)])


def alternate(i: int) -> str:
    return "a1" if i % 2 else "a2"


# --- routes and bounds -------------------------------------------------------------------------


def test_upstream_routes_name_every_attempt() -> None:
    h = (Build().req(0, 1, via=["a1", "a2"]).req(1, 2, "fail", via=["app"])
         .req(2, 3, "fail", via=[]).history())
    c1, c2, c3 = h.complete()
    assert ROUTES(c1) == ["a1", "a2"] and ROUTES(c2) == [] and ROUTES(c3) == []
    assert judges.no_live_upstream(c2) and not judges.no_live_upstream(c1)
    assert not judges.no_live_upstream(c3)


def test_the_detection_bound_comes_from_the_timeouts() -> None:
    assert judges.detection_s(B) == 1.5
    assert judges.detection_s(Balancing(max_fails=2, connect_timeout=1, read_timeout=2)) == 6
    j = judges.rerouted(B, "pause", ADDRESSES, 2)
    assert j.detect_s == 1.5 and j.reprobe_s == 2.0 and j.probes == 1


# --- lb-health-reroute: rerouted (kill, pause, partition) ---------------------------------------


def paused(via: Callable[[int, float], Sequence[str]], end: float = 9.5) -> History:
    return (Build().traffic(11.0, via).fault("pause", 2.0, end, {"nodes": ["a1"]}).history())


def test_a_balancer_that_keeps_sending_to_the_paused_server_all_pause_is_refuted() -> None:
    """nginx that never ejects a paused server: half the requests try a1 for the whole pause."""
    h = paused(lambda i, t: ["a1", "a2"] if i % 2 and 2 <= t < 9.5 else [alternate(i)])
    d = decide(h, {}, judges.rerouted(B, "pause", ADDRESSES, 2), faults=["pause"])
    assert d.outcome == REFUTED and d.attributed, d.reason
    assert "a1" in d.reason and {a["kind"] for a in d.anomalies} == {"routed-to-failed-server"}


def nginx_like(end: float = 9.5) -> Callable[[int, float], Sequence[str]]:
    """a1 chosen in turn until its first read timeout (1 s in), then once per fail_timeout."""
    probes = [5.0, 8.0]

    def via(i: int, t: float) -> Sequence[str]:
        if not 2.0 <= t < end:
            return [alternate(i)]
        if t < 3.0:
            return ["a1", "a2"] if i % 2 else ["a2"]
        if probes and t >= probes[0]:
            probes.pop(0)
            return ["a1", "a2"]
        return ["a2"]

    return via


def test_nginx_ejecting_the_paused_server_is_upheld() -> None:
    d = decide(paused(nginx_like()), {}, judges.rerouted(B, "pause", ADDRESSES, 2),
               faults=["pause"])
    assert d.outcome == UPHELD and d.exercised, d.reason


def test_a_pause_no_longer_than_the_old_one_is_not_exercised() -> None:
    """The old case paused for 2 s against a 4.5 s bound: nothing it saw could refute."""
    h = paused(nginx_like(end=4.0), end=4.0)
    d = decide(h, {}, judges.rerouted(B, "pause", ADDRESSES, 2), faults=["pause"])
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


def test_a_partitioned_server_is_named_by_the_isolate_cut() -> None:
    cut = {"shape": "isolate", "groups": [["a1"], ["a2", "lb", "r1"]]}
    h = (Build().traffic(11.0, nginx_like()).fault("partition", 2.0, 9.5, cut).history())
    d = decide(h, {}, judges.rerouted(B, "partition", ADDRESSES, 2), faults=["partition"])
    assert d.outcome == UPHELD, d.reason


# --- lb-health-reroute under back-to-back failures ------------------------------------------------


def in_turn(refused: bool, second: str = "a2") -> Build:
    b = Build().fault("kill", 1.0, 5.0, {"nodes": ["a1"]}).fault("kill", 6.0, 10.0,
                                                                {"nodes": [second]})
    b.req(0.5, 1).req(2.0, 1, via=["a2"]).req(7.0, 1, via=["a1"])
    if refused:
        b.req(7.5, 2, "fail", via=["app"]).req(7.6, 2, "fail", via=["app"])
    return b


def test_no_live_upstream_while_the_restarted_server_runs_is_refuted() -> None:
    d = decide(in_turn(True).history(), {}, judges.HealthyServerLeftOut(), faults=["kill"])
    assert d.outcome == REFUTED and d.attributed and "no live upstreams" in d.reason


def test_the_restarted_server_taking_over_is_upheld() -> None:
    d = decide(in_turn(False).history(), {}, judges.HealthyServerLeftOut(), faults=["kill"])
    assert d.outcome == UPHELD, d.reason


def test_one_kill_or_the_same_server_twice_is_not_exercised() -> None:
    one = Build().fault("kill", 1.0, 5.0, {"nodes": ["a1"]}).req(2.0, 1).history()
    d = decide(one, {}, judges.HealthyServerLeftOut(), faults=["kill"])
    assert d.outcome == INCONCLUSIVE
    twice = in_turn(False, second="a1").history()
    d = decide(twice, {}, judges.HealthyServerLeftOut(), faults=["kill"])
    assert d.outcome == INCONCLUSIVE and "twice in a row" in d.reason


# --- nginx-active-health-checks -----------------------------------------------------------------


def passive(late_probe: bool, end: float = 8.5) -> History:
    b = Build().fault("pause", 1.0, end, {"nodes": ["a1"]})
    b.traffic(end + 0.5, lambda i, t: ["a2"], step=0.2)
    b.req(1.1, 7, via=["a1", "a2"], took=1.0)  # found out at 2.1 s
    if late_probe:
        b.req(5.5, 8, via=["a1", "a2"], took=1.0)
    return b.history()


def passive_judge() -> judges.PassiveOnly:
    return judges.PassiveOnly(ROUTES, reprobe_s=3.0, health_check="rejected")


def test_live_requests_sent_to_the_paused_server_after_detection_refute() -> None:
    d = decide(passive(True), {}, passive_judge(), faults=["pause"])
    assert d.outcome == REFUTED and d.attributed and "passive only" in d.reason


def test_no_live_request_after_detection_upholds() -> None:
    d = decide(passive(False), {}, passive_judge(), faults=["pause"])
    assert d.outcome == UPHELD, d.reason


def test_a_pause_too_short_for_a_re_try_is_not_exercised() -> None:
    d = decide(passive(False, end=4.0), {}, passive_judge(), faults=["pause"])
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason
    unseen = (Build().fault("pause", 1.0, 8.5, {"nodes": ["a1"]})
              .traffic(9.0, lambda i, t: ["a2"], step=0.2).history())
    assert decide(unseen, {}, passive_judge(), faults=["pause"]).outcome == INCONCLUSIVE


# --- reconfiguration ------------------------------------------------------------------------------


def reloads(fail: bool, busy: bool = True) -> History:
    b = Build().fault("reload", 1.0, 1.3).fault("reload", 2.0, 2.3)
    b.traffic(3.0 if busy else 0.9, lambda i, t: [alternate(i)], step=0.1,
              typ=lambda t: "fail" if fail and 2.1 < t < 2.2 else "ok")
    return b.history()


def test_a_failed_request_across_reloads_refutes() -> None:
    d = decide(reloads(True), {}, judges.NoFailedRequests("reload"), faults=["reload"])
    assert d.outcome == REFUTED and d.attributed


def test_every_request_succeeding_across_reloads_upholds() -> None:
    d = decide(reloads(False), {}, judges.NoFailedRequests("reload"), faults=["reload"])
    assert d.outcome == UPHELD, d.reason


def test_reloads_with_no_request_in_flight_are_not_exercised() -> None:
    d = decide(reloads(False, busy=False), {}, judges.NoFailedRequests("reload"),
               faults=["reload"])
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


# --- http-idempotent-methods ----------------------------------------------------------------------


def posts(to_paused: bool) -> History:
    b = Build().fault("pause", 1.0, 3.5, {"nodes": ["a1"]}).req(0.5, 1, f="send", value=1)
    if to_paused:
        b.req(1.5, 2, "info", via=["a1"], f="send", value=2, took=1.0, status=504)
    b.req(1.6, 3, via=["a1", "a2"], f="write", value=3, took=1.0)
    return b.history()


def delivery(result: str, anomalies: Sequence[Anomaly] = ()) -> dict[str, Verdict]:
    return {"delivery": Verdict("delivery", result, list(anomalies),  # type: ignore[arg-type]
                                {"duplicates": len(anomalies), "lost": 0})}


def test_a_post_applied_twice_refutes() -> None:
    h = posts(True)
    dup = Anomaly("duplicate", [h.complete()[1].invoke.index], "applied twice")
    d = decide(h, delivery("invalid", [dup]), judges.PostAtMostOnce(ROUTES), faults=["pause"])
    assert d.outcome == REFUTED and d.attributed


def test_posts_applied_at_most_once_uphold_and_count_retries() -> None:
    j = judges.PostAtMostOnce(ROUTES)
    d = decide(posts(True), delivery("valid"), j, faults=["pause"])
    assert d.outcome == UPHELD, d.reason
    assert j.seen["post_504_not_retried"] == 1 and j.seen["retried_by_method"] == {"PUT": 1}


def test_no_post_sent_to_the_paused_server_is_not_exercised() -> None:
    d = decide(posts(False), delivery("valid"), judges.PostAtMostOnce(ROUTES), faults=["pause"])
    assert d.outcome == INCONCLUSIVE and "not exercised" in d.reason


# --- sessions -------------------------------------------------------------------------------------


def sticky(user0_moves: bool = True, spread: bool = False) -> History:
    """User 0 lives on a1, user 1 on a2; a1 is killed at 2 s."""
    b = Build().fault("kill", 2.0, 5.0, {"nodes": ["a1"]})
    b.req(0.1, 0, via=["a1"], f="write", value=1).req(0.2, 0, via=["a1"])
    b.req(0.3, 1, via=["a2"], f="write", value=2).req(0.4, 1, via=["a2"])
    if spread:
        b.req(0.5, 0, via=["a2"])
    if user0_moves:
        b.req(2.5, 0, via=["a1", "a2"])  # re-routed: a2 never saw user 0's write
    b.req(2.6, 1, via=["a2"])
    return b.history()


def sessions(h: History, lost: bool) -> dict[str, Verdict]:
    moved = [c for c in h.complete() if c.process == 0 and c.invoke.time > 2e9]
    anomalies = [Anomaly("read-your-writes", [0, moved[0].completion.index],  # type: ignore
                         "read null after own write")] if lost and moved else []
    return {"sessions": Verdict("sessions", "invalid" if anomalies else "valid", anomalies)}


def test_sticky_sessions_keeping_data_across_failover_refute() -> None:
    h = sticky()
    d = decide(h, sessions(h, lost=False), judges.LostOnFailover(ROUTES), faults=["kill"])
    assert d.outcome == REFUTED and d.attributed and "no session data was lost" in d.reason


def test_a_user_spread_over_servers_while_healthy_refutes() -> None:
    h = sticky(spread=True)
    ruling = judges.LostOnFailover(ROUTES).rule(h, sessions(h, lost=True))
    assert ruling.outcome == REFUTED and "moved before any fault" in ruling.reason


def test_session_data_lost_on_failover_upholds() -> None:
    h = sticky()
    d = decide(h, sessions(h, lost=True), judges.LostOnFailover(ROUTES), faults=["kill"])
    assert d.outcome == UPHELD, d.reason


def test_no_user_of_the_dead_server_served_elsewhere_is_not_exercised() -> None:
    h = sticky(user0_moves=False)
    j = judges.LostOnFailover(ROUTES)
    d = decide(h, sessions(h, lost=False), j, faults=["kill"])
    assert d.outcome == INCONCLUSIVE and not j.exercised(h, {}).done


def own_reads(read_back: int) -> History:
    b = Build()
    for p in range(3):
        b.req(p, p, via=["a1"], f="write", key=f"s{p}", value=p + 1)
        if p < read_back:
            b.req(p + 0.5, p, via=["a1"], key=f"s{p}")
    return b.history()


def test_read_your_writes_needs_every_session_to_read_its_own_writes() -> None:
    rule = judges.reads_follow_own_writes(3)
    valid = {"sessions": Verdict("sessions", "valid")}
    judge = Checkers(["sessions"], rule, rule.__doc__ or "")
    assert decide(own_reads(3), valid, judge).outcome == UPHELD
    d = decide(own_reads(2), valid, judge)
    assert d.outcome == INCONCLUSIVE and "2 sessions read back" in d.reason
    broken = {"sessions": Verdict("sessions", "invalid", [Anomaly("read-your-writes", [0, 1])])}
    assert decide(own_reads(3), broken, judge).outcome == REFUTED


def ip_hash(spread: bool = False, remapped: bool = True, victim: str = "a1") -> History:
    b = Build().fault("kill", 2.0, 4.0, {"nodes": [victim]})
    b.traffic(2.0, lambda i, t: ["a2" if spread and i == 5 else "a1"], step=0.1, clients=2)
    for k in range(10):
        t = 2.1 + k * 0.1
        b.req(t, 9, via=["a1", "a3"] if remapped else ["a1"], typ="ok" if remapped else "fail")
    return b.history()


def test_ip_hash_spread_or_not_remapped_refutes() -> None:
    d = decide(ip_hash(spread=True), {}, judges.StaysOnOneBackend(ROUTES), faults=["kill"])
    assert d.outcome == REFUTED and "spread" in d.reason
    d = decide(ip_hash(remapped=False), {}, judges.StaysOnOneBackend(ROUTES), faults=["kill"])
    assert d.outcome == REFUTED and d.attributed and "not remapped" in d.reason


def test_ip_hash_sticky_then_remapped_upholds() -> None:
    d = decide(ip_hash(), {}, judges.StaysOnOneBackend(ROUTES), faults=["kill"])
    assert d.outcome == UPHELD, d.reason


def test_a_kill_that_missed_the_client_s_server_is_not_exercised() -> None:
    d = decide(ip_hash(victim="a2"), {}, judges.StaysOnOneBackend(ROUTES), faults=["kill"])
    assert d.outcome == INCONCLUSIVE and "missed" in d.reason


def test_the_onset_is_the_first_request_hurt_before_the_record() -> None:
    h = (Build().req(0.5, 1, via=["a1"]).req(1.8, 2, via=["a1", "a2"])
         .fault("kill", 2.0, 4.0, {"nodes": ["a1"]}).history())
    w = h.fault_windows()[0]
    assert judges.onset(h, w, ROUTES) == int(1.8e9)


# --- lb-elb-inherently-ha (the shared WhileDown judge on balancer histories) --------------------


def balancer_killed(ok: bool) -> History:
    b = Build().fault("kill", 1.0, 3.0, {"nodes": ["lb"]}).req(0.5, 1)
    for k in range(5):
        b.req(1.2 + 0.2 * k, 1, "ok" if ok else "fail", via=["a1"] if ok else [])
    return b.history()


def test_balancers_with_client_failover_stay_available_and_one_does_not() -> None:
    judge = WhileDown(claim="available", fault="kill", what="nginx")
    assert decide(balancer_killed(True), {}, judge, faults=["kill"]).outcome == UPHELD
    d = decide(balancer_killed(False), {}, judge, faults=["kill"])
    assert d.outcome == REFUTED and d.attributed
    idle = Build().fault("kill", 1.0, 3.0, {"nodes": ["lb"]}).req(0.5, 1).history()
    assert decide(idle, {}, judge, faults=["kill"]).outcome == INCONCLUSIVE
