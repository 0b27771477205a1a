"""MongoDB: a replica set of one or three ``mongod`` members, initiated and waited for.

No registry this project reaches ships ``mongod`` (not Debian, not PyPI; npm's memory server
downloads binaries at run time), so nothing is provisioned: the local runtime runs the
``mongod`` on the PATH (or the one ``SDCONFORM_MONGOD`` names), the docker runtime the official
``mongo`` image (pinned below, or ``--sdconform-image mongodb=...``), and the external runtime
the deployment ``SDCONFORM_MONGODB_URI`` points to, in a database of the run's own that is
dropped at the end. Where none of that exists a case skips, saying so (``NEEDS``).

Failover is tuned to fit a case: elections after 2 s without the primary (MongoDB's default is
10 s) and a 500 ms heartbeat, a bounded catch-up, and clients that re-check the servers every
500 ms; ``failover_bound_s`` is the longest failover those settings allow.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...cluster import Cluster
from ...images import OFFICIAL
from ...nodes import NodeSpec
from ...nodes.addresses import AddressBlock
from ...nodes.routes import via
from ...provision import ProvisionError
from ...runs import Run
from ...runtimes import RuntimeUnsupported
from .. import base
from .admin import initiate, wait_for_primary
from .info import PORT, REPLICA_SET, MongoInfo

IMAGE = OFFICIAL["mongodb"]  # the official image the docker runtime runs (pinned there)
URI_ENV, BINARY_ENV = "SDCONFORM_MONGODB_URI", "SDCONFORM_MONGOD"
NEEDS = ("needs mongod: on the PATH or named by SDCONFORM_MONGOD (local runtime), the official "
         f"{IMAGE} image in a Docker engine (--sdconform-runtime docker), or a deployment named "
         f"by {URI_ENV} (--sdconform-runtime external); no package registry this machine "
         "reaches ships mongod")

ELECTION_TIMEOUT_MS = 2000  # a secondary calls an election after this long without a primary
HEARTBEAT_MS = 500  # members' heartbeats
CATCH_UP_MS = 2000  # a new primary's catch-up on the old one's writes, bounded
CLIENT_HEARTBEAT_MS = 500  # how often clients re-check the servers (the driver's minimum)
# mongod adds a random offset of up to this fraction of electionTimeoutMillis to each
# election timeout (replElectionTimeoutOffsetLimitFraction), so that members do not all stand
# at once.
ELECTION_OFFSET_FRACTION = 0.15


def failover_bound_s(election_timeout_ms: int = ELECTION_TIMEOUT_MS,
                     heartbeat_ms: int = HEARTBEAT_MS) -> float:
    """The longest failover the settings allow: the election timeout with its largest random
    offset; one failed election (a split vote) and the next after another timeout; the
    winner's catch-up; then a client's next server check finds the new primary."""
    timeout = election_timeout_ms * (1 + ELECTION_OFFSET_FRACTION)
    return (2 * timeout + 2 * heartbeat_ms + CATCH_UP_MS + CLIENT_HEARTBEAT_MS) / 1000


def mongod() -> str | None:
    """The ``mongod`` the local runtime runs, None where there is none."""
    named = os.environ.get(BINARY_ENV)
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("mongod")


def provision() -> str:
    """Nothing to install: MongoDB comes from the user (``NEEDS``). Says which mongod a local
    run would use, or that there is none."""
    binary = mongod()
    return binary or f"no mongod here ({NEEDS})"


def server_version(binary: str | None = None) -> str | None:
    """``mongod --version``'s release (``db version v7.0.14``), None where unknown."""
    binary = binary or mongod()
    if binary is None:
        return None
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"db version v(\d[\w.-]*)", out)
    return found.group(1) if found else None


def member_spec(name: str, address: str, binary: str = "mongod", oplog_mb: int = 64,
                cache_gb: float = 0.25) -> NodeSpec:
    """One member: its data in the node's folder, no unix socket (members share a port number
    on different addresses, and the socket's path has only the port), logs to stdout."""
    argv = [binary, "--replSet", REPLICA_SET, "--bind_ip", address, "--port", str(PORT),
            "--dbpath", ".", "--oplogSize", str(oplog_mb), "--wiredTigerCacheSizeGB",
            str(cache_gb), "--nounixsocket", "--quiet"]
    return NodeSpec(name, address, argv, ready=Hello(address), ready_timeout=60,
                    image="mongodb", ports=[PORT])


@dataclass(frozen=True)
class Hello:
    """Ready when the member answers ``hello`` (before the set is initiated, too)."""

    address: str

    def __call__(self) -> bool:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        host, port = via(self.address, PORT)
        try:
            c: Any = MongoClient(host, port, directConnection=True,
                                 serverSelectionTimeoutMS=500, connectTimeoutMS=500)
            with c:
                c.admin.command("hello")
            return True
        except PyMongoError:
            return False

    def __str__(self) -> str:
        return f"mongod hello at {self.address}:{PORT}"


def replica_set_config(members: dict[str, str], priorities: dict[str, float],
                       election_timeout_ms: int = ELECTION_TIMEOUT_MS,
                       heartbeat_ms: int = HEARTBEAT_MS) -> dict[str, Any]:
    """The document ``replSetInitiate`` takes: each member at its address (as the other
    members and the clients reach it) with its priority; the set's timing settings."""
    if not members:
        raise ValueError("mongodb: a replica set needs at least one member")
    return {
        "_id": REPLICA_SET,
        "members": [{"_id": i, "host": f"{address}:{PORT}", "priority": priorities.get(n, 1)}
                    for i, (n, address) in enumerate(members.items())],
        "settings": {"electionTimeoutMillis": election_timeout_ms,
                     "heartbeatIntervalMillis": heartbeat_ms,
                     "catchUpTimeoutMillis": CATCH_UP_MS},
    }


@dataclass
class Topology(base.Topology[MongoInfo]):
    """A replica set of ``members`` (1 or 3...); ``priorities`` by member name (default: the
    first member 2, so it is primary when all are up, the others 1)."""

    backend: ClassVar[str] = "mongodb"
    runtimes: ClassVar[tuple[str, ...]] = ("local", "docker", "external")

    members: int = 3
    priorities: dict[str, float] = field(default_factory=dict)
    election_timeout_ms: int = ELECTION_TIMEOUT_MS
    heartbeat_ms: int = HEARTBEAT_MS
    oplog_mb: int = 64

    def __post_init__(self) -> None:
        if self.members < 1:
            raise ValueError(f"mongodb: need at least one member, not {self.members}")
        unknown = sorted(set(self.priorities) - set(self.names()))
        if unknown:
            raise ValueError(f"mongodb: priorities for members that do not exist: {unknown}")

    def names(self) -> list[str]:
        return [f"m{i}" for i in range(1, self.members + 1)]

    def priority_of(self) -> dict[str, float]:
        return {n: self.priorities.get(n, 2 if n == "m1" else 1) for n in self.names()}

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"members": self.members, "priorities": self.priority_of(),
                             "election_timeout_ms": self.election_timeout_ms,
                             "heartbeat_ms": self.heartbeat_ms}
        if version := server_version():
            d["version"] = version
        return d

    def provision(self) -> None:
        pass  # nothing to install (``provision()``); ``start`` says what is missing

    def node_names(self, runtime: str) -> list[str]:
        return [] if runtime == "external" else self.names()

    def start(self, run: Run, block: AddressBlock, seed: int = 0, runtime: str = "local",
              images: Any = None, power_loss: bool = False) -> Cluster[MongoInfo]:
        if runtime == "local" and mongod() is None:
            raise RuntimeUnsupported(NEEDS)
        if runtime == "external" and not os.environ.get(URI_ENV):
            raise RuntimeUnsupported(f"{URI_ENV} is not set: {NEEDS}")
        try:
            return super().start(run, block, seed, runtime, images, power_loss)
        except ProvisionError as e:  # the docker runtime could not get the image
            raise RuntimeUnsupported(f"{e}; {NEEDS}") from e

    def specs(self, start: base.Start) -> list[NodeSpec]:
        binary = (mongod() or "mongod") if start.runtime.name == "local" else "mongod"
        return [member_spec(n, a, binary, self.oplog_mb) for n, a in start.addresses.items()]

    def ready(self, start: base.Start) -> MongoInfo:
        database = "sdconform_" + re.sub(r"[^A-Za-z0-9_]", "_", start.run.id)[-50:]
        if start.runtime.name == "external":
            return MongoInfo({}, database, uri=os.environ[URI_ENV])
        members = dict(start.addresses)
        config = replica_set_config(members, self.priority_of(), self.election_timeout_ms,
                                    self.heartbeat_ms)
        info = MongoInfo(members, database)
        initiate(info, config)
        wait_for_primary(info, expect=self.members)
        return info
