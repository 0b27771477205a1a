"""Remove what a killed run left behind: processes, mounts, partition rules, cgroups, proxies,
network namespaces and bridges.

Only runs whose owner process is gone are touched (unless asked for all), and a process is
stopped only if its pid still belongs to the process the ledger recorded (same start time).
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from .faults.netfilter import TAG_PREFIX, cgroup2_root, iptables, remove_cgroup
from .faults.preload import remove_stale_faketime_shm
from .nodes.netns import remove as remove_netns
from .progress import progress
from .runs import Run, known_runs, live_owners
from .runtimes.lossfs import mounted, unmount
from .runtimes.process import stop_recorded_process


def tagged_rules(tag_prefix: str = TAG_PREFIX) -> list[tuple[str, list[str]]]:
    """(table, rule arguments) of every iptables rule whose comment carries our tag."""
    rules = []
    for table in ("raw", "nat", "filter", "mangle"):
        proc = subprocess.run(
            ["iptables-save", "-t", table], capture_output=True, text=True, check=False
        )
        for line in proc.stdout.splitlines():
            if line.startswith("-A ") and tag_prefix in line:
                rules.append((table, shlex.split(line)[1:]))
    return rules


def our_chains() -> list[tuple[str, str]]:
    chains = []
    for table in ("raw", "nat"):
        proc = subprocess.run(
            ["iptables-save", "-t", table], capture_output=True, text=True, check=False
        )
        for line in proc.stdout.splitlines():
            if line.startswith(":sdc-"):
                chains.append((table, line[1:].split()[0]))
    return chains


def remove_rules(run_ids: set[str] | None) -> list[str]:
    """Delete tagged rules (of the given runs, or all ours), then our emptied chains."""
    removed = []
    for table, args in tagged_rules():
        run_id = next((a.removeprefix(TAG_PREFIX) for a in args if a.startswith(TAG_PREFIX)), "")
        if run_ids is not None and run_id not in run_ids:
            continue
        if iptables("-t", table, "-D", *args, check=False).returncode == 0:
            removed.append(f"iptables rule -t {table} {' '.join(args)}")
    referenced = {a for _, args in tagged_rules() for a in args}
    for table, chain in our_chains():
        if chain in referenced:
            continue  # still jumped to by a live run
        iptables("-t", table, "-F", chain, check=False)
        if iptables("-t", table, "-X", chain, check=False).returncode == 0:
            removed.append(f"iptables chain -t {table} {chain}")
    return removed


def clean_run(run: Run) -> list[str]:
    removed = []
    resources = run.resources()
    for res in resources:
        if res["kind"] == "process" and stop_recorded_process(res["pid"], res.get("start_time")):
            removed.append(f"process {res.get('name', '?')} (pid {res['pid']}) of run {run.id}")
    for res in resources:  # after the nodes: a filesystem in use only detaches lazily
        if res["kind"] == "lossfs":
            stop_recorded_process(res["pid"], res.get("start_time"))
            if mounted(Path(res["path"])) and unmount(Path(res["path"])):
                removed.append(f"lossfs mount {res['path']} of run {run.id}")
    removed += remove_rules({run.id})
    removed += [f"{what} of run {run.id}" for what in remove_netns(
        [r["name"] for r in resources if r["kind"] == "netns"],
        [r["name"] for r in resources if r["kind"] == "link"])]
    engines = {res.get("engine", "") for res in resources if res["kind"].startswith("docker-")}
    for url in sorted(engines):
        removed += remove_containers(url, run.id)
    for res in resources:
        if (
            res["kind"] == "cgroup"
            and Path(res["path"]).exists()
            and remove_cgroup(Path(res["path"]))
        ):
            removed.append(f"cgroup {res['path']}")
    run.forget()
    return removed


def remove_containers(engine_url: str, run_id: str) -> list[str]:
    """The containers, volumes and network a docker run left on its engine (by their label)."""
    from .runtimes.engines import engine, remove_labelled

    try:
        client = engine(engine_url or None)
    except Exception as e:  # the engine is gone, and what the run made on it with it
        progress(f"cleanup: engine {engine_url or '(default)'} of run {run_id} does not "
                 f"answer ({type(e).__name__}): nothing removed there")
        return []
    return [f"{what} of run {run_id}" for what in remove_labelled(client, run_id)]


def cleanup(all_runs: bool = False) -> list[str]:
    """Clean every run whose owner is gone (or every run); returns what was removed."""
    removed = []
    live = set()
    for run in known_runs():
        if run.is_owner_alive() and not all_runs:
            live.add(run.id)
            continue
        removed += clean_run(run)
    # Rules whose run left no ledger here (the registry was wiped, or the run belongs to
    # another state folder): all ours but those of runs whose owner still runs somewhere.
    if not all_runs:
        live |= live_owners()
    orphans = {
        next((a.removeprefix(TAG_PREFIX) for a in args if a.startswith(TAG_PREFIX)), "")
        for _, args in tagged_rules()
    } - live
    if orphans:
        removed += remove_rules(orphans)
    removed += remove_orphan_cgroups(live)
    removed += [f"libfaketime leftover {p}" for p in remove_stale_faketime_shm()]
    return removed


def remove_orphan_cgroups(live: set[str]) -> list[str]:
    """Our cgroups (``sdconform-<run>-<node>``) of runs not alive; whatever is inside is killed."""
    root = cgroup2_root()
    removed = []
    for path in sorted(root.glob("sdconform-*")) if root else []:
        if any(path.name.startswith(f"sdconform-{rid}-") for rid in live):
            continue
        if remove_cgroup(path):
            removed.append(f"cgroup {path}")
    return removed
