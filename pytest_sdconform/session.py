"""A harness session: the run folder, the seed, the address block, and the cases recorded so far.

``verdicts.json`` is rewritten after every case, so an interrupted run keeps what it decided.
Under pytest-xdist each worker writes ``verdicts.<worker>.json``; the controller merges them.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .backends.base import Topology
from .cluster import Cluster
from .faults.schedule import Schedule
from .nodes.addresses import AddressBlock, allocate
from .progress import progress as say
from .runs import Run, new_run

InfoT = TypeVar("InfoT")


@dataclass
class Options:
    runtime: str = "local"
    duration: float = 10.0
    concurrency: int = 4
    faults: tuple[str, ...] = ()  # empty: every fault a suite asks for
    seed: int = 0
    report: Path | None = None
    strict: bool = False
    images: dict[str, str] = field(default_factory=dict)  # image role -> image (docker)
    rootdir: Path | None = None  # where the test ids are relative to (for replay)
    versions: dict[str, str] = field(default_factory=dict)  # backend -> release to run
    explore: int = 0  # schedules to explore per case whose claim should hold (explore.py)
    explore_budget: float = 300.0  # seconds of shrinking a refuting schedule
    schedule: Schedule | None = None  # --sdconform-schedule: the nemesis follows it
    schedule_file: Path | None = None

    def replayable(self) -> dict[str, Any]:
        """What ``sdconform replay`` needs to run a case again the same way."""
        return {"runtime": self.runtime, "duration": self.duration,
                "concurrency": self.concurrency, "faults": list(self.faults), "seed": self.seed,
                "images": self.images, "versions": self.versions,
                "rootdir": str(self.rootdir) if self.rootdir else None}


def worker_id() -> str | None:
    return os.environ.get("PYTEST_XDIST_WORKER")


def suite_of(nodeid: str) -> str:
    """The suite folder of a test (``suites/kafka`` for ``suites/kafka/test_kafka.py::t``)."""
    return nodeid.split("::", 1)[0].rpartition("/")[0]


@dataclass
class Session:
    options: Options
    folder: Path
    run_id: str
    started: float = field(default_factory=time.time)
    cases: list[dict[str, Any]] = field(default_factory=list)
    systems: set[str] = field(default_factory=set)
    _block: AddressBlock | None = None
    _counter: int = 0
    # Shared clusters by key: the cluster, its address block, the suite folders that used it.
    _shared: dict[str, Any] = field(default_factory=dict)
    _shared_blocks: dict[str, AddressBlock] = field(default_factory=dict)
    _shared_users: dict[str, set[str]] = field(default_factory=dict)
    _shared_started: int = 0
    # Where a run's progress lines go (the plugin points it at the terminal: pytest captures
    # a test's own output, and a long chaos run must show that it is alive).
    progress: Any = None

    @classmethod
    def create(cls, options: Options, run_id: str | None = None) -> Session:
        # Unique across sessions started in the same second (parallel CI jobs): the run id
        # names ledgers, cgroups and containers.
        run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        folder = options.report or Path("reports") / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return cls(options, folder, run_id)

    @property
    def block(self) -> AddressBlock:
        if self._block is None:
            self._block = allocate()
        return self._block

    def new_case(self, name_hint: str) -> tuple[str, Path, Run]:
        """A case folder and a run of its own (ledger, chains, cgroups) for one test."""
        self._counter += 1
        prefix = f"{worker_id()}-" if worker_id() else ""
        case = f"case-{prefix}{self._counter:03d}"
        folder = self.folder / case
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "test.txt").write_text(name_hint + "\n")
        run = new_run(folder, f"{self.run_id}-{prefix}{self._counter:03d}")
        return case, folder, run

    def record(self, case: dict[str, Any]) -> None:
        self.cases.append(case)
        if case.get("backend"):
            self.systems.add(case["backend"])
        self.write()

    def verdicts_path(self) -> Path:
        w = worker_id()
        return self.folder / (f"verdicts.{w}.json" if w else "verdicts.json")

    def write(self) -> None:
        tmp = self.verdicts_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(self.cases, indent=2, default=str))
        tmp.replace(self.verdicts_path())
        info = {
            "run_id": self.run_id,
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started)),
            "seed": self.options.seed,
            "runtime": self.options.runtime,
            "duration_s": round(time.time() - self.started, 1),
            "systems": sorted(self.systems),
            "options": self.options.replayable(),
        }
        if not worker_id():
            (self.folder / "run.json").write_text(json.dumps(info, indent=2))

    def merge_workers(self) -> None:
        """On the xdist controller: gather the workers' verdicts into verdicts.json."""
        merged = list(self.cases)
        for path in sorted(self.folder.glob("verdicts.gw*.json")):
            merged += json.loads(path.read_text())
        self.cases = merged
        self.systems |= {c["backend"] for c in merged if c.get("backend")}
        self.write()

    def shared_cluster(self, topology: Topology[InfoT], power_loss: bool = False,
                       suite: str = "") -> Cluster[InfoT]:
        """One cluster per topology (by its description) for the tests of a suite folder
        (``suite``) and any other that asks while it is up, on an address block of its own: the
        cases' own clusters (on the session's block) start and stop beside it. It is stopped
        when the session leaves the suites that used it (``leave_suite``), or at the end."""
        key = f"{type(topology).__module__}.{type(topology).__name__}:{power_loss}:" + json.dumps(
            topology.describe(), sort_keys=True, default=str)
        if key not in self._shared:
            self._shared_started += 1
            n = self._shared_started
            prefix = f"{worker_id()}-" if worker_id() else ""
            run = new_run(self.folder / f"shared-{prefix}{n}", f"{self.run_id}-{prefix}s{n}")
            block = allocate()
            try:
                self._shared[key] = topology.start(run, block, seed=self.options.seed,
                                                   runtime=self.options.runtime,
                                                   images=self.options.images,
                                                   power_loss=power_loss)
            except BaseException:
                block.release()
                raise
            self._shared_blocks[key] = block
            self._shared_users[key] = set()
        self._shared_users[key].add(suite)
        cluster: Cluster[InfoT] = self._shared[key]
        return cluster

    def leave_suite(self, suite: str, next_suite: str | None) -> None:
        """The session moves on from the tests of ``suite`` to ``next_suite``'s: the shared
        clusters the suite used are stopped now, unless the next suite used them too (a run
        over every suite would otherwise hold every JVM cluster until its end)."""
        for key, users in list(self._shared_users.items()):
            if suite in users and next_suite not in users:
                say(f"{suite}: done; its shared cluster stopped")
                self._stop_shared(key)

    def _stop_shared(self, key: str) -> None:
        try:
            self._shared.pop(key).stop()
        finally:
            self._shared_users.pop(key, None)
            self._shared_blocks.pop(key).release()

    def close(self) -> None:
        errors = []
        for key in list(self._shared):
            try:
                self._stop_shared(key)
            except Exception as e:  # stop the others all the same
                errors.append(e)
        if self._block is not None:
            self._block.release()
            self._block = None
        if errors:
            raise errors[0]
