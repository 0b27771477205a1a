"""PostgreSQL topologies: one primary, optionally with one streaming standby (async or sync).

Debian's PostgreSQL 15 binaries run as the ``postgres`` user, so each node's data folder is in
the run's registry (``start.paths(name, USER)``). It holds ``pgdata`` (PGDATA, made once by
initdb or pg_basebackup: the spec's ``setup``) and ``sock`` (the unix socket, outside PGDATA:
pg_basebackup would copy its lock file into the standby). The standby starts once the primary
has its schema. Node-specific settings are passed as ``-c`` arguments, never
written to postgresql.conf, so that a promoted standby does not inherit the old primary's
``synchronous_standby_names`` (it would block every commit, waiting for a standby it has not).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...cluster import Cluster
from ...nodes import NodePaths, NodeSpec
from ...nodes.readiness import Command
from ...nodes.routes import via
from ...provision import apt_install, progress
from .. import base

BIN = Path("/usr/lib/postgresql/15/bin")
PORT = 5432
USER = "postgres"

SCHEMA = """
CREATE TABLE IF NOT EXISTS registers (k text PRIMARY KEY, v bigint);
CREATE TABLE IF NOT EXISTS sets (k text NOT NULL, v bigint NOT NULL);
CREATE TABLE IF NOT EXISTS lists (k text PRIMARY KEY, v bigint[] NOT NULL);
"""

# Trust clients on the node's own networks: 127.0.0.0/8 on the local runtime, the run's
# network (and its gateway, the harness) in containers.
HBA = "host all all samenet trust\nhost replication all samenet trust\n"


def provision() -> None:
    if not (BIN / "postgres").exists():
        progress("PostgreSQL 15 binaries missing: installing postgresql-15")
        apt_install(["postgresql-15"])


_versions: dict[Path, str] = {}


def server_version(binary: Path = BIN / "postgres") -> str | None:
    """The release of the PostgreSQL server this machine runs (``postgres --version``:
    ``postgres (PostgreSQL) 15.18 (Debian ...)``), None where there is none (before it is
    provisioned; in containers, whose images carry their own)."""
    if binary not in _versions:
        try:
            out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        found = re.search(r"\(PostgreSQL\) (\d[\w.-]*)", out)
        if found is None:
            return None
        _versions[binary] = found.group(1)
    return _versions[binary]


@dataclass
class Settings:
    """Server settings that tests vary. ``fsync=False`` is safe for process kills (the OS page
    cache survives them) and only for those; the durability tests keep it on."""

    fsync: bool = True
    synchronous_commit: str = "on"  # off | local | remote_write | on | remote_apply
    wal_writer_delay_ms: int = 200
    # More server settings, "name=value" (WAL archiving, a smaller shared_buffers...): after
    # the common ones, so they win.
    extra: tuple[str, ...] = ()

    def args(self) -> list[str]:
        return [
            "-c",
            f"fsync={'on' if self.fsync else 'off'}",
            "-c",
            f"synchronous_commit={self.synchronous_commit}",
            "-c",
            f"wal_writer_delay={self.wal_writer_delay_ms}ms",
            *(a for s in self.extra for a in ("-c", s)),
        ]


WAL_SENDER_TIMEOUT_S = 5
WAL_RECEIVER_TIMEOUT_S = 5
WAL_RETRIEVE_RETRY_S = 1


def reconnect_s() -> float:
    """The longest a standby takes to stream again after its link to the primary was cut and
    healed: the primary's walsender and the standby's walreceiver each time the dead link out,
    then the standby retries after wal_retrieve_retry_interval (these settings, below)."""
    return float(WAL_SENDER_TIMEOUT_S + WAL_RECEIVER_TIMEOUT_S + WAL_RETRIEVE_RETRY_S)


COMMON = [
    "wal_level=replica",
    "max_wal_senders=5",
    "wal_keep_size=64MB",
    "hot_standby=on",
    "hot_standby_feedback=on",
    f"wal_sender_timeout={WAL_SENDER_TIMEOUT_S}s",
    f"wal_receiver_timeout={WAL_RECEIVER_TIMEOUT_S}s",
    f"wal_retrieve_retry_interval={WAL_RETRIEVE_RETRY_S}s",
    "shared_buffers=32MB",
    "max_connections=60",
    "log_min_messages=warning",
    "wal_receiver_status_interval=1s",
]


def server_command(paths: NodePaths, address: str, extra: list[str]) -> list[str]:
    args = [a for s in COMMON for a in ("-c", s)]
    args += ["-c", f"listen_addresses={address}", "-c", f"port={PORT}"]
    return [str(BIN / "postgres"), "-D", str(paths.data / "pgdata"),
            "-c", f"unix_socket_directories={paths.data / 'sock'}", *args, *extra]


def ready(address: str) -> Command:
    return Command(
        [str(BIN / "pg_isready"), "-q", "-U", USER, "-h", address, "-p", str(PORT), "-t", "2"]
    )


def node_spec(name: str, address: str, paths: NodePaths, extra: list[str],
              init: list[list[str]]) -> NodeSpec:
    """A PostgreSQL server as ``postgres``: ``init`` (run once, in its data folder) makes
    ``pgdata``; the unix socket folder is made beside it. Every PostgreSQL child calls
    setsid(), so a kill takes the whole process tree (``kill_tree``): a signal to the
    postmaster's group alone leaves backends running, and committing, until they notice."""
    return NodeSpec(
        name,
        address,
        server_command(paths, address, extra),
        ready=ready(address),
        user=USER,
        ready_timeout=60,
        stop_signal=signal.SIGINT,
        setup=[["mkdir", "-p", "-m", "700", "sock"], *init],
        kill_tree=True,
        image="postgres",
        ports=[PORT],
    )


def primary_spec(name: str, address: str, paths: NodePaths, settings: Settings,
                 sync: bool) -> NodeSpec:
    init = [
        [str(BIN / "initdb"), "-N", "-D", "pgdata", "-U", USER, "--auth=trust", "-E", "UTF8"],
        ["/bin/sh", "-c", 'printf "%s" "$1" >> pgdata/pg_hba.conf', "sdconform-hba", HBA],
    ]
    extra = settings.args()
    if sync:
        extra += ["-c", "synchronous_standby_names=*"]
    return node_spec(name, address, paths, extra, init)


def standby_spec(name: str, address: str, paths: NodePaths, primary: str,
                 settings: Settings) -> NodeSpec:
    init = [[str(BIN / "pg_basebackup"), "-h", primary, "-p", str(PORT), "-U", USER,
             "-D", "pgdata", "-R", "-X", "stream", "-c", "fast"]]
    # The standby gets the same durability settings; synchronous_standby_names stays empty, so
    # once promoted it commits alone.
    return node_spec(name, address, paths, settings.args(), init)


def connect(address: str, timeout: float = 2.0, **kw: Any) -> Any:
    import psycopg

    host, port = via(address, PORT)
    return psycopg.connect(
        host=host,
        port=port,
        user=USER,
        dbname="postgres",
        connect_timeout=max(2, int(timeout)),
        autocommit=True,
        **kw,
    )


@dataclass(frozen=True)
class PgInfo:
    """What the harness knows of a PostgreSQL cluster once it is up."""

    primary: str  # the node that takes writes now (``Failover`` makes it n2)
    addresses: dict[str, str]  # node name -> address


def served_version(address: str) -> str | None:
    """The release a running server says it is (``SHOW server_version``: ``15.8 (Debian
    ...)``), None if it does not answer."""
    try:
        with connect(address) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except Exception:  # psycopg errors: not known
        return None
    return str(row[0]).split()[0] if row else None


@dataclass
class Topology(base.Topology[PgInfo]):
    """A primary (n1) and ``standby`` streaming standby (n2): asynchronous by default,
    synchronous with ``sync=True`` (``synchronous_standby_names='*'``; what a commit waits
    for is ``settings.synchronous_commit``: on = flushed on the standby, remote_apply =
    replayed there)."""

    backend: ClassVar[str] = "postgres"
    runtimes: ClassVar[tuple[str, ...]] = ("local", "docker")

    standby: bool = False
    sync: bool = False
    settings: Settings = field(default_factory=Settings)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            **({"version": version} if (version := server_version()) else {}),
            "nodes": 2 if self.standby else 1,
            "fsync": self.settings.fsync,
            "synchronous_commit": self.settings.synchronous_commit,
        }
        if self.standby:
            d["replication"] = "synchronous" if self.sync else "asynchronous"
        if self.settings.wal_writer_delay_ms != 200:
            d["wal_writer_delay_ms"] = self.settings.wal_writer_delay_ms
        if self.settings.extra:
            d["settings"] = list(self.settings.extra)
        return d

    def provision(self) -> None:
        provision()

    def served_version(self, info: PgInfo) -> str | None:
        return served_version(info.addresses[info.primary])

    def node_names(self, runtime: str) -> list[str]:
        return ["n1", "n2"] if self.standby else ["n1"]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        # The standby joins in ``ready``, once the primary has its schema.
        sync = self.sync and self.standby
        return [primary_spec("n1", start.addresses["n1"], start.paths("n1", USER),
                             self.settings, sync)]

    def ready(self, start: base.Start) -> PgInfo:
        addresses = dict(start.addresses)
        primary = addresses["n1"]
        with connect(primary) as conn:
            # No standby yet: a synchronous primary would wait for one forever.
            conn.execute("SET synchronous_commit = local")
            conn.execute(SCHEMA)
        if self.standby:
            start.add([standby_spec("n2", addresses["n2"], start.paths("n2", USER), primary,
                                    self.settings)])
            wait_streaming(primary, sync=self.sync)
        return PgInfo("n1", addresses)


def wait_streaming(primary: str, sync: bool, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with connect(primary) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT state, sync_state FROM pg_stat_replication").fetchall()
            if any(r[0] == "streaming" and (not sync or r[1] == "sync") for r in rows):
                return
            time.sleep(0.05)
    raise TimeoutError(f"no standby streaming from {primary} after {timeout:.0f}s")


def caught_up(cluster: Cluster[PgInfo]) -> bool:
    """The standby has replayed everything the primary wrote: the moment final reads from
    it mean something."""
    addresses = cluster.info.addresses
    if "n2" not in addresses or cluster.info.primary != "n1":
        return True
    try:
        with connect(addresses["n1"]) as p, connect(addresses["n2"]) as s:
            lsn = p.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            row = s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
            return bool(row and row[0])
    except Exception:
        return False
