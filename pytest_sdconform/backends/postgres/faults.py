"""Faults made with PostgreSQL's own controls: a failover (kill the primary, promote the
standby), and pausing WAL replay on a standby (it still receives and flushes WAL, so a
``synchronous_commit = on`` commit returns while the standby does not show it yet)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Literal

from ...cluster import Cluster
from ...faults import FaultNotEffective
from ...faults.partition import isolate
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
