"""The VIP's judges: did the backup take the VIP in time, and did a cut of VRRP's adverts
leave two machines holding it?

``TakesOver`` judges a takeover after the master dropped off (its link down, its keepalived
killed): ``checkers/reroute.py``'s ``RoutedAround`` with the bound below, plus the takeover
time the fault watched (``faults.watched``: the ``takeover`` seen in its heal record).

The bound, from keepalived's settings: RFC 3768 puts the backup's takeover
``master_down_interval`` (3 ``advert_int`` + skew) after the last advertisement it heard, and
the last one came at most one ``advert_int`` before the cut. keepalived (2.2) was measured to
take over ``master_down_interval`` after the *cut* itself (3.52-3.61 s for a 3.61 s interval,
link down and kill alike), at the edge of the RFC's bound, so any scheduling delay of a
loaded machine crossed it (CI margins of 0.05 s). The bound is therefore
``master_down_interval + advert_int``: a backup later than that missed one more whole
advertisement interval than its settings allow, which no scheduling delay of a few hundred ms
explains. Requests invoked after the bound that still go to the old master refute, as does a
takeover the fault saw had not happened by then (``not_before_s``: a poll that began after the
bound found no VIP on the backup).

``SingleMaster`` reads what the ``vrrp-cut`` fault observed just before its heal (``holders``:
the machines whose interface carried the VIP then). Two or more is a split brain and refutes;
one upholds. Exercised when the cut lasted at least the backup's takeover bound (a backup
that could not yet have taken over shows nothing either way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    healed,
    windows_of,
)
from ...checkers.reroute import RoutedAround, victims_named
from ...checkers.verdict import Anomaly
from ...faults.watch import observed
from ...history import NEMESIS, Completed, FaultWindow, History
from .faults import TAKEOVER


def _observed(history: History, fault: str) -> list[tuple[int, list[str]]]:
    return [(op.index, list((op.value.get("observed") or {}).get("holders") or []))
            for op in history
            if op.process == NEMESIS and op.f == f"{fault}-healed" and isinstance(op.value, dict)]


@dataclass
class SingleMaster:
    bound_s: float  # the backup's takeover bound (takeover_bound_s)
    fault: str = "vrrp-cut"
    name: str = "single-master"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"every {self.fault} lasting at least the backup's takeover bound "
                          f"({self.bound_s:.2f}s), the VIP's holders seen before the heal")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows or any(w.end is None for w in windows):
            return Exercise(False, f"no healed {self.fault} window")
        short = [w for w in windows if (w.end - w.start) / NS < self.bound_s]  # type: ignore[operator]
        if short:
            return Exercise(False, f"{len(short)} {self.fault} shorter than the bound")
        if len(_observed(history, self.fault)) < len(windows):
            return Exercise(False, "the VIP's holders were not observed at every heal")
        return Exercise(True, f"{len(windows)} {self.fault}s of at least {self.bound_s:.2f}s")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        seen = _observed(history, self.fault)
        if not seen:
            return Ruling(INCONCLUSIVE, "the VIP's holders were never observed")
        split = [(i, h) for i, h in seen if len(h) > 1]
        if split:
            return Ruling(REFUTED, f"split brain: {', '.join(split[0][1])} all held the VIP at "
                                   f"once ({len(split)} of {len(seen)} cuts)",
                          [Anomaly("dual-master", [i], f"holders {h}") for i, h in split])
        if any(not h for _, h in seen):
            return Ruling(INCONCLUSIVE, "no machine held the VIP at a heal")
        return Ruling(UPHELD, f"one holder at each of {len(seen)} cuts")


def takeover_bound_s(master_down_s: float, advert_int_s: float) -> float:
    """The judged bound on a takeover: the backup's ``master_down_interval`` plus one
    advertisement interval (the module's docstring says why)."""
    if master_down_s <= 0 or advert_int_s <= 0:
        raise ValueError(f"takeover bound: master_down_interval {master_down_s} and advert_int "
                         f"{advert_int_s} must be positive")
    return master_down_s + advert_int_s




@dataclass
class TakesOver:
    """The backup takes the VIP and the harness's traffic within ``bound_s`` of the cut
    (``takeover_bound_s``), as ``RoutedAround`` judges it from each request's route, with the
    takeover the fault watched in the ruling; a takeover seen not to have happened by the bound
    refutes too. Exercised as ``RoutedAround`` is, and only when the fault watched the takeover
    (``faults.watched``) in every window."""

    fault: str  # "link-down", "kill"
    bound_s: float  # takeover_bound_s(...)
    master_down_s: float  # the RFC's interval, for the ruling's text
    routes: Callable[[Completed], list[str]]
    victims: Callable[[FaultWindow], set[str]] = victims_named
    servers: int = 2
    outlast_s: float = 1.0
    name: str = "takes-over"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self._routed = RoutedAround(self.fault, detect_s=self.bound_s, routes=self.routes,
                                    servers=self.servers, victims=self.victims,
                                    outlast_s=self.outlast_s)
        self.exercises = (f"{self._routed.exercises}; the backup's takeover watched by the "
                          "fault in every window")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        if any(o is None for o in observed(history, self.fault, TAKEOVER)):
            return Exercise(False, f"a {self.fault}'s takeover was not watched (no observation "
                                   "in its heal record)")
        return self._routed.exercised(history, verdicts)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        times = []
        windows = windows_of(history, self.fault)
        for w, seen in zip(windows, observed(history, self.fault, TAKEOVER), strict=True):
            if seen is None:
                continue
            late, took = seen.get("not_before_s"), seen.get("after_s")
            if late is not None and late > self.bound_s:
                op = healed(history, w)
                assert op is not None
                when = (f"took it only by {took:.2f}s" if took is not None
                        else "never took it before the heal")
                text = (f"the backup had no VIP {late:.2f}s into a {self.fault}, after the "
                        f"bound ({self.bound_s:.2f}s), and {when}")
                return Ruling(REFUTED, text, [Anomaly("late-takeover", [op.index], text)])
            if took is not None:
                times.append(float(took))
        ruling = self._routed.rule(history, verdicts)
        if ruling.outcome != UPHELD or not times:
            return ruling
        return Ruling(UPHELD, f"{ruling.reason}; the backup took the VIP at worst "
                              f"{max(times):.2f}s into a {self.fault} (master_down_interval "
                              f"{self.master_down_s:.2f}s, bound {self.bound_s:.2f}s)",
                      ruling.anomalies)
