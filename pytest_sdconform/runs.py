"""Runs and their ledgers: every process, cgroup, rule chain and proxy a run creates is written
down (and flushed) the moment it exists, so that ``sdconform cleanup`` can remove what a killed
run left behind.

Registry: ``$SDCONFORM_STATE`` (default ``/tmp/sdconform``) ``/runs/<run-id>/`` holds
``owner`` (pid and start time of the process that owns the run) and ``ledger.jsonl``.

Owners: besides its registry, every run writes its owner into one machine-wide folder
(``$SDCONFORM_OWNERS``, default ``<tmp>/sdconform-owners``), so that a cleanup working from
one state folder can tell a live run of another (the harness's own tests use private state
folders) from an orphan: it never removes the cgroups or rules of a run whose owner lives.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def state_dir() -> Path:
    return Path(os.environ.get("SDCONFORM_STATE", "/tmp/sdconform"))


def owners_dir() -> Path:
    return Path(os.environ.get("SDCONFORM_OWNERS")
                or Path(tempfile.gettempdir()) / "sdconform-owners")


def machine_folder(path: Path) -> Path:
    """A folder every user of the machine writes in (made like /tmp: everyone may add, only
    an entry's owner may remove it), so that runs by root and by a CI user coexist."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        if path.stat().st_uid == os.geteuid():
            path.chmod(0o1777)
    return path


def live_owners() -> set[str]:
    """The ids of runs, from any state folder, whose owner (as the machine-wide owners folder
    has it) still runs."""
    live = set()
    for entry in owners_dir().iterdir() if owners_dir().is_dir() else []:
        try:
            pid, start = entry.read_text().split()
            if is_same_process(int(pid), int(start)):
                live.add(entry.name)
        except (OSError, ValueError):
            continue
    return live


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it is gone.

    Together with the pid it identifies a process: a recycled pid has another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its closing ')' are fixed.
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def is_same_process(pid: int, start_time: int | None) -> bool:
    return start_time is not None and process_start_time(pid) == start_time


@dataclass
class Run:
    """One harness run: an id, a folder for nodes' data and logs, and a ledger of resources."""

    id: str
    folder: Path

    @property
    def registry(self) -> Path:
        return state_dir() / "runs" / self.id

    @property
    def tag(self) -> str:
        """What every iptables rule of this run carries in its comment."""
        return f"sdconform:{self.id}"

    def record(self, kind: str, **fields: Any) -> None:
        """Write down a resource as soon as it exists (flushed: a SIGKILL cannot lose it)."""
        line = json.dumps({"kind": kind, **fields}) + "\n"
        with open(self.registry / "ledger.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def resources(self) -> list[dict[str, Any]]:
        try:
            with open(self.registry / "ledger.jsonl", encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError):
            return []

    def owner(self) -> tuple[int, int | None] | None:
        try:
            pid, start = (self.registry / "owner").read_text().split()
            return int(pid), int(start)
        except (OSError, ValueError):
            return None

    def is_owner_alive(self) -> bool:
        owner = self.owner()
        return owner is not None and is_same_process(*owner)

    def forget(self) -> None:
        """Remove the registry entry once everything in the ledger is gone."""
        shutil.rmtree(self.registry, ignore_errors=True)
        (owners_dir() / self.id).unlink(missing_ok=True)


def new_run(folder: Path | str | None = None, run_id: str | None = None) -> Run:
    """Register a run owned by this process; its folder defaults to the registry entry."""
    rid = run_id or time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    run = Run(rid, Path(folder) if folder else state_dir() / "runs" / rid / "files")
    run.registry.mkdir(parents=True, exist_ok=True)
    run.folder.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    owner = f"{pid} {process_start_time(pid)}\n"
    (run.registry / "owner").write_text(owner)
    (machine_folder(owners_dir()) / rid).write_text(owner)
    (run.registry / "folder").write_text(str(run.folder.resolve()) + "\n")
    return run


def known_runs() -> list[Run]:
    runs_dir = state_dir() / "runs"
    out = []
    for entry in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
        try:
            folder = Path((entry / "folder").read_text().strip())
        except OSError:
            folder = entry / "files"
        out.append(Run(entry.name, folder))
    return out
