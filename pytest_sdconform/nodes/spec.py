"""What a backend asks of a runtime: node specs, and where a node's files live.

A backend describes each node as a ``NodeSpec`` — its command, the configuration files it
needs, its readiness check — and never starts a process itself, so the same backend runs on
any runtime (local processes today; containers next). Paths inside a node come from the
runtime (``Runtime.paths``) before the specs are built, because a command line and a
configuration file name them.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .readiness import Readiness


@dataclass(frozen=True)
class NodePaths:
    """Where a node's configuration files and its data live, as the node sees them."""

    conf: Path  # the node's ``files`` are written here before it starts
    data: Path  # its working directory; what a crash keeps


@dataclass
class NodeSpec:
    """How to start one node: its command, environment, files, readiness check and user."""

    name: str
    address: str
    command: Sequence[str]
    ready: Readiness | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this user (PostgreSQL refuses root)
    ready_timeout: float = 60.0
    stop_signal: int = signal.SIGTERM
    # File name -> content, written into the node's ``conf`` folder before its first start.
    files: dict[str, str] = field(default_factory=dict)
    # Commands run once in the node's place before its first start (e.g. formatting storage).
    setup: Sequence[Sequence[str]] = ()
    # Kill every process the node forked, not only its process group: PostgreSQL's children
    # call setsid(), so a signal to the group leaves them running (and committing).
    kill_tree: bool = False
    # The binary whose wall clock the clock-skew fault moves (None: the node is not skewable).
    clock: str | None = None
    # Another node this one runs beside, sharing its network identity (a Redis Sentinel on a
    # server's machine): a partition cuts both, and partitions are drawn over hosts only.
    host: str | None = None
    # What a container runtime needs: the image role the node runs in (``images/``), and the
    # host folders it reads (jars, the harness's own package), mounted read-only at their paths.
    image: str = ""
    shared: Sequence[Path] = ()
    # The node's data folder sits on a filesystem that can lose what was never fsynced
    # (``nodes/disk.py``), for the power-loss fault; set for every node of a cluster started
    # with ``power_loss=True``.
    lossy_disk: bool = False
    # The ports of this node the harness connects to (its readiness port counts too): a
    # runtime whose nodes are not routed to the harness forwards them (``nodes/routes.py``).
    ports: Sequence[int] = ()

    def harness_ports(self) -> list[int]:
        """``ports`` and the readiness check's port, each once."""
        found = list(self.ports)
        port = getattr(self.ready, "port", None)
        if isinstance(port, int) and port not in found:
            found.append(port)
        return found
