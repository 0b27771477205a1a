"""A fault schedule written out: which of a case's faults, when, and for how long.

By default the nemesis draws its schedule from the seed as it goes (``runner.py``). A
``Schedule`` fixes it instead: each ``Step`` waits ``quiet`` seconds, starts the faults it names
(indices into the case's fault list, their names kept to check that they still mean the same
faults), keeps them on for ``duration`` seconds and heals them. Exploration (``explore.py``)
generates schedules and shrinks them; ``--sdconform-schedule FILE`` and ``sdconform replay`` run
one again. The JSON form::

    {"steps": [{"faults": [[0, "partition-primary"]], "quiet": 1.0, "duration": 2.5}]}
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ScheduleError(ValueError):
    """A schedule that cannot be read or does not fit the case's faults; says where."""


@dataclass(frozen=True)
class Step:
    faults: tuple[tuple[int, str], ...]  # (index in the case's faults, the fault's name)
    quiet: float  # seconds before the faults start
    duration: float  # seconds they stay on

    def to_json(self) -> dict[str, Any]:
        return {"faults": [[i, n] for i, n in self.faults], "quiet": self.quiet,
                "duration": self.duration}


@dataclass(frozen=True)
class Schedule:
    steps: tuple[Step, ...]

    @property
    def span(self) -> float:
        """Seconds from the start of traffic to the last heal."""
        return sum(s.quiet + s.duration for s in self.steps)

    @property
    def size(self) -> tuple[int, int, float]:
        """What shrinking makes smaller: steps, fault starts, seconds of faults."""
        return (len(self.steps), sum(len(s.faults) for s in self.steps),
                round(sum(s.duration for s in self.steps), 3))

    def describe(self) -> str:
        """One line a person reads: ``1.0s quiet, partition-primary 2.5s; ...``."""
        return "; ".join(f"{s.quiet:g}s quiet, {' + '.join(n for _, n in s.faults)} "
                         f"{s.duration:g}s" for s in self.steps) or "no faults"

    def to_json(self) -> dict[str, Any]:
        return {"steps": [s.to_json() for s in self.steps], "describe": self.describe()}

    def key(self) -> str:
        return json.dumps([s.to_json() for s in self.steps], sort_keys=True)

    def check(self, names: Sequence[str], where: str = "schedule") -> None:
        """Raise ScheduleError unless every step names faults this case has, as it has them."""
        for n, step in enumerate(self.steps, 1):
            for index, name in step.faults:
                if not 0 <= index < len(names) or names[index] != name:
                    have = ", ".join(f"{i}: {x}" for i, x in enumerate(names)) or "none"
                    raise ScheduleError(f"{where}: step {n} names fault {index} {name!r}, but "
                                        f"this case's faults are {have}")

    @classmethod
    def from_json(cls, data: Any, where: str = "schedule") -> Schedule:
        try:
            steps = data["steps"]
            if not isinstance(steps, list):
                raise TypeError("steps is not a list")
            return cls(tuple(
                Step(tuple((int(i), str(name)) for i, name in s["faults"]),
                     _seconds(s["quiet"]), _seconds(s["duration"]))
                for s in steps))
        except (KeyError, TypeError, ValueError) as e:
            raise ScheduleError(f"{where}: not a fault schedule ({type(e).__name__}: {e}); "
                                f"expected {{\"steps\": [{{\"faults\": [[0, \"name\"]], "
                                f"\"quiet\": 1, \"duration\": 2}}]}}") from e

    @classmethod
    def read(cls, path: Path) -> Schedule:
        try:
            data = json.loads(path.read_text())
        except OSError as e:
            raise ScheduleError(f"{path}: cannot read it: {e.strerror}") from e
        except ValueError as e:
            raise ScheduleError(f"{path}: not JSON: {e}") from e
        return cls.from_json(data, str(path))


def _seconds(value: Any) -> float:
    seconds = float(value)
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{value!r} is not a number of seconds")
    return seconds
