"""Where nginx sent each request, and its bounds. Every request's completion carries nginx's
``$upstream_addr`` (``extra["upstream"]``: each attempt, retries included, or the upstream
group's name when no server was live) and the app server that answered (``node``).
``upstream_routes`` turns the addresses into server names, so a judge can tell which requests
were sent to the broken server; ``onset`` says when a fault began to bite as the balancer saw
it. Bounds come from nginx's settings (``Balancing``): ``detection_s`` is the longest nginx
keeps choosing a broken server, and ``rerouted`` is ``RoutedAround`` with those bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ....checkers.judge import (
    client_ops,
    windows_of,
)
from ....checkers.reroute import RoutedAround, victims_named
from ....history import Completed, FaultWindow, History
from ..conf import Balancing

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
