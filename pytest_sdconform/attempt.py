"""One attempt at a case: its workload run under a fault schedule, checked and decided; and the
exploration of other schedules (``explore.py``), each one such attempt in a folder of its own.

``case.py`` makes one attempt with the schedule drawn from the seed (or the one
``--sdconform-schedule`` writes out); with ``--sdconform-explore N`` and a claim expected to
hold, it then explores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from .checkers import Checker
from .checkers.availability import check_availability
from .checkers.judge import REFUTED, Checkers, Judge
from .checkers.verdict import Verdict
from .explore import Bounds, Exploration, database_key, explore
from .faults import Fault
from .faults.schedule import Schedule
from .history import History
from .outcome import Decision, decide, placer
from .recorder import Recorder
from .runner import RunConfig, Runner
from .workloads import Client, Workload

# The checkers cheap enough to run while the traffic flows, to stop at a first counterexample.
EARLY = ("linearizable", "sessions")


@dataclass
class Attempted:
    history: History
    verdicts: dict[str, Verdict]
    availability: Verdict
    decision: Decision
    folder: Path  # where its history is


@dataclass
class Attempt:
    """What a case runs and how it decides, ready to be run under any schedule."""

    workload: Workload
    client_factory: Callable[[int], Client]
    faults: Sequence[Fault]
    checks: Sequence[Checker]
    judge: Judge
    converged: Callable[[], bool] | None
    emulator_limit: str | None
    progress: Callable[[str], None] | None

    def run(self, cfg: RunConfig, folder: Path, hunting: bool) -> Attempted:
        """One run into ``folder``; ``hunting``: stop as soon as the faults show a
        counterexample (a case expected to be refuted, an explored schedule)."""
        folder.mkdir(parents=True, exist_ok=True)
        with Recorder(folder / "history.jsonl") as recorder:
            runner = Runner(self.workload, self.client_factory, recorder, self.faults, cfg,
                            stop_when=self._stop_when_refuted() if hunting else None,
                            converged=self.converged, progress=self.progress)
            history = runner.run()
        verdicts = {c.name: c.check(history) for c in self.checks}
        # Under a written schedule the case injects the faults it names, and only those.
        injected = ({n for s in cfg.schedule.steps for _, n in s.faults} if cfg.schedule
                    else {f.name for f in self.faults})
        decision = decide(history, verdicts, self.judge, faults=sorted(injected),
                          emulator_limit=self.emulator_limit)
        return Attempted(history, verdicts, check_availability(history), decision, folder)

    def explore(self, cfg: RunConfig, folder: Path, test: str, examples: int,
                budget_s: float) -> Exploration:
        """Up to ``examples`` generated schedules, each a run in ``folder/NNN``; the first that
        refutes is shrunk within ``budget_s``."""
        names = [f.name for f in self.faults]
        bounds = Bounds.around(names, cfg.quiet, cfg.fault_duration, cfg.compose)

        def attempt(schedule: Schedule, n: int) -> tuple[str, bool, Any]:
            # On keys no earlier run wrote (its reads would be of values this history lacks),
            # for as long as the schedule lasts (the runner adds a quiet span after).
            fresh = replace(self, workload=afresh(self.workload, n))
            done = fresh.run(replace(cfg, schedule=schedule, duration=0.0),
                             folder / f"{n:03d}", hunting=True)
            return done.decision.outcome, done.decision.outcome == REFUTED, done

        say = self.progress or (lambda line: None)
        return explore(attempt, bounds, examples=examples, shrink_budget_s=budget_s,
                       key=database_key(test, names), say=say)

    def explorable(self) -> str | None:
        """Why this attempt cannot be explored, or None."""
        try:
            afresh(self.workload, 1)
        except TypeError as e:
            return str(e)
        return None

    def _stop_when_refuted(self) -> Callable[[Recorder], bool] | None:
        """Stop on a counterexample the faults account for (during or after one), when the
        case is decided by checkers alone and one of them is cheap enough to run as it goes.
        The history is copied and checked only once a fault has been proven on, and again
        only when something was recorded since the last look (the recorder's counts)."""
        if not isinstance(self.judge, Checkers):
            return None
        early = [c for c in self.checks if c.name in self.judge.deciding and c.name in EARLY]
        if not early:
            return None
        looked_at = -1  # how many operations the last look saw

        def decided(recorder: Recorder) -> bool:
            nonlocal looked_at
            counts = recorder.counts()
            if counts.faults_started == 0 or counts.ops == looked_at:
                return False  # no fault yet, or the same history as last time: not decided
            looked_at = counts.ops
            h = recorder.history()
            windows = h.fault_windows()
            if not windows:
                return False
            place = placer(h, windows)
            for c in early:
                v = c.check(h)
                if v.result == "invalid" and any(
                        place(a) in ("during", "after") for a in v.anomalies):
                    return True
            return False

        return decided


def afresh(workload: Workload, n: int) -> Workload:
    """The workload for explored run ``n``, on keys of its own: its ``afresh(n)`` if it has one,
    else the same workload with ``-e<n>-`` after its key ``prefix``; TypeError otherwise."""
    own = getattr(workload, "afresh", None)
    if callable(own):
        return own(n)
    if is_dataclass(workload) and "prefix" in {f.name for f in fields(workload)}:
        return replace(workload, prefix=f"{workload.prefix}e{n}-")
    raise TypeError(f"the {getattr(workload, 'name', type(workload).__name__)} workload cannot "
                    "start on keys no earlier run wrote (it has no key prefix and no afresh(n))"
                    ", so its explored runs would read each other's data")
