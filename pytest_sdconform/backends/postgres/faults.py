"""Faults made with PostgreSQL's own controls: a failover (kill the primary, promote the
standby), pausing WAL replay on a standby (it still receives and flushes WAL, so a
``synchronous_commit = on`` commit returns while the standby does not show it yet), a
point-in-time restore of a base backup from the WAL archive, a power loss that looks at a
heap file on either side of the cut, and the loss of a primary's region while its standby
lags behind a slow link."""

from __future__ import annotations

import struct
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from ...cluster import Cluster
from ...faults import FaultNotEffective, FaultUnavailable
from ...faults.partition import isolate
from .heap import ranges, set_values
from .topology import PgInfo, connect


class Failover:
    """Kill the primary (n1) and promote the standby (n2), as an HA manager would.

    With ``lag_s``, the standby is first cut from the primary for that long while clients keep
    writing: it lags, as a standby does behind a slow link. The old primary stays down (it is
    fenced: it would come back as a second primary). Happens once per cluster.

    ``promote="at-once"``: ``start`` kills and promotes at once (an HA manager without detection
    time); the window opens when the standby is primary, and the start record says when the
    primary died (``since_kill_s`` before the window) and when the cut was proven
    (``cut_to_kill_s`` before the kill; its rules went in ``cut_proof_s`` before that).
    ``promote="at-heal"``: ``start`` kills the primary and returns, so the window is the time
    without a primary (an HA manager's detection time: the fault's duration); ``stop`` proves
    the standby was still in recovery, then promotes it.
    """

    name = "failover"

    def __init__(self, cluster: Cluster[PgInfo], lag_s: float = 0.0,
                 promote: Literal["at-once", "at-heal"] = "at-once"):
        self.cluster, self.lag_s, self.promote = cluster, lag_s, promote
        self.done = False
        self.pending = False  # killed, promotion left for stop()
        # Built now, so that a machine without partitions skips the test (FaultUnavailable).
        self.cut = cluster.partition() if lag_s > 0 else None

    def start(self) -> dict[str, Any]:
        if self.done:
            return {"skipped": "already failed over"}
        began = time.monotonic()
        record: dict[str, Any] = {"killed": "n1", "promoted": "n2", "promote": self.promote}
        cut = self.cut
        if cut is not None:
            cut_asked = time.monotonic()
            cut.start(isolate(["n1", "n2"], "n2"))
            cut_at = time.monotonic()
            record["cut_proof_s"] = round(cut_at - cut_asked, 3)
            time.sleep(self.lag_s)
            record["lag_s"] = self.lag_s
        # The cut heals only after the promotion: a killed primary's kernel still holds the
        # WAL in its socket buffers and would deliver it to the standby once the link is back,
        # which a machine that died would not do.
        try:
            node = self.cluster.node("n1")
            node.kill()  # the whole process tree (the spec's kill_tree)
            killed = time.monotonic()
            if node.is_running():
                raise FaultNotEffective("failover: n1 is still running")
            self.done = True
            if cut is not None:
                record["cut_to_kill_s"] = round(killed - cut_at, 3)
            if self.promote == "at-heal":
                self.pending = True
                record["since_kill_s"] = round(time.monotonic() - killed, 3)
                return record
            record["promote_s"] = self._promote()
        finally:
            if cut is not None and not self.pending:
                cut.stop()
        record["total_s"] = round(time.monotonic() - began, 3)
        # The window opens when start() returns; the primary died this long before.
        record["since_kill_s"] = round(time.monotonic() - killed, 3)
        return record

    def _promote(self) -> float:
        promoted = time.monotonic()
        with connect(self.cluster.info.addresses["n2"], timeout=5) as conn:
            row = conn.execute("SELECT pg_promote(true, 30)").fetchone()
        if not (row and row[0]):
            raise FaultNotEffective("failover: pg_promote on n2 did not finish")
        self.cluster.info = replace(self.cluster.info, primary="n2")
        return round(time.monotonic() - promoted, 3)

    def stop(self) -> dict[str, Any]:
        if not self.pending:
            return {"old_primary": "stays down (fenced)"} if self.done else {}
        self.pending = False
        try:
            # Recovery ends once: still in recovery now means no primary for the whole window.
            with connect(self.cluster.info.addresses["n2"], timeout=5) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if not (row and row[0]):
                raise FaultNotEffective("failover: n2 left recovery before it was promoted")
            return {"promote_s": self._promote(), "old_primary": "stays down (fenced)"}
        finally:
            if self.cut is not None:
                self.cut.stop()


class ReplayPause:
    """``pg_wal_replay_pause()`` on a standby; ``stop`` resumes replay and proves it."""

    name = "replay-pause"

    def __init__(self, cluster: Cluster[PgInfo], node: str = "n2"):
        self.cluster, self.node = cluster, node
        self.active = False

    def _state(self, conn: Any) -> str:
        return str(conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0])

    def start(self) -> dict[str, Any]:
        with connect(self.cluster.info.addresses[self.node]) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            self.active = True
            deadline = time.monotonic() + 5
            while self._state(conn) != "paused":
                if time.monotonic() > deadline:
                    raise FaultNotEffective(f"replay-pause: {self.node} did not pause replay")
                time.sleep(0.02)
        return {"node": self.node}

    def stop(self) -> dict[str, Any]:
        if not self.active:
            return {}
        with connect(self.cluster.info.addresses[self.node]) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
            if self._state(conn) != "not paused":
                raise FaultNotEffective(f"replay-pause: {self.node} did not resume replay")
        self.active = False
        return {"node": self.node}


ARCHIVE = "archive"  # the WAL archive: a folder beside the primary's PGDATA
ARCHIVING = (
    "archive_mode=on",
    f"archive_command=mkdir -p ../{ARCHIVE} && test ! -f ../{ARCHIVE}/%f "
    f"&& cp %p ../{ARCHIVE}/%f",
)
"""Server settings of a primary that archives its WAL segments (``Settings(extra=...)``):
``archive_command`` runs in PGDATA and copies each finished segment to the archive."""


class PointInTimeRestore:
    """Point-in-time recovery, as a backup service does it. ``backup`` is a standby stopped
    before the run: its data folder is a base backup (a copy of the primary plus the WAL it
    had then). ``start`` takes the target time from the primary's clock
    (``clock_timestamp()``): every write acknowledged before the window's invocation committed
    before it, every write invoked after the window opened commits after it. ``stop`` has the
    primary switch to a new WAL segment and waits until the archive has it (so the archive
    holds the target), then restarts the backup in archive recovery (``restore_command``
    copying from the archive, ``recovery_target_time`` = the target, promote at the target)
    and waits until it is promoted: reads from it show the restored database. Once per
    cluster; the primary keeps running."""

    name = "pitr-restore"

    def __init__(self, cluster: Cluster[PgInfo], backup: str = "n2", primary: str = "n1",
                 timeout: float = 30.0):
        self.cluster, self.backup, self.primary, self.timeout = cluster, backup, primary, timeout
        data = getattr(cluster.node(primary), "data", None)
        if not isinstance(data, Path):
            raise FaultUnavailable("point-in-time restore reads the primary's WAL archive from "
                                   "its folder: nodes on this machine's filesystem only")
        self.archive = data / ARCHIVE
        self.target: str | None = None
        self.restored = False

    def _primary(self) -> Any:
        return connect(self.cluster.info.addresses[self.primary], timeout=5)

    def start(self) -> dict[str, Any]:
        if self.target is not None:
            return {"skipped": "already restored once"}
        if self.cluster.node(self.backup).is_running():
            raise FaultNotEffective(f"pitr: the backup {self.backup} is running: stop it "
                                    "before the run, it must not follow the primary")
        with self._primary() as conn:
            self.target = str(conn.execute(
                "SELECT to_char(clock_timestamp(), 'YYYY-MM-DD HH24:MI:SS.USOF')").fetchone()[0])
        return {"target": self.target, "backup": self.backup}

    def stop(self) -> dict[str, Any]:
        if self.target is None or self.restored:
            return {}
        self.restored = True
        began = time.monotonic()
        archived = self._archive_current_segment()
        node = self.cluster.node(self.backup)
        settings = "".join(f"{k} = '{v}'\n" for k, v in (
            ("restore_command", f"cp {self.archive}/%f %p"),
            ("recovery_target_time", self.target),
            ("recovery_target_action", "promote"),
            ("primary_conninfo", ""),
        ))
        # In its data folder: archive recovery instead of streaming, to the target; the
        # settings appended last win over pg_basebackup's.
        code, out = node.execute(["sh", "-c", 'rm -f pgdata/standby.signal && '
                                  'touch pgdata/recovery.signal && '
                                  'printf "%s" "$1" >> pgdata/postgresql.auto.conf',
                                  "sdconform-pitr", settings])
        if code != 0:
            raise FaultNotEffective(f"pitr: could not set {self.backup} up for recovery: {out}")
        node.start()
        address = self.cluster.info.addresses[self.backup]
        deadline = time.monotonic() + self.timeout
        with connect(address, timeout=5) as conn:
            while conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                if time.monotonic() > deadline:
                    raise FaultNotEffective(f"pitr: {self.backup} still in recovery after "
                                            f"{self.timeout:.0f}s")
                time.sleep(0.05)
            replayed = conn.execute("SELECT count(*) FROM sets").fetchone()[0]
        return {"target": self.target, "archived": archived, "restored": self.backup,
                "address": address, "rows": int(replayed),
                "restore_s": round(time.monotonic() - began, 3)}

    def _archive_current_segment(self) -> str:
        """Switch the primary to a new segment and wait until the archive has the old one."""
        with self._primary() as conn:
            lsn = conn.execute("SELECT pg_switch_wal()").fetchone()[0]
            segment = str(conn.execute("SELECT pg_walfile_name(%s)", (lsn,)).fetchone()[0])
            deadline = time.monotonic() + self.timeout
            while True:
                row = conn.execute("SELECT last_archived_wal, last_failed_wal "
                                   "FROM pg_stat_archiver").fetchone()
                if row[0] is not None and str(row[0]) >= segment:
                    return segment
                if time.monotonic() > deadline:
                    raise FaultNotEffective(f"pitr: {segment} not archived after "
                                            f"{self.timeout:.0f}s (last failed: {row[1]})")
                time.sleep(0.05)


class InspectedPowerLoss:
    """The generic power loss (``cluster.power_loss``) of the primary, with a look at one
    heap file on either side of the cut: once the server is dead (what the page cache holds:
    every page PostgreSQL had written to the OS, synced or not) and once the cut dropped the
    unsynced writes (what the disk holds when the power comes back). Both are on record as
    the ``sets`` values their pages hold (``heap.ranges``), with what the cut dropped. Same
    name as the generic fault: it is a power loss."""

    name = "power-loss"

    def __init__(self, cluster: Cluster[PgInfo], relation_path: str, node: str = "n1"):
        self.inner = cluster.power_loss([node])  # FaultUnavailable where there is no lossfs
        self.node = cluster.node(node)
        self.file = f"pgdata/{relation_path}"

    def _look(self) -> dict[str, Any]:
        disk = self.node.disk
        assert disk is not None  # power_loss() refused a node without one
        data = disk.read(self.file) or b""
        values = set_values(data)
        return {"bytes": len(data), "rows": len(values), "values": ranges(values)}

    def start(self) -> dict[str, Any]:
        self.node.kill()
        if self.node.is_running():
            raise FaultNotEffective(f"power loss: {self.node.name} is still running")
        cache = self._look()
        record = self.inner.start([self.node])
        record["heap"] = {"file": self.file, "cache": cache, "disk": self._look()}
        return record

    def stop(self) -> dict[str, Any]:
        return self.inner.stop()


SSL_REQUEST = struct.pack("!ii", 8, 80877103)
"""A PostgreSQL SSLRequest: the server answers one byte (``N`` without SSL) at once, so a
round trip through a proxy to it can be timed (``faults.latency.RoundTrip``)."""


def stream_through(cluster: Cluster[PgInfo], host: str, port: int, standby: str = "n2",
                   timeout: float = 30.0) -> None:
    """Have the standby stream from the primary through ``host:port`` (a proxy on its link):
    ``primary_conninfo`` is reloadable, and the walreceiver reconnects with it."""
    cluster.link_through(host, port)
    conninfo = f"host={host} port={port} user=postgres application_name={standby}"
    with connect(cluster.info.addresses[standby], timeout=5) as conn:
        conn.execute(f"ALTER SYSTEM SET primary_conninfo = '{conninfo}'")
        conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + timeout
        while True:
            row = conn.execute("SELECT status, sender_port FROM pg_stat_wal_receiver").fetchone()
            if row is not None and row[0] == "streaming" and row[1] == port:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{standby} not streaming through {host}:{port} after "
                                   f"{timeout:.0f}s (receiver: {row})")
            time.sleep(0.05)


class RegionLoss:
    """The primary's region is lost while its cross-region standby lags behind a slow link
    (Aurora Global Database's secondary region, stood in for by an asynchronous standby that
    streams through a toxiproxy proxy, ``stream_through``).

    ``start``: slow the link (``delay``, a ``faults.latency.Latency`` on the proxy's
    downstream, proven by a timed round trip), let clients write for ``lag_s``, note the
    standby's lag as the primary reports it (``pg_stat_replication``), then lose the region:
    kill the primary and disable the proxy (what was still on the link is lost with it), and
    promote the standby. The record is a ``Failover`` record (``since_kill_s``;
    ``cut_to_kill_s`` and ``cut_proof_s`` say since when the link was slow), with the link's
    measured delay and PostgreSQL's lag figures. ``stop`` removes the delay (unproven: the
    upstream is gone); the old primary stays down. Once per cluster."""

    name = "region-loss"

    def __init__(self, cluster: Cluster[PgInfo], delay: Any, proxy: str, lag_s: float = 1.5):
        self.cluster, self.delay, self.proxy, self.lag_s = cluster, delay, proxy, lag_s
        self.failover = Failover(cluster)
        self.done = False

    def _lag(self) -> dict[str, Any]:
        with connect(self.cluster.info.addresses["n1"], timeout=2) as conn:
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), write_lsn), "
                "pg_wal_lsn_diff(pg_current_wal_flush_lsn(), replay_lsn), "
                "extract(epoch FROM write_lag), extract(epoch FROM replay_lag) "
                "FROM pg_stat_replication").fetchone()
        if row is None:
            raise FaultNotEffective("region loss: the standby is not streaming")
        return {"write_behind_bytes": int(row[0] or 0), "replay_behind_bytes": int(row[1] or 0),
                "write_lag_s": None if row[2] is None else round(float(row[2]), 3),
                "replay_lag_s": None if row[3] is None else round(float(row[3]), 3)}

    def start(self) -> dict[str, Any]:
        if self.done:
            return {"skipped": "the region is already lost"}
        asked = time.monotonic()
        link = self.delay.start()
        slow = time.monotonic()
        time.sleep(self.lag_s)
        lag = self._lag()
        node = self.cluster.node("n1")
        node.kill()
        killed = time.monotonic()
        if node.is_running():
            raise FaultNotEffective("region loss: n1 is still running")
        self.done = True
        self.delay.client.set_enabled(self.proxy, False)
        promote_s = self.failover._promote()
        return {"killed": "n1", "promoted": "n2", "link": link, "lag_at_kill": lag,
                "lag_s": self.lag_s, "promote_s": promote_s,
                "cut_proof_s": round(slow - asked, 3), "cut_to_kill_s": round(killed - slow, 3),
                "since_kill_s": round(time.monotonic() - killed, 3)}

    def stop(self) -> dict[str, Any]:
        if not self.done:
            self.delay.stop()
            return {}
        for stream in self.delay.streams:  # the link's upstream is gone: nothing to prove
            self.delay.client.remove_toxic(self.proxy, self.delay.toxic_name(stream))
        return {"old_primary": "stays down (fenced)", "link": "delay removed"}
