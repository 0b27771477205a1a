"""Judges of the nginx session claims: sticky sessions on app servers keep their data while the
server is up and lose it when it dies (``LostOnFailover``), read-your-writes was put to the test
(``reads_follow_own_writes``), and ip_hash keeps one client address on one server until that
server goes down (``StaysOnOneBackend``). ``homes`` says which servers answered each user
before the fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
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
from ....checkers.reroute import victims_named
from ....history import Completed, History
from .routes import Routes, onset

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
