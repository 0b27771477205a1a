"""Power loss: nodes die at once and lose what they wrote but never made durable.

A kill keeps the operating system's page cache: what a process wrote survives it even without
fsync. A machine that loses power keeps only what reached the disk. ``PowerLoss`` cuts one node,
some, or all at once (a correlated failure: a rack, a zone): it SIGKILLs each victim, then has
its disk (``nodes/disk.py``) drop the writes that were never fsynced, in one of three modes
(``all``, ``prefix``: a random prefix of each file's unsynced writes survives, ``torn``: each
file's unsynced writes are cut at a sector boundary inside one of them, which is torn).
``stop`` restarts the nodes on what survived.

Each cut is proven, not assumed: before it, two probe files are written into each victim's data
folder, one fsynced and one not; after it, the fsynced one must read back whole and the other
must be gone (empty or missing). Both outcomes and what each disk dropped are on record.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ..nodes import Node
from ..nodes.disk import CUT_MODES
from . import FaultNotEffective, FaultUnavailable

SYNCED, UNSYNCED = ".sdconform-power-synced", ".sdconform-power-unsynced"


class PowerLoss:
    name = "power-loss"

    def __init__(self, nodes: Sequence[Node], count: int = 1, mode: str = "all",
                 rng: random.Random | None = None):
        if mode not in CUT_MODES:
            raise ValueError(f"unknown power-loss mode {mode!r}; known: {', '.join(CUT_MODES)}")
        without = [n.name for n in nodes if n.disk is None]
        if without:
            raise FaultUnavailable(
                f"power loss: {', '.join(without)} not on a lossy disk (start the cluster with "
                "power_loss=True, on a runtime that offers it)")
        if not nodes:
            raise ValueError("power loss: no nodes to cut")
        self.nodes = list(nodes)
        self.count = min(count, len(self.nodes))
        self.mode = mode
        self.rng = rng or random.Random()
        self.victims: list[Node] = []

    def start(self, victims: Sequence[Node] | None = None) -> dict[str, Any]:
        """Cut the power of ``count`` random nodes (or ``victims``), all at the same moment."""
        self.victims = list(victims) if victims else self.rng.sample(self.nodes, self.count)
        for node in self.victims:  # every process first: none outlives another's cut
            node.kill()
            if node.is_running():
                raise FaultNotEffective(f"power loss: {node.name} is still running")
        token = f"{self.rng.getrandbits(64):016x}".encode()
        dropped, probes = {}, {}
        for node in self.victims:
            disk = node.disk
            assert disk is not None
            disk.write(SYNCED, token, fsync=True)
            disk.write(UNSYNCED, token, fsync=False)
            dropped[node.name] = disk.cut(self.mode, self.rng.getrandbits(31))
            synced, unsynced = disk.read(SYNCED), disk.read(UNSYNCED)
            probes[node.name] = {"fsynced": "kept" if synced == token else repr(synced),
                                 "unsynced": "lost" if not unsynced else repr(unsynced)}
            disk.remove(SYNCED)
            disk.remove(UNSYNCED)
            if synced != token or unsynced:
                raise FaultNotEffective(
                    f"power loss on {node.name}: the probes disagree ({probes[node.name]})")
        return {"nodes": [n.name for n in self.victims], "mode": self.mode,
                "dropped": dropped, "probes": probes}

    def stop(self) -> dict[str, Any]:
        """Power back on: restart each node on what its disk kept; returns once each is ready."""
        down = [node for node in self.victims if not node.is_running()]
        for node in down:  # all at once: a quorum may need several back before any is ready
            node.start(wait=False)
        for node in down:
            node.wait_ready()
        self.victims = []
        return {"restarted": [n.name for n in down]}
