"""PostgreSQL topologies: one primary, optionally with one streaming standby (async or sync).

Debian's PostgreSQL 15 binaries run as the ``postgres`` user. Each node's data folder holds
``pgdata`` (PGDATA) and ``sock`` (the unix socket, outside PGDATA: pg_basebackup would copy
its lock file into the standby). Node-specific settings are passed as ``-c`` arguments, never
written to postgresql.conf, so that a promoted standby does not inherit the old primary's
``synchronous_standby_names`` (it would block every commit, waiting for a standby it has not).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...cluster import Cluster, start_cluster
from ...provision import apt_install, progress
from ...runs import Run
from ...runtimes.addresses import AddressBlock
from ...runtimes.local import NodeSpec
from ...runtimes.readiness import Command

BIN = Path("/usr/lib/postgresql/15/bin")
PORT = 5432
USER = "postgres"

SCHEMA = """
CREATE TABLE IF NOT EXISTS registers (k text PRIMARY KEY, v bigint);
CREATE TABLE IF NOT EXISTS sets (k text NOT NULL, v bigint NOT NULL);
CREATE TABLE IF NOT EXISTS lists (k text PRIMARY KEY, v bigint[] NOT NULL);
"""

HBA = r"host all all 127.0.0.0/8 trust\nhost replication all 127.0.0.0/8 trust\n"


def provision() -> None:
    if not (BIN / "postgres").exists():
        progress("PostgreSQL 15 binaries missing: installing postgresql-15")
        apt_install(["postgresql-15"])


@dataclass
class Settings:
    """Server settings that tests vary. ``fsync=False`` is safe for process kills (the OS page
    cache survives them) and only for those; the durability tests keep it on."""

    fsync: bool = True
    synchronous_commit: str = "on"  # off | local | remote_write | on | remote_apply
    wal_writer_delay_ms: int = 200

    def args(self) -> list[str]:
        return [
            "-c",
            f"fsync={'on' if self.fsync else 'off'}",
            "-c",
            f"synchronous_commit={self.synchronous_commit}",
            "-c",
            f"wal_writer_delay={self.wal_writer_delay_ms}ms",
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


def server_command(address: str, extra: list[str], init: str) -> list[str]:
    args = [a for s in COMMON for a in ("-c", s)]
    args += ["-c", f"listen_addresses={address}", "-c", f"port={PORT}"]
    quoted = " ".join(f"'{a}'" for a in [*args, *extra])
    script = (
        "set -e; mkdir -p sock; chmod 700 sock\n"
        f"if [ ! -f pgdata/PG_VERSION ]; then {init}; fi\n"
        f'exec {BIN}/postgres -D pgdata -c unix_socket_directories="$PWD/sock" {quoted}'
    )
    return ["/bin/sh", "-c", script]


def ready(address: str) -> Command:
    return Command(
        [str(BIN / "pg_isready"), "-q", "-U", USER, "-h", address, "-p", str(PORT), "-t", "2"]
    )


def primary_spec(name: str, address: str, settings: Settings, sync: bool) -> NodeSpec:
    init = (
        f"{BIN}/initdb -N -D pgdata -U {USER} --auth=trust -E UTF8 >/dev/null && "
        f"printf '{HBA}' >> pgdata/pg_hba.conf"
    )
    extra = settings.args()
    if sync:
        extra += ["-c", "synchronous_standby_names=*"]
    return NodeSpec(
        name,
        address,
        server_command(address, extra, init),
        ready=ready(address),
        user=USER,
        ready_timeout=60,
        stop_signal=signal.SIGINT,
    )


def standby_spec(name: str, address: str, primary: str, settings: Settings) -> NodeSpec:
    init = f"{BIN}/pg_basebackup -h {primary} -p {PORT} -U {USER} -D pgdata -R -X stream -c fast"
    # The standby gets the same durability settings; synchronous_standby_names stays empty, so
    # once promoted it commits alone.
    return NodeSpec(
        name,
        address,
        server_command(address, settings.args(), init),
        ready=ready(address),
        user=USER,
        ready_timeout=60,
        stop_signal=signal.SIGINT,
    )


def connect(address: str, timeout: float = 2.0, **kw: Any) -> Any:
    import psycopg

    return psycopg.connect(
        host=address,
        port=PORT,
        user=USER,
        dbname="postgres",
        connect_timeout=max(2, int(timeout)),
        autocommit=True,
        **kw,
    )


@dataclass
class Topology:
    """A primary (n1) and ``standby`` streaming standby (n2): asynchronous by default,
    synchronous with ``sync=True`` (``synchronous_standby_names='*'``; what a commit waits
    for is ``settings.synchronous_commit``: on = flushed on the standby, remote_apply =
    replayed there)."""

    standby: bool = False
    sync: bool = False
    settings: Settings = field(default_factory=Settings)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "nodes": 2 if self.standby else 1,
            "fsync": self.settings.fsync,
            "synchronous_commit": self.settings.synchronous_commit,
        }
        if self.standby:
            d["replication"] = "synchronous" if self.sync else "asynchronous"
        if self.settings.wal_writer_delay_ms != 200:
            d["wal_writer_delay_ms"] = self.settings.wal_writer_delay_ms
        return d

    def start(self, run: Run, block: AddressBlock, seed: int = 0) -> Cluster:
        provision()
        names = ["n1", "n2"] if self.standby else ["n1"]
        addresses = {n: block.node(i) for i, n in enumerate(names, 1)}
        primary = addresses["n1"]
        began = time.monotonic()
        cluster = start_cluster(
            run,
            block,
            [primary_spec("n1", primary, self.settings, self.sync and self.standby)],
            seed=seed,
        )
        cluster.info.update(primary="n1", addresses=addresses)
        try:
            with connect(primary) as conn:
                # No standby yet: a synchronous primary would wait for one forever.
                conn.execute("SET synchronous_commit = local")
                conn.execute(SCHEMA)
            if self.standby:
                # Through the cluster's runtime, so the standby joins its own cgroup.
                spec = standby_spec("n2", addresses["n2"], primary, self.settings)
                group = (
                    cluster.netfilter.add_node("n2", spec.address)
                    if cluster.netfilter is not None
                    else None
                )
                if group is not None:
                    cluster.cgroups["n2"] = group
                cluster.runtime.start([spec])
                wait_streaming(primary, sync=self.sync)
        except BaseException:
            cluster.stop()
            raise
        cluster.info["startup_s"] = round(time.monotonic() - began, 2)
        return cluster


def wait_streaming(primary: str, sync: bool, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with connect(primary) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT state, sync_state FROM pg_stat_replication").fetchall()
            if any(r[0] == "streaming" and (not sync or r[1] == "sync") for r in rows):
                return
            time.sleep(0.05)
    raise TimeoutError(f"no standby streaming from {primary} after {timeout:.0f}s")


def caught_up(cluster: Cluster) -> bool:
    """The standby has replayed everything the primary wrote: the moment final reads from
    it mean something."""
    addresses = cluster.info["addresses"]
    if "n2" not in addresses or cluster.info.get("primary") != "n1":
        return True
    try:
        with connect(addresses["n1"]) as p, connect(addresses["n2"]) as s:
            lsn = p.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            row = s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
            return bool(row and row[0])
    except Exception:
        return False
