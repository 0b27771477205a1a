"""Exploring fault schedules: Hypothesis generates them, the real system runs under each, and a
schedule that refutes the claim is shrunk by running smaller ones.

``--sdconform-explore N`` asks a case whose claim is expected to hold for up to N generated
schedules (``faults/schedule.py``): which of the case's faults go together (at most as many as
the case composes), when, and for how long, within bounds taken from the case's own schedule: a
fault lasts from the case's own fault span (which cases set from the system's detection and
recovery bounds, so a shorter one could turn slowness into a refutation) to twice it, and the
quiet between faults from a quarter of the case's to twice it. Each one is a real run. When
one refutes, Hypothesis shrinks it (fewer steps, fewer faults, shorter spans) by running
candidates, until nothing
smaller refutes or the shrinking budget is spent; past the budget a candidate is not run and
counts as not refuting, so the minimal schedule found so far stands (and says it may not be the
smallest). A schedule already run is not run again: its first result stands, which also keeps
Hypothesis' last replay of the minimal schedule from running (and perhaps not repeating) it.

Refuting schedules are saved in Hypothesis' example database, under a key made of the test and
its faults' names, so the next exploration of the case tries them first. That is also why the
generation is not tied to the session's seed: Hypothesis keeps no database for a seeded search.
What makes a refutation repeatable is its schedule, written in the report and replayed by
``sdconform replay`` or ``--sdconform-schedule``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hypothesis import Phase, find, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import NoSuchExample

from .faults.schedule import Schedule, Step

TENTHS = 10  # spans are generated in tenths of a second


@dataclass(frozen=True)
class Bounds:
    """What a case allows an explored schedule (from the case's own run configuration)."""

    faults: tuple[str, ...]  # the case's faults, by name, in order
    compose: int = 1  # at most this many at once
    quiet: tuple[float, float] = (0.5, 6.0)
    duration: tuple[float, float] = (1.0, 10.0)
    steps: int = 3

    @classmethod
    def around(cls, faults: Sequence[str], quiet: float, duration: float, compose: int,
               steps: int = 3) -> Bounds:
        """Faults from the case's own span to twice it; quiet spans from a quarter of the case's
        to twice it (never under a tenth of a second)."""
        def tenth(s: float) -> float:
            return max(0.1, round(s, 1))

        return cls(tuple(faults), max(1, min(compose, len(faults))),
                   (tenth(quiet / 4), tenth(quiet * 2)), (tenth(duration), tenth(duration * 2)),
                   steps)


def schedules(b: Bounds) -> st.SearchStrategy[Schedule]:
    """Schedules within ``b``; Hypothesis shrinks them to fewer steps and faults, the earlier
    faults of the case's list, and the shortest spans."""
    def tenths(lo_hi: tuple[float, float]) -> st.SearchStrategy[float]:
        lo, hi = (round(x * TENTHS) for x in lo_hi)
        return st.integers(lo, hi).map(lambda t: t / TENTHS)

    which = st.lists(st.integers(0, len(b.faults) - 1), min_size=1, max_size=b.compose,
                     unique=True).map(lambda ix: tuple((i, b.faults[i]) for i in sorted(ix)))
    step = st.builds(Step, which, tenths(b.quiet), tenths(b.duration))
    return st.lists(step, min_size=1, max_size=b.steps).map(lambda s: Schedule(tuple(s)))


@dataclass
class Tried:
    """One schedule run: whether it refuted, and what the caller keeps of it."""

    schedule: Schedule
    refuted: bool
    outcome: str
    result: Any = None  # the caller's (its history, verdicts...)
    index: int = 0  # 1 for the first run
    phase: str = "generate"  # or "shrink"


@dataclass
class Exploration:
    runs: list[Tried] = field(default_factory=list)
    first: Tried | None = None  # the first refuting run
    minimal: Tried | None = None  # the smallest refuting schedule found
    budget_spent: bool = False  # shrinking stopped at its budget: a smaller one may exist
    skipped: int = 0  # candidates not run past the budget

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "runs": len(self.runs),
            "generated": sum(1 for t in self.runs if t.phase == "generate"),
            "shrink_runs": sum(1 for t in self.runs if t.phase == "shrink"),
            "refuted": self.minimal is not None,
            "tried": [{"run": t.index, "phase": t.phase, "schedule": t.schedule.describe(),
                       "outcome": t.outcome} for t in self.runs],
        }
        if self.first is not None and self.minimal is not None:
            out |= {"original": self.first.schedule.to_json(), "original_run": self.first.index,
                    "minimal": self.minimal.schedule.to_json(),
                    "minimal_run": self.minimal.index,
                    "shrink_complete": not self.budget_spent}
        return out


def database_dir() -> Path:
    """Where refuting schedules are kept between runs (``SDCONFORM_EXPLORE_DB`` overrides)."""
    env = os.environ.get("SDCONFORM_EXPLORE_DB")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "sdconform" / "explore"


def database_key(test: str, faults: Sequence[str]) -> bytes:
    return hashlib.sha256(("\0".join([test, *faults])).encode()).digest()


def explore(
    attempt: Callable[[Schedule, int], tuple[str, bool, Any]],
    bounds: Bounds,
    *,
    examples: int,
    shrink_budget_s: float,
    key: bytes,
    database: Path | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> Exploration:
    """Run up to ``examples`` generated schedules through ``attempt`` (schedule, run number →
    outcome, refuted?, what to keep); shrink the first refuting one within ``shrink_budget_s``."""
    done = Exploration()
    tried: dict[str, Tried] = {}
    shrink_until: list[float] = []

    def refutes(schedule: Schedule) -> bool:
        known = tried.get(schedule.key())
        if known is not None:
            return known.refuted
        phase = "shrink" if done.first is not None else "generate"
        if shrink_until and time.monotonic() >= shrink_until[0]:
            done.budget_spent = True
            done.skipped += 1
            return False
        n = len(done.runs) + 1
        say(f"explore {phase} run {n}: {schedule.describe()}")
        outcome, refuted, result = attempt(schedule, n)
        t = Tried(schedule, refuted, outcome, result, n, phase)
        tried[schedule.key()] = t
        done.runs.append(t)
        say(f"explore {phase} run {n}: {outcome}")
        if refuted:
            if done.first is None:
                done.first = t
                shrink_until.append(time.monotonic() + shrink_budget_s)
            if done.minimal is None or t.schedule.size < done.minimal.schedule.size:
                done.minimal = t
        return refuted

    db = DirectoryBasedExampleDatabase(str(database or database_dir()))
    config = settings(max_examples=max(1, examples), database=db, deadline=None,
                      phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
    try:
        found = find(schedules(bounds), refutes, settings=config, database_key=key)
    except NoSuchExample:
        return done
    # What Hypothesis returns is the smallest in its own order (over the choices it made), which
    # can keep a step a person would drop; a last pass tries each smaller neighbour in ours.
    chosen = tried.get(found.key())
    if chosen is not None and chosen.refuted and (
            done.minimal is None or chosen.schedule.size <= done.minimal.schedule.size):
        done.minimal = chosen
    while done.minimal is not None and not done.budget_spent:
        smaller = next((c for c in neighbours(done.minimal.schedule, bounds) if refutes(c)), None)
        if smaller is None:
            break
        done.minimal = tried[smaller.key()]
    return done


def neighbours(schedule: Schedule, b: Bounds) -> list[Schedule]:
    """The schedules one step smaller: a step left out, a fault left out of a step, a fault
    span or a quiet span at its lower bound or halfway there."""
    steps = list(schedule.steps)
    out: list[Schedule] = []
    if len(steps) > 1:
        out += [Schedule(tuple(steps[:i] + steps[i + 1:])) for i in range(len(steps))]
    for i, step in enumerate(steps):
        def with_step(new: Step, i: int = i) -> Schedule:
            return Schedule((*steps[:i], new, *steps[i + 1:]))

        if len(step.faults) > 1:
            out += [with_step(replace(step, faults=step.faults[:j] + step.faults[j + 1:]))
                    for j in range(len(step.faults))]
        for name, lo in (("duration", b.duration[0]), ("quiet", b.quiet[0])):
            now = getattr(step, name)
            for less in sorted({lo, round((lo + now) / 2, 1)}):
                if less < now:
                    out.append(with_step(replace(step, **{name: less})))
    return out
