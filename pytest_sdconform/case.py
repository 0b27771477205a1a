"""One suite test's case: start a cluster, run a workload under faults, check, decide, record.

This is what the ``sdconform`` fixture hands a suite test::

    def test_replica_reads(sdconform):
        cluster = sdconform.start(redis.Topology(replicas=2))
        sdconform.run(Register(), clients, faults=[cluster.partition()],
                      decide=["sessions"], config={"reads": "replica"})

``run`` compares the outcome with the claim's expected one and fails the test when they differ
(an inconclusive case skips, or fails under ``--sdconform-strict``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .attempt import Attempt
from .backends.base import Topology
from .checkers import Checker
from .checkers.judge import REFUTED, Checkers, ExerciseRule, Judge, ok_in_every_window, some_ok
from .checkers.shrink import shrink
from .checkers.verdict import Verdict
from .claims import Claim
from .cluster import Cluster
from .faults import Fault, FaultUnavailable
from .faults.schedule import Schedule, ScheduleError
from .history import History
from .outcome import INCONCLUSIVE, Decision, ok_during_faults
from .runner import RunConfig
from .runs import Run
from .runtimes import RuntimeUnsupported
from .session import Session, suite_of
from .workloads import Client, Workload

# Seconds of judging a refuted case may spend looking for its smallest counterexample.
SHRINK_BUDGET_S = 5.0

F = TypeVar("F")
InfoT = TypeVar("InfoT")


@dataclass
class CaseOutcome:
    outcome: str
    expected: str
    reason: str
    verdicts: dict[str, Verdict]
    history: History
    record: dict[str, Any]


@dataclass
class Case:
    session: Session
    claim: Claim | None
    expected: str | None
    backend: str | None
    test: str
    name: str
    folder: Path
    case_run: Run  # the case's own ledger, chains and cgroups
    configuration: str | None = None  # the catalogue's configuration the test runs under
    expected_why: str = ""  # why that is the expected outcome there
    clusters: list[Cluster] = field(default_factory=list)
    # The test's JUnit properties (pytest's ``user_properties``): the outcome goes there too.
    properties: list[tuple[str, object]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def start(self, topology: Topology[InfoT], shared: bool = False,
              power_loss: bool = False) -> Cluster[InfoT]:
        """Start a topology's nodes for this case; they are stopped when the test ends.

        ``shared``: reuse one cluster of this topology for every test of the session that
        asks for it (for servers whose start-up dominates, such as JVMs), stopped at the end
        of the session. Tests sharing a cluster must use keys of their own (a key prefix).
        ``power_loss``: the nodes' data on disks that can lose unsynced writes (needed by
        ``cluster.power_loss()``); the test skips, saying why, where that cannot be done.
        """
        topology = self._in_version(topology)
        self.config.update(topology.describe())
        runtime = self.session.options.runtime
        try:
            if power_loss:
                self.config["disk"] = "sdconform-lossfs (loses unsynced writes)"
            if shared:
                cluster = self.session.shared_cluster(topology, power_loss,
                                                      suite=suite_of(self.test))
                self.config["shared_cluster"] = True
            else:
                cluster = topology.start(self.case_run, self.session.block,
                                         seed=self.session.options.seed, runtime=runtime,
                                         images=self.session.options.images,
                                         power_loss=power_loss)
                self.clusters.append(cluster)
        except RuntimeUnsupported as e:
            pytest.skip(str(e))
        if (served := topology.served_version(cluster.info)) is not None:
            self.config["version"] = served  # what runs, not what this machine has
        return cluster

    def _in_version(self, topology: Topology[InfoT]) -> Topology[InfoT]:
        """The topology in the release ``--sdconform-version`` names for its backend."""
        version = self.session.options.versions.get(topology.backend)
        if version is None:
            return topology
        if "version" not in {f.name for f in fields(topology)}:  # type: ignore[arg-type]
            raise pytest.UsageError(f"--sdconform-version {topology.backend}={version}: "
                                    f"{topology.backend} is not fetched by version")
        return replace(topology, version=version)  # type: ignore[type-var]

    def fault(self, make: Callable[[], F]) -> F:
        """Build a fault (or what makes faults); skip the test with the reason when this
        machine cannot make it."""
        try:
            return make()
        except FaultUnavailable as e:
            pytest.skip(f"fault unavailable: {e}")

    def run(
        self,
        workload: Workload,
        client_factory: Callable[[int], Client],
        faults: Sequence[Fault] = (),
        *,
        decide_by: Sequence[str] = (),
        checkers: Sequence[Checker] | None = None,
        judge: Judge | None = None,
        exercise: ExerciseRule | None = None,
        emulator_limit: str | None = None,
        config: dict[str, Any] | None = None,
        converged: Callable[[], bool] | None = None,
        run: RunConfig | None = None,
    ) -> CaseOutcome:
        """Run ``workload`` under ``faults`` and decide the claim.

        The case is decided by ``judge``, or by the checkers named in ``decide_by`` (all of
        them by default) once ``exercise`` says the behaviour was exercised (default: operations
        succeeded during every fault window; with no fault, that the workload ran).
        ``emulator_limit``: why the emulator this case runs on cannot exhibit the claim.
        ``run``: the schedule (fault and quiet spans, settle, timeouts); a duration or a
        concurrency it leaves at 0 is the session's (``--sdconform-duration``...).
        """
        opts = self.session.options
        if opts.faults and faults:
            kept = [f for f in faults if f.name in opts.faults]
            if not kept:
                names = ", ".join(sorted({f.name for f in faults}))
                pytest.skip(f"every fault of this case ({names}) is filtered out by "
                            f"--sdconform-faults {','.join(opts.faults)}")
            faults = kept
        self.config.update(config or {})
        checks = list(checkers if checkers is not None else workload.checkers())
        if judge is not None and (exercise is not None or decide_by):
            raise TypeError("give a judge, or decide_by/exercise for the checkers, not both: "
                            "a judge states what it exercises itself")
        if judge is None:
            deciding = list(decide_by) or [c.name for c in checks]
            rule = exercise or (ok_in_every_window() if faults else some_ok)
            judge = Checkers(deciding, rule, rule.__doc__ or str(getattr(rule, "__name__", "?")))
        run = run or RunConfig()
        cfg = replace(run, duration=run.duration or opts.duration,
                      concurrency=run.concurrency or opts.concurrency, seed=opts.seed,
                      schedule=self._written_schedule(faults) or run.schedule)
        started = time.monotonic()
        attempt = Attempt(workload, client_factory, faults, checks, judge, converged,
                          emulator_limit, self.session.progress)
        done = attempt.run(cfg, self.folder, hunting=self.expected == "refuted")
        exploration = None
        if (opts.explore and faults and cfg.schedule is None
                and done.decision.outcome != REFUTED and self.expected != "refuted"):
            why_not = attempt.explorable()
            if why_not:
                self.config["exploration"] = f"not explored: {why_not}"
            else:
                exploration = attempt.explore(cfg, self.folder / "explore", self.test,
                                              opts.explore, opts.explore_budget)
            if exploration is not None and exploration.minimal is not None:
                done = exploration.minimal.result
        history, verdicts, decision = done.history, done.verdicts, done.decision
        expected = self.expected or decision.outcome
        record = self._record(workload, history, verdicts, done.availability, decision,
                              expected, time.monotonic() - started)
        record["history"] = str((done.folder / "history.jsonl").relative_to(self.session.folder))
        if exploration is not None:
            record["exploration"] = exploration.summary()
        if decision.outcome == REFUTED:
            record["minimal_counterexample"] = self._shrink(history, checks, judge, decision)
        self.session.record(record)
        self.properties += [("sdconform.outcome", decision.outcome),
                            ("sdconform.passed", record["passed"]),
                            ("sdconform.case", self.name),
                            ("sdconform.report", f"{self.session.folder / 'index.html'}"
                                                 f"#{self.name}")]
        result = CaseOutcome(decision.outcome, expected, decision.reason, verdicts, history,
                             record)
        self._assert(result)
        return result

    def _shrink(self, history: History, checks: Sequence[Checker], judge: Judge,
                decision: Decision) -> dict[str, Any] | None:
        """The smallest part of the history the judge still refutes with the first anomaly's
        kind (``checkers/shrink.py``); None when the refutation names no operations."""
        first = next((a for a in decision.anomalies if a.get("ops")), None)
        if first is None:
            return None
        kind = first["kind"]

        def refutes(h: History) -> bool:
            ruling = judge.rule(h, {c.name: c.check(h) for c in checks})
            return ruling.outcome == REFUTED and any(a.kind == kind for a in ruling.anomalies)

        shrunk = shrink(history, refutes, first["ops"], budget_s=SHRINK_BUDGET_S)
        return None if shrunk is None else shrunk.to_json()

    def _written_schedule(self, faults: Sequence[Fault]) -> Schedule | None:
        """``--sdconform-schedule``'s schedule, checked against this case's faults."""
        schedule = self.session.options.schedule
        if schedule is None:
            return None
        where = str(self.session.options.schedule_file or "--sdconform-schedule")
        try:
            schedule.check([f.name for f in faults], where)
        except ScheduleError as e:
            pytest.fail(str(e), pytrace=False)
        self.config["schedule"] = schedule.describe()
        return schedule

    def _record(self, workload: Workload, history: History, verdicts: dict[str, Verdict],
                availability: Verdict, decision: Decision, expected: str, duration: float
                ) -> dict[str, Any]:
        counts = {t: 0 for t in ("ok", "fail", "info")}
        for c in history.complete():
            counts[c.type] = counts.get(c.type, 0) + 1
        claim = self.claim
        passed = decision.outcome == expected and decision.attributed
        return {
            "case": self.name, "test": self.test,
            "claim": claim.id if claim else None,
            "title": claim.title if claim else self.test,
            "configuration": self.configuration,
            "expected_why": self.expected_why,
            "backend": self.backend, "runtime": self.session.options.runtime,
            "emulator": bool(self.config.get("emulator")),
            "config": self.config,
            "faults": [r.to_json() for r in decision.faults],
            "workload": getattr(workload, "name", type(workload).__name__),
            "outcome": decision.outcome, "expected": expected, "passed": passed,
            "reason": decision.reason, "judge": decision.judge,
            "exercised": decision.exercised, "exercised_why": decision.exercised_why,
            "attributed": decision.attributed,
            "checkers": {n: v.result for n, v in verdicts.items()},
            "anomalies": decision.anomalies, "ops": counts,
            "ok_during_faults": ok_during_faults(history),
            "duration_s": round(duration, 1), "seed": self.session.options.seed,
            "metrics": _metrics(availability),
        }

    def _assert(self, result: CaseOutcome) -> None:
        claim = self.claim.id if self.claim else self.test
        where = f"report: {self.session.folder / 'index.html'}#{self.name}"
        if result.outcome == result.expected and result.record["attributed"]:
            return
        if result.outcome == INCONCLUSIVE and not self.session.options.strict:
            pytest.skip(f"{claim}: inconclusive: {result.reason}")
        evidence = "; ".join(a.get("explanation", a["kind"])
                             for a in result.record["anomalies"][:3])
        pytest.fail(f"{claim}: {result.outcome}, expected {result.expected}: {result.reason}"
                    + (f"\n  evidence: {evidence}" if evidence else "") + f"\n  {where}",
                    pytrace=False)

    def close(self) -> None:
        try:
            for cluster in reversed(self.clusters):
                cluster.stop()
        finally:
            self.clusters.clear()
            # Also when a topology failed before it had a cluster to stop: nothing of the
            # case is left running, so its registry entry goes too.
            self.case_run.forget()


def _metrics(availability: Verdict) -> dict[str, Any]:
    """The availability figures a report shows next to a case's outcome."""
    d = availability.details
    during, outside = d.get("during_faults") or {}, d.get("outside_faults") or {}
    rtos = [w["heal_to_first_ok_s"] for w in d.get("fault_windows", [])
            if w.get("heal_to_first_ok_s") is not None]
    return {
        "success_ratio_during_faults": during.get("success_ratio"),
        "success_ratio_outside_faults": outside.get("success_ratio"),
        "p99_ms_during_faults": during.get("p99_ms"),
        "longest_unavailable_s": (d.get("longest_unavailable") or {}).get("length_s"),
        "rto_s": max(rtos) if rtos else None,
    }
