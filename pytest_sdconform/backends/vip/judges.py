"""One master at a time: did a cut of VRRP's adverts leave two machines holding the VIP?

``SingleMaster`` reads what the ``vrrp-cut`` fault observed just before its heal (``holders``:
the machines whose interface carried the VIP then). Two or more is a split brain and refutes;
one upholds. Exercised when the cut lasted at least the backup's ``master_down_interval`` (a
backup that could not yet have taken over shows nothing either way).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    windows_of,
)
from ...checkers.verdict import Anomaly
from ...history import NEMESIS, History


def _observed(history: History, fault: str) -> list[tuple[int, list[str]]]:
    return [(op.index, list((op.value.get("observed") or {}).get("holders") or []))
            for op in history
            if op.process == NEMESIS and op.f == f"{fault}-healed" and isinstance(op.value, dict)]


@dataclass
class SingleMaster:
    bound_s: float  # the backup's master_down_interval
    fault: str = "vrrp-cut"
    name: str = "single-master"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"every {self.fault} lasting at least the backup's "
                          f"master_down_interval ({self.bound_s:.2f}s), the VIP's holders seen "
                          "before the heal")

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
