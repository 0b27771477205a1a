"""iptables and cgroups for real partitions between processes on loopback addresses.

A process listening on 127.A.B.3 that connects out without binding a source leaves with source
127.0.0.1 (the kernel's loopback route says so), so rules on node addresses alone miss most
inter-node traffic. The fix (ENVIRONMENT.md §1): each node runs in its own cgroup v2 group; the
nat table rewrites that group's outgoing connections to the node's address; DROP rules live in
the raw table, jumped to from both PREROUTING (requests, after SNAT) and OUTPUT (replies, still
addressed to the node's alias before de-SNAT).

Every chain is named for the run, every rule that jumps to one carries the run's tag in a
comment, so cleanup finds them after a crash.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from ..runs import Run

TAG_PREFIX = "sdconform:"


class NetfilterUnavailable(RuntimeError):
    """Partitions cannot be made here (no root, no iptables, no cgroup v2); says why."""


def cgroup2_root() -> Path | None:
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    return Path(parts[1])
    except OSError:
        pass
    return None


def unavailable_reason() -> str | None:
    """None when partitions can be made; otherwise the reason they cannot."""
    if os.geteuid() != 0:
        return "partitions need root (CAP_NET_ADMIN) to change iptables rules"
    if shutil.which("iptables") is None:
        return "partitions need iptables (apt-get install iptables)"
    if cgroup2_root() is None:
        return "partitions need a cgroup v2 mount to tell nodes' traffic apart"
    probe = subprocess.run(
        ["iptables", "-t", "raw", "-S", "PREROUTING"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"iptables does not work here: {probe.stderr.strip()}"
    return None


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["iptables", "-w", "5", *args], capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"iptables {' '.join(args)}: {proc.stderr.strip()}")
    return proc


class Netfilter:
    """One run's chains, SNAT rules and cgroups. ``close`` removes all of them."""

    def __init__(self, run: Run):
        reason = unavailable_reason()
        if reason:
            raise NetfilterUnavailable(reason)
        self.run = run
        short = run.id.replace("-", "")[-10:]
        self.drop_chain = f"sdc-{short}"  # raw table: the partition's DROP rules
        self.snat_chain = f"sdc-{short}"  # nat table: node cgroups' source rewriting
        root = cgroup2_root()
        assert root is not None
        self.cgroup_root = root
        self.cgroups: list[Path] = []
        self._jumps: list[tuple[str, str, str]] = []
        self._setup()

    def _setup(self) -> None:
        self.run.record("chains", table="raw", chain=self.drop_chain)
        self.run.record("chains", table="nat", chain=self.snat_chain)
        iptables("-t", "raw", "-N", self.drop_chain)
        iptables("-t", "nat", "-N", self.snat_chain)
        for table, hook, chain in (
            ("raw", "PREROUTING", self.drop_chain),
            ("raw", "OUTPUT", self.drop_chain),
            ("nat", "POSTROUTING", self.snat_chain),
        ):
            iptables(
                "-t", table, "-I", hook, "-m", "comment", "--comment", self.run.tag, "-j", chain
            )
            self._jumps.append((table, hook, chain))

    def add_node(self, name: str, address: str) -> Path:
        """A cgroup for one node whose outgoing loopback connections leave from ``address``."""
        rel = f"sdconform-{self.run.id}-{name}"
        path = self.cgroup_root / rel
        self.run.record("cgroup", path=str(path))
        path.mkdir(exist_ok=True)
        self.cgroups.append(path)
        iptables(
            "-t",
            "nat",
            "-A",
            self.snat_chain,
            "-m",
            "cgroup",
            "--path",
            rel,
            "-d",
            "127.0.0.0/8",
            "-m",
            "comment",
            "--comment",
            self.run.tag,
            "-j",
            "SNAT",
            "--to-source",
            address,
        )
        return path

    def drop(self, pairs: set[tuple[str, str]]) -> None:
        """Drop every packet from src to dst for each (src, dst) address pair."""
        for src, dst in sorted(pairs):
            iptables(
                "-t",
                "raw",
                "-A",
                self.drop_chain,
                "-s",
                src,
                "-d",
                dst,
                "-m",
                "comment",
                "--comment",
                self.run.tag,
                "-j",
                "DROP",
            )

    def heal(self) -> None:
        """Remove every DROP rule of this run (idempotent)."""
        iptables("-t", "raw", "-F", self.drop_chain, check=False)

    def dropped(self) -> set[tuple[str, str]]:
        """The (src, dst) pairs currently dropped, read back from the kernel."""
        out = iptables("-t", "raw", "-S", self.drop_chain, check=False).stdout
        pairs = set()
        for line in out.splitlines():
            words = line.split()
            if "-s" in words and "-d" in words:
                src = words[words.index("-s") + 1].removesuffix("/32")
                dst = words[words.index("-d") + 1].removesuffix("/32")
                pairs.add((src, dst))
        return pairs

    def close(self) -> None:
        """Remove the run's rules, chains and (empty) cgroups; safe to call twice."""
        self.heal()
        for table, hook, chain in self._jumps:
            iptables(
                "-t",
                table,
                "-D",
                hook,
                "-m",
                "comment",
                "--comment",
                self.run.tag,
                "-j",
                chain,
                check=False,
            )
        self._jumps.clear()
        for table, chain in (("raw", self.drop_chain), ("nat", self.snat_chain)):
            iptables("-t", table, "-F", chain, check=False)
            iptables("-t", table, "-X", chain, check=False)
        for path in self.cgroups:
            remove_cgroup(path)
        self.cgroups.clear()


def remove_cgroup(path: Path) -> bool:
    """Kill what is left in a cgroup of ours, then remove it."""
    if not path.exists():
        return True
    kill = path / "cgroup.kill"
    if kill.exists():
        with contextlib.suppress(OSError):
            kill.write_text("1")
    for _ in range(50):
        try:
            path.rmdir()
            return True
        except OSError:
            time.sleep(0.05)
    return False
