"""Rerouting: a balancer stops sending requests to a failed server within a detection bound.

``RoutedAround`` judges claims such as "when a server is unresponsive the load balancer halts
traffic to it". The history must say, for each request, which servers the balancer sent it to
(``routes``: every attempt, retries included; a balancer records this, e.g. nginx's
``$upstream_addr``), and each fault window which server was broken (``victims``).

The bound comes from the balancer's own settings: ``detect_s`` is the longest it may keep
choosing a broken server after the fault began (for nginx, ``max_fails`` attempts, each
lasting at most ``proxy_connect_timeout + proxy_read_timeout``). A balancer with passive
checks tries a failed server again with a live request now and then (nginx: once every
``fail_timeout``); ``reprobe_s`` and ``probes`` say how often and how many, so those few
requests are allowed. Everything else invoked after the bound must go elsewhere.

Exercised, in every window of the fault: requests really were routed to the broken server
(there was something to route around), the fault outlasted the bound by ``outlast_s``, and
enough requests were made after the bound that a balancer that never ejects the server
(spreading them evenly over ``servers``) would have sent it more than the allowed re-tries.

Refuted: more requests than the re-tries allow were sent to the broken server after the bound
(they are the evidence), or no request at all succeeded after the bound (nothing was rerouted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history import Completed, FaultWindow, History
from .judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    in_window,
    windows_of,
)


def victims_named(w: FaultWindow) -> set[str]:
    """The broken servers a fault recorded: ``nodes`` (kill, pause) or the isolated side of an
    ``isolate`` partition (its first group)."""
    v: Any = w.value if isinstance(w.value, dict) else {}
    if v.get("nodes"):
        return {str(n) for n in v["nodes"]}
    groups = v.get("groups") or []
    if v.get("shape") == "isolate" and groups and len(groups[0]) == 1:
        return {str(groups[0][0])}
    return set()


@dataclass
class RoutedAround:
    fault: str  # the fault that breaks one server ("kill", "pause", "partition")
    detect_s: float  # the longest the balancer may keep choosing it, from its settings
    routes: Callable[[Completed], Sequence[str]]  # servers a request was sent to, in order
    servers: int  # servers in the pool
    victims: Callable[[FaultWindow], set[str]] = victims_named
    reprobe_s: float | None = None  # a failed server is tried again once every reprobe_s
    probes: int = 1  # ... with this many live requests (nginx: max_fails)
    outlast_s: float | None = None  # the fault must last this long past the bound
    name: str = "routed-around"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        if self.outlast_s is None:
            self.outlast_s = max(self.detect_s, self.reprobe_s or 0.0)
        self.exercises = (
            f"requests routed to the broken server during every {self.fault}, which outlasts "
            f"the detection bound ({self.detect_s:g}s) by {self.outlast_s:g}s, with enough "
            "requests after the bound that a balancer that never ejects it would be caught")

    def allowed(self, span_s: float) -> int:
        """Requests a balancer with passive checks may still send a failed server in
        ``span_s`` seconds after the bound: its periodic re-tries."""
        if self.reprobe_s is None or span_s <= 0:
            return 0
        return self.probes * (int(span_s // self.reprobe_s) + 1)

    def _windows(self, history: History) -> list[tuple[FaultWindow, list[Completed]]]:
        ops = client_ops(history)
        last = max((op.time for op in history), default=0)
        return [(w, [c for c in ops if in_window(c, w, last)])
                for w in windows_of(history, self.fault)]

    def _sent(self, c: Completed, victims: set[str]) -> bool:
        return any(r in victims for r in self.routes(c))

    def _after(self, w: FaultWindow, ops: list[Completed]) -> tuple[list[Completed], float]:
        bound = w.start + self.detect_s * NS
        end = w.end if w.end is not None else max((c.invoke.time for c in ops), default=bound)
        return [c for c in ops if c.invoke.time >= bound], (end - bound) / NS

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = self._windows(history)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        hits, laters = [], []
        for w, ops in windows:
            victims = self.victims(w)
            if w.end is None:
                return Exercise(False, f"a {self.fault} was never healed")
            if not victims:
                return Exercise(False, f"a {self.fault} names no broken server")
            hit = [c for c in ops if self._sent(c, victims)]
            if not hit:
                return Exercise(False, f"no request was routed to {sorted(victims)} during a "
                                       f"{self.fault}: there was nothing to route around")
            after, span = self._after(w, ops)
            if span < (self.outlast_s or 0):
                return Exercise(False, f"a {self.fault} lasted {span:.2f}s past the detection "
                                       f"bound ({self.detect_s:g}s), less than "
                                       f"{self.outlast_s:g}s")
            done = [c for c in after if c.completion is not None]
            need = self.servers * (self.allowed(span) + 1)
            if len(done) < need:
                return Exercise(False, f"{len(done)} requests after the detection bound of a "
                                       f"{self.fault}, fewer than {need}: a balancer that "
                                       "never ejects the server could go unnoticed")
            hits.append(len(hit))
            laters.append(len(done))
        return Exercise(True, f"{sum(hits)} requests routed to the broken server during "
                              f"{len(windows)} {self.fault}s (at least {min(hits)} each), "
                              f"{sum(laters)} made after the detection bound")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = self._windows(history)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} window in the history")
        rows = []
        for w, ops in windows:
            victims = self.victims(w)
            if not victims:
                return Ruling(INCONCLUSIVE, f"a {self.fault} names no broken server")
            after, span = self._after(w, ops)
            allowed = self.allowed(span)
            sent = [c for c in after if self._sent(c, victims)]
            if len(sent) > allowed:
                first = (min(c.invoke.time for c in sent) - w.start) / NS
                last = (max(c.invoke.time for c in sent) - w.start) / NS
                text = (f"{len(sent)} requests sent to {', '.join(sorted(victims))} from "
                        f"{first:.2f}s to {last:.2f}s into a {self.fault}, after the detection "
                        f"bound ({self.detect_s:g}s; re-tries allowed: {allowed})")
                return Ruling(REFUTED, text, evidence("routed-to-failed-server", sent, text))
            ok = [c for c in after if c.type == "ok"]
            if after and not ok:
                text = (f"none of {len(after)} requests after the detection bound of a "
                        f"{self.fault} succeeded: traffic was not rerouted")
                return Ruling(REFUTED, text, evidence("not-rerouted", after, text))
            hit = [c for c in ops if self._sent(c, victims) and c.completion is not None]
            seen = ((min(c.completion.time for c in hit) - w.start) / NS  # type: ignore[union-attr]
                    if hit else None)
            rows.append((len(sent), allowed, len(ok), len(after), seen))
        worst = max(rows, key=lambda r: r[0])
        seen = [r[4] for r in rows if r[4] is not None]
        found = f"; first request to it answered at worst {max(seen):.2f}s in" if seen else ""
        return Ruling(UPHELD, (
            f"after the detection bound ({self.detect_s:g}s) the broken server got at most "
            f"{worst[0]} requests per {self.fault} (re-tries allowed: {worst[1]}); "
            f"{sum(r[2] for r in rows)} of {sum(r[3] for r in rows)} later requests "
            f"succeeded, over {len(rows)} {self.fault}s{found}"))
