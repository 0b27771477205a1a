"""Judges of the nginx balancing claims about failed servers: ``HealthyServerLeftOut`` (servers
killed in turn: a server restarted at the heal must not stay marked failed when the next one
dies) and ``PassiveOnly`` (without active health checks, only failed client requests tell nginx
about a paused server, so live requests keep probing it after each ``fail_timeout``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ....checkers.judge import (
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
from ....checkers.reroute import victims_named
from ....history import Completed, FaultWindow, History
from .routes import Routes, no_live_upstream

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
