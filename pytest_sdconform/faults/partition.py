"""Network partitions between nodes: shapes, and a fault that installs one, proves it, heals it.

A shape is the set of directed (from, to) node pairs whose packets are dropped. The usual ones:
``isolate`` (one node from the rest), ``halves`` (two sides, the bigger one a majority),
``majorities-ring`` (every node sees a majority, no two see the same one; 5+ nodes), ``bridge``
(two sides and one node that sees both), ``one-way`` (one node's packets to the others are
dropped, theirs to it still arrive).
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import FaultNotEffective, FaultUnavailable

SHAPES = ("isolate", "halves", "majorities-ring", "bridge", "one-way")
PROBE_PORT = 9  # "discard": nothing listens, so a reachable node answers with a RST at once


@dataclass
class Cut:
    """A partition shape over node names."""

    shape: str
    blocked: set[tuple[str, str]]
    groups: list[list[str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"shape": self.shape}
        if self.groups:
            d["groups"] = self.groups
        else:
            d["blocked"] = sorted([a, b] for a, b in self.blocked)
        return d


def between(groups: Sequence[Sequence[str]]) -> set[tuple[str, str]]:
    """Both directions of every pair of nodes that share no group."""
    blocked = set()
    for a, b in itertools.permutations({n for g in groups for n in g}, 2):
        if not any(a in g and b in g for g in groups):
            blocked.add((a, b))
    return blocked


def isolate(nodes: Sequence[str], victim: str) -> Cut:
    groups = [[victim], [n for n in nodes if n != victim]]
    return Cut("isolate", between(groups), groups)


def halves(nodes: Sequence[str], rng: random.Random) -> Cut:
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    k = len(shuffled) // 2
    groups = [sorted(shuffled[:k]), sorted(shuffled[k:])]
    return Cut("halves", between(groups), groups)


def majorities_ring(nodes: Sequence[str], rng: random.Random) -> Cut:
    if len(nodes) < 5:
        raise ValueError("a majorities ring needs at least 5 nodes")
    ring = list(nodes)
    rng.shuffle(ring)
    n = len(ring)
    reach = (n // 2) // 2  # neighbours on each side: with itself, a bare majority
    blocked = set()
    for i, j in itertools.permutations(range(n), 2):
        distance = min((i - j) % n, (j - i) % n)
        if distance > reach:
            blocked.add((ring[i], ring[j]))
    return Cut("majorities-ring", blocked)


def bridge(nodes: Sequence[str], rng: random.Random) -> Cut:
    if len(nodes) < 3:
        raise ValueError("a bridge needs at least 3 nodes")
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    middle = shuffled[0]
    rest = shuffled[1:]
    k = len(rest) // 2
    groups = [sorted([*rest[:k], middle]), sorted([*rest[k:], middle])]
    return Cut("bridge", between(groups), groups)


def one_way(nodes: Sequence[str], victim: str) -> Cut:
    return Cut("one-way", {(victim, n) for n in nodes if n != victim})


def make_cut(shape: str, nodes: Sequence[str], rng: random.Random) -> Cut:
    if shape == "isolate":
        return isolate(nodes, rng.choice(list(nodes)))
    if shape == "halves":
        return halves(nodes, rng)
    if shape == "majorities-ring":
        return majorities_ring(nodes, rng)
    if shape == "bridge":
        return bridge(nodes, rng)
    if shape == "one-way":
        return one_way(nodes, rng.choice(list(nodes)))
    raise ValueError(f"unknown partition shape {shape!r}; known: {', '.join(SHAPES)}")


Probe = Callable[[Sequence[str], int, float], dict[str, str]]
"""Probes addresses as a node's own traffic: (addresses, port, timeout) -> {address: "open" |
"blocked"}. A runtime whose nodes live in their own network namespaces gives one per node."""

Entry = Path | Probe
"""How a probe runs as a node's own traffic: its cgroup (local runtime: the cgroup's traffic
leaves from the node's address), or a Probe run from inside its network (a container's)."""


class Dropper(Protocol):
    """What installs and removes a partition's DROP rules for (source, destination) addresses."""

    def drop(self, pairs: set[tuple[str, str]]) -> None: ...

    def heal(self) -> None: ...


def probe_from_cgroup(cgroup: Path, addresses: Sequence[str], port: int,
                      timeout: float) -> dict[str, str]:
    """Run probe.py in a node's cgroup: its connections leave with the node's address."""
    script = Path(__file__).with_name("probe.py")
    enter = ["/bin/sh", "-c", f'echo $$ > "{cgroup / "cgroup.procs"}" && exec "$@"', "probe"]
    argv = [*enter, sys.executable, "-I", str(script), str(port), str(timeout), *addresses]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    result: dict[str, str] = json.loads(done.stdout)
    return result


def probe_all(
    sources: Mapping[str, Entry],
    targets: dict[str, str],
    timeout: float = 0.5,
    port: int = PROBE_PORT,
) -> dict[str, dict[str, str]]:
    """From inside each source node's network (as its own traffic would), try every target.

    Returns {source: {target address: "open" | "blocked"}}; all sources probe at once.
    """

    def one(name: str) -> dict[str, str]:
        entry = sources[name]
        addresses = [a for n, a in targets.items() if n != name]
        try:
            if isinstance(entry, Path):
                return probe_from_cgroup(entry, addresses, port, timeout)
            return entry(addresses, port, timeout)
        except Exception as e:
            raise RuntimeError(f"probe from {name} failed: {e}") from e

    with ThreadPoolExecutor(max(1, len(sources))) as pool:
        return dict(zip(sources, pool.map(one, sources), strict=True))


class Partition:
    """The partition fault over one cluster: start a shape, prove it, heal and prove that."""

    name = "partition"

    def __init__(
        self,
        netfilter: Dropper,
        addresses: dict[str, str],
        cgroups: Mapping[str, Entry],
        shapes: Sequence[str] = ("isolate", "halves"),
        rng: random.Random | None = None,
    ):
        self.netfilter = netfilter
        self.addresses = addresses
        self.cgroups = cgroups
        self.shapes = list(shapes)
        self.rng = rng or random.Random()
        self.cuts: list[Cut] = []  # when given, start picks one of these (e.g. "isolate n1")
        self.current: Cut | None = None

    def start(self, cut: Cut | None = None) -> dict[str, Any]:
        """Install a cut (a random one of ``shapes`` by default) and prove it took effect."""
        if cut is None and self.cuts:
            cut = self.rng.choice(self.cuts)
        if cut is None:
            cut = make_cut(self.rng.choice(self.shapes), sorted(self.addresses), self.rng)
        self.netfilter.drop({(self.addresses[a], self.addresses[b]) for a, b in cut.blocked})
        self.current = cut
        observed = self.observe()
        # TCP needs both directions: a one-way cut stops connections either way. A node that
        # is down (a killed container has no network) cannot show its links; the runtime puts
        # its rules back when it starts again.
        up = self._entries()
        expected = {(a, b) for a, b in cut.blocked | {(b, a) for a, b in cut.blocked}
                    if a in up and b in up}
        if observed != expected:
            missing = sorted(expected - observed)
            extra = sorted(observed - expected)
            self.stop()
            raise FaultNotEffective(
                f"partition {cut.shape}: probes disagree (still open: {missing}, "
                f"unexpectedly blocked: {extra})"
            )
        return cut.describe()

    def stop(self) -> dict[str, Any]:
        """Heal (idempotent) and prove every pair talks again."""
        self.netfilter.heal()
        self.current = None
        still = self.observe()
        if still:
            raise FaultNotEffective(f"healed, but still blocked: {sorted(still)}")
        return {}

    def _entries(self) -> dict[str, Entry]:
        """How to probe as each node that is up (a runtime says FaultUnavailable for one that
        is down and has no network to probe from)."""
        entries = {}
        for name in self.addresses:
            try:
                entries[name] = self.cgroups[name]
            except FaultUnavailable:
                continue
        return entries

    def observe(self) -> set[tuple[str, str]]:
        """The directed pairs of nodes that are up which cannot connect now, by probing."""
        entries = self._entries()
        up = {n: a for n, a in self.addresses.items() if n in entries}
        results = probe_all(entries, up)
        return {
            (a, b)
            for a, seen in results.items()
            for b, address in up.items()
            if b != a and seen.get(address) == "blocked"
        }
