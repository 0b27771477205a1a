"""Judges of the nginx suite: what its claims need the history to show, and how they are ruled.

Every request's completion carries nginx's ``$upstream_addr`` (``extra["upstream"]``: each
attempt, retries included, or the upstream group's name when no server was live) and the app
server that answered (``node``). ``upstream_routes`` turns the addresses into server names, so
a judge can tell which requests were sent to the broken server.

Bounds come from nginx's settings (``Balancing``): ``detection_s`` is the longest nginx keeps
choosing a broken server (``max_fails`` attempts of at most ``proxy_connect_timeout +
proxy_read_timeout`` each), and it tries a failed server again with one live request after
``fail_timeout``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    ExerciseRule,
    Ruling,
    Verdicts,
    client_ops,
    described,
    evidence,
    in_window,
    windows_of,
)
from ...checkers.reroute import RoutedAround, victims_named
from ...history import Completed, FaultWindow, History
from .conf import Balancing

Routes = Callable[[Completed], Sequence[str]]
NO_LIVE_UPSTREAM = "app"  # $upstream_addr when nginx found no live server (the group's name)


def upstream_routes(addresses: Mapping[str, str]) -> Routes:
    """The app servers (names) nginx sent a request to, in order, from ``$upstream_addr``
    (``"10.0.0.2:8080, 10.0.0.3:8080"``); addresses: name -> IP address."""
    by_address = {a: n for n, a in addresses.items()}

    def routes(c: Completed) -> list[str]:
        up = c.completion.get("upstream") if c.completion is not None else None
        out = []
        for part in str(up or "").replace(" : ", ", ").split(","):
            host = part.strip().rsplit(":", 1)[0]
            if host in by_address:
                out.append(by_address[host])
        return out

    return routes


def no_live_upstream(c: Completed) -> bool:
    """nginx answered 502 without trying any server: it counted every one as failed."""
    up = c.completion.get("upstream") if c.completion is not None else None
    return c.type != "ok" and str(up or "").split(", ")[-1].strip() == NO_LIVE_UPSTREAM


def detection_s(b: Balancing) -> float:
    """The longest nginx keeps choosing a broken server after it broke: ``max_fails`` failed
    attempts, each over after at most proxy_connect_timeout + proxy_read_timeout."""
    return b.max_fails * (b.connect_timeout + b.read_timeout)


def rerouted(b: Balancing, fault: str, addresses: Mapping[str, str], servers: int
             ) -> RoutedAround:
    """``RoutedAround`` with nginx's bounds: detection from its timeouts, one re-try by live
    traffic (``max_fails`` requests) every ``fail_timeout``."""
    return RoutedAround(fault, detection_s(b), upstream_routes(addresses), servers,
                        reprobe_s=float(b.fail_timeout), probes=b.max_fails,
                        name=f"routed-around ({fault})")


def onset(history: History, w: FaultWindow, routes: Routes,
          victims: Callable[[FaultWindow], set[str]] = victims_named) -> int:
    """When the fault began to bite, as the balancer saw it: the window's record, or the
    invocation of an earlier request (since the previous window) that was sent to the broken
    server and failed there (retried or not ok), whichever is first. A fault is recorded
    once it is proven, after it took effect."""
    before = [x.end for x in windows_of(history) if x.end is not None and x.end <= w.start]
    since = max(before, default=0)
    hurt = [c.invoke.time for c in client_ops(history)
            if c.completion is not None and since <= c.completion.time <= w.start
            and (set(routes(c)) & victims(w)) and (c.type != "ok" or len(routes(c)) > 1)]
    return min([w.start, *hurt])


# --- lb-health-reroute under back-to-back failures ---------------------------------------------


@dataclass
class HealthyServerLeftOut:
    """Servers are killed in turn, each restarted at the heal. Refuted when nginx answered
    "no live upstreams" (it tried no server) during a kill after the first: the server killed
    before was running again but still marked failed. Upheld when every later kill was routed
    around the restarted server."""

    fault: str = "kill"
    name: str = "healthy-server-left-out"
    exercises: str = ("two or more kills of different servers, with requests answered during "
                      "every kill after the first")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if len(windows) < 2:
            return Exercise(False, f"{len(windows)} {self.fault}s: no server was back when "
                                   "another died")
        names = [victims_named(w) for w in windows]
        if any(a == b for a, b in itertools.pairwise(names)):
            return Exercise(False, f"the same server was {self.fault}ed twice in a row")
        ops = client_ops(history)
        counts = [sum(1 for c in ops if in_window(c, w) and c.completion is not None)
                  for w in windows[1:]]
        if not all(counts):
            return Exercise(False, f"no request was answered during {counts.count(0)} of the "
                                   f"{len(counts)} later {self.fault}s")
        return Exercise(True, f"{len(windows)} {self.fault}s of {sorted(set().union(*names))} "
                              f"in turn; {sum(counts)} requests during the later ones")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if len(windows) < 2:
            return Ruling(INCONCLUSIVE, "fewer than two kills: no server was back when another "
                                        "died")
        ops = client_ops(history)
        refused = [c for w in windows[1:] for c in ops if in_window(c, w) and no_live_upstream(c)]
        if not refused:
            return Ruling(UPHELD, f"every {self.fault} after the first was routed to the "
                                  "server restarted before it")
        span = (max(c.invoke.time for c in refused) - min(c.invoke.time for c in refused)) / NS
        text = (f"{len(refused)} requests got 502 'no live upstreams' over {span:.1f}s while the "
                "server killed before was running again: it stayed marked failed")
        return Ruling(REFUTED, text, evidence("healthy-server-left-out", refused, text))


# --- nginx-active-health-checks ------------------------------------------------------------------


@dataclass
class PassiveOnly:
    """Refuted when live requests were sent to the paused server after nginx first found it
    out (the completion of the first request sent to it): nothing but failed client requests
    tells nginx about it, again after each ``fail_timeout``. Upheld when none was (an active
    check would keep it out). ``reprobe_s``: the longest nginx waits before it tries a failed
    server again (fail_timeout plus one second: its clock counts whole seconds)."""

    routes: Routes
    reprobe_s: float
    health_check: str  # what ``nginx -t`` said of the health_check directive
    fault: str = "pause"
    name: str = "passive-only"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"requests sent to the paused server during every {self.fault}, and "
                          f"requests made more than {self.reprobe_s:g}s after it was first "
                          "found out")

    def _detected(self, history: History, w: FaultWindow, ops: list[Completed]
                  ) -> tuple[int | None, list[Completed]]:
        hit = [c for c in ops if in_window(c, w) and set(self.routes(c)) & victims_named(w)
               and c.completion is not None]
        if not hit:
            return None, []
        first = min(c.completion.time for c in hit)  # type: ignore[union-attr]
        return first, [c for c in hit if c.invoke.time > first]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        ops = client_ops(history)
        for w in windows:
            first, _ = self._detected(history, w, ops)
            if first is None:
                return Exercise(False, f"no request was sent to the paused server during a "
                                       f"{self.fault}")
            late = [c for c in ops if in_window(c, w) and c.invoke.time >= first
                    + self.reprobe_s * NS]
            if not late:
                return Exercise(False, f"no request was made more than {self.reprobe_s:g}s "
                                       "after the paused server was found out")
        return Exercise(True, f"the paused server was found out in each of {len(windows)} "
                              f"{self.fault}s, and requests went on for more than "
                              f"{self.reprobe_s:g}s after")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} window in the history")
        ops = client_ops(history)
        probes = [c for w in windows for c in self._detected(history, w, ops)[1]]
        if probes:
            text = (f"health_check {self.health_check}; detection is passive only: "
                    f"{len(probes)} live requests were sent to the paused server after it was "
                    "first found out")
            return Ruling(REFUTED, text, evidence("live-request-probe", probes, text))
        return Ruling(UPHELD, f"health_check {self.health_check}; no live request was sent to "
                              "the paused server after it was first found out")


# --- reconfiguration -----------------------------------------------------------------------------


@dataclass
class NoFailedRequests:
    """Upheld when no request of the run failed or ended unknown; refuted by those that did.
    Exercised when requests were in flight during every ``fault`` window (a reload, a scale-in:
    the window opens once the new workers run and closes when the old ones are gone)."""

    fault: str
    name: str = "no-failed-requests"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = f"requests in flight during every {self.fault}"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} happened")
        ops = client_ops(history)
        counts = []
        for w in windows:
            end = w.end if w.end is not None else float("inf")
            counts.append(sum(1 for c in ops if c.invoke.time < end and (
                c.completion is None or c.completion.time >= w.start)))
        if not all(counts):
            return Exercise(False, f"no request was in flight during {counts.count(0)} of "
                                   f"{len(windows)} {self.fault}s")
        return Exercise(True, f"{sum(counts)} requests in flight during {len(windows)} "
                              f"{self.fault}s (at least {min(counts)} each)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} happened")
        calls = client_ops(history)
        bad = [c for c in calls if c.type != "ok"]
        if bad:
            errors = sorted({str(c.completion.error if c.completion else "no answer")
                             for c in bad})[:3]
            text = (f"{len(bad)} of {len(calls)} requests failed across {len(windows)} "
                    f"{self.fault}s: {', '.join(errors)}")
            return Ruling(REFUTED, text, evidence("failed-request", bad, text))
        return Ruling(UPHELD, f"all {len(calls)} requests succeeded across {len(windows)} "
                              f"{self.fault}s")


# --- http-idempotent-methods ---------------------------------------------------------------------


def method(f: str) -> str:
    return {"read": "GET", "write": "PUT", "send": "POST", "poll": "GET"}.get(f, f)


@dataclass
class PostAtMostOnce:
    """Decided by the delivery checker's at-most-once over the final logs: refuted by a POST
    applied twice, upheld otherwise. Exercised when a POST was sent to the paused server in
    every pause (where a retry on the next upstream would apply it a second time)."""

    routes: Routes
    fault: str = "pause"
    checker: str = "delivery"
    seen: dict[str, Any] = field(default_factory=dict)  # figures for the case's config
    name: str = "post-at-most-once"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = f"a POST sent to the paused server during every {self.fault}"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        ops = [c for c in client_ops(history) if c.f == "send"]
        counts = [sum(1 for c in ops if in_window(c, w) and set(self.routes(c)) & victims_named(w))
                  for w in windows]
        if not all(counts):
            return Exercise(False, f"no POST was sent to the paused server during "
                                   f"{counts.count(0)} of {len(windows)} {self.fault}s")
        return Exercise(True, f"{sum(counts)} POSTs sent to the paused server during "
                              f"{len(windows)} {self.fault}s")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        delivery = verdicts[self.checker]
        retried: dict[str, int] = {}
        unretried_504 = 0
        for c in client_ops(history):
            routes = self.routes(c)
            if len(routes) > 1:
                retried[method(c.f)] = retried.get(method(c.f), 0) + 1
            status = c.completion.get("status") if c.completion is not None else None
            if c.f == "send" and status == 504 and len(routes) <= 1:
                unretried_504 += 1
        d = delivery.details
        self.seen.update(retried_by_method=retried, post_504_not_retried=unretried_504,
                         duplicates=d.get("duplicates"), lost=d.get("lost"))
        counts = (f"{unretried_504} POSTs got 504 without a retry; retried on the next "
                  f"upstream: {retried or 'none'}")
        if delivery.result == "invalid":
            return Ruling(REFUTED, f"POSTs applied more than once: {d.get('duplicates')} "
                                   f"duplicates, {d.get('lost')} lost; {counts}",
                          list(delivery.anomalies))
        if delivery.result == "unknown":
            return Ruling(INCONCLUSIVE, f"{self.checker}: {delivery.reason}")
        return Ruling(UPHELD, f"every POST applied at most once; {counts}")


# --- sessions ------------------------------------------------------------------------------------


def homes(history: History, until: int) -> dict[Any, set[str]]:
    """The app servers that answered each process's requests completed before ``until``."""
    out: dict[Any, set[str]] = {}
    for c in client_ops(history):
        if c.type == "ok" and c.completion is not None and c.completion.time < until:
            out.setdefault(c.process, set()).add(str(c.completion.node))
    return out


@dataclass
class LostOnFailover:
    """The catalogue's criterion for sticky sessions on app servers: session data stays on its
    server while that server is up (each user on one server, no session anomaly before the
    fault bit) and is lost when the server dies (a session anomaly after nginx moved its users).
    Refuted by a user that moved, or an anomaly, before the fault, or by a failover that lost
    nothing (the moved users' reads are the evidence). Exercised when users of the killed
    server were served by another one during the kill."""

    routes: Routes
    fault: str = "kill"
    checker: str = "sessions"
    name: str = "lost-on-failover"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"users of the server that died served by another one during the "
                          f"{self.fault}")

    def _moved(self, history: History) -> tuple[int, list[Completed]]:
        """The first onset, and the requests of the victim's users answered elsewhere during
        a window."""
        windows = windows_of(history, self.fault)
        start = onset(history, windows[0], self.routes)
        home = homes(history, start)
        out = []
        for w in windows:
            victims = victims_named(w)
            mine = {p for p, h in home.items() if h & victims}
            out += [c for c in client_ops(history) if in_window(c, w) and c.type == "ok"
                    and c.completion is not None and c.completion.node not in victims
                    and c.process in mine]
        return start, out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        if not windows_of(history, self.fault):
            return Exercise(False, f"no {self.fault} window in the history")
        _, moved = self._moved(history)
        if not moved:
            return Exercise(False, f"no user of the server that died was served elsewhere "
                                   f"during the {self.fault}")
        users = len({c.process for c in moved})
        return Exercise(True, f"{users} users of the server that died made {len(moved)} "
                              "requests served elsewhere")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        if not windows_of(history, self.fault):
            return Ruling(INCONCLUSIVE, "no fault was injected")
        start, moved = self._moved(history)
        home = homes(history, start)
        spread = sorted(str(p) for p, h in home.items() if len(h) > 1)
        anomalies = verdicts[self.checker].anomalies
        times = {op.index: op.time for op in history}
        early = [a for a in anomalies if max(times[i] for i in a.ops) < start]
        if spread or early:
            strays = [c for c in client_ops(history) if str(c.process) in spread
                      and c.completion is not None and c.completion.time < start]
            return Ruling(REFUTED, f"not consistent on a healthy server: users {spread} moved "
                                   f"before any fault; {len(early)} session anomalies before it",
                          early or evidence("moved-while-healthy", strays, "user moved"))
        if not anomalies and not moved:
            return Ruling(INCONCLUSIVE, "no user of the server that died was served elsewhere: "
                                        "nothing could be lost")
        if not anomalies:
            text = "no session data was lost when a user's server died"
            return Ruling(REFUTED, text, evidence("kept-on-failover", moved, text))
        kinds = sorted({a.kind for a in anomalies})
        return Ruling(UPHELD, f"{len(home)} users each stuck to one server while it was up; "
                              f"after it died, {len(anomalies)} session anomalies "
                              f"({', '.join(kinds)}): the session data did not survive failover")


def reads_follow_own_writes(sessions: int) -> ExerciseRule:
    """Exercised when at least ``sessions`` processes read a key after their own acknowledged
    write of it: read-your-writes was put to the test."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        written: dict[Any, dict[Any, int]] = {}
        checked: set[Any] = set()
        for c in sorted(client_ops(history), key=lambda c: c.invoke.time):
            if c.type != "ok" or c.completion is None:
                continue
            mine = written.setdefault(c.process, {})
            if c.f == "write":
                mine[c.key] = c.completion.time
            elif c.f == "read" and c.key in mine and mine[c.key] < c.invoke.time:
                checked.add(c.process)
        if len(checked) < sessions:
            return Exercise(False, f"{len(checked)} sessions read back their own writes, "
                                   f"fewer than {sessions}")
        return Exercise(True, f"{len(checked)} sessions read back their own writes")

    return described(rule, f"at least {sessions} sessions read a key after their own write")


@dataclass
class StaysOnOneBackend:
    """ip_hash: upheld when every request of the one client address went to one app server
    before the fault and, while that server was down, to others. Refuted by requests spread
    over servers while all were up, or by a kill of that server during which no other served
    anything. Requests from when the fault began to bite (``onset``) are not counted as
    before it; those after the heal are not counted at all (the restarted server comes back
    only after fail_timeout)."""

    routes: Routes
    fault: str = "kill"
    min_before: int = 10
    name: str = "stays-on-one-backend"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"at least {self.min_before} requests answered before the "
                          f"{self.fault}, by the server it hit, and requests answered during "
                          "every one")

    def _split(self, history: History) -> tuple[list[Completed], list[list[Completed]]]:
        windows = windows_of(history, self.fault)
        start = onset(history, windows[0], self.routes)
        ops = [c for c in client_ops(history) if c.type == "ok" and c.completion is not None]
        before = [c for c in ops if c.completion.time < start]  # type: ignore[union-attr]
        during = [[c for c in ops if in_window(c, w) and (w.end is None or
                   c.completion.time <= w.end)] for w in windows]  # type: ignore[union-attr]
        return before, during

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        before, during = self._split(history)
        if len(before) < self.min_before:
            return Exercise(False, f"{len(before)} requests answered before the {self.fault}, "
                                   f"fewer than {self.min_before}")
        nodes = {str(c.completion.node) for c in before}  # type: ignore[union-attr]
        if not nodes & set().union(*(victims_named(w) for w in windows)):
            return Exercise(False, f"the {self.fault} missed the server that served the client "
                                   f"({sorted(nodes)})")
        if not all(during):
            return Exercise(False, f"no request was answered during a {self.fault}")
        return Exercise(True, f"{len(before)} requests before the {self.fault}, "
                              f"{sum(map(len, during))} during")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, "no fault was injected")
        before, during = self._split(history)
        count: dict[str, int] = {}
        for c in before:
            count[str(c.completion.node)] = count.get(str(c.completion.node), 0) + 1  # type: ignore[union-attr]
        if not count:
            return Ruling(INCONCLUSIVE, "no request was answered before the fault")
        target = max(count, key=lambda n: count[n])
        if len(count) > 1:
            strays = [c for c in before if str(c.completion.node) != target]  # type: ignore[union-attr]
            text = f"one client address was spread over {count} while all servers were up"
            return Ruling(REFUTED, text, evidence("not-sticky", strays, text))
        moved: dict[str, int] = {}
        for w, ops in zip(windows, during, strict=True):
            victims = victims_named(w)
            here = [c for c in ops if str(c.completion.node) not in victims]  # type: ignore[union-attr]
            if not here:
                tried = [c for c in client_ops(history) if in_window(c, w)]
                text = f"nothing was served while {sorted(victims)} was down: not remapped"
                return Ruling(REFUTED, text, evidence("not-remapped", tried, text))
            for c in here:
                moved[str(c.completion.node)] = moved.get(str(c.completion.node), 0) + 1  # type: ignore[union-attr]
        return Ruling(UPHELD, f"all {count[target]} requests went to {target} while it was up; "
                              f"during its {self.fault} they were remapped to {moved}")
