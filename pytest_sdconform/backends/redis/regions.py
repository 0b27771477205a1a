"""A Redis primary's region lost while its cross-region replica lags (``redis-global-datastore``:
ElastiCache Global Datastore, a secondary region replicating asynchronously from the primary's).

The secondary region is a replica that replicates through a toxiproxy proxy
(``replicate_through``), whose downstream (the replication stream) a ``faults.latency.Latency``
slows. ``RegionLoss`` loses the primary's region and promotes the replica; ``Writers`` is where
the clients send their commands, moved to the promoted replica as a Global Datastore's
application is moved to the promoted region's endpoint.
"""

from __future__ import annotations

import time
from typing import Any

from ...cluster import Cluster
from ...faults import FaultNotEffective
from .topology import RedisInfo, admin


def replicate_through(cluster: Cluster[RedisInfo], host: str, port: int, replica: str = "n2",
                      timeout: float = 30.0) -> None:
    """Have ``replica`` replicate from the primary through ``host:port`` (a proxy on its link):
    ``REPLICAOF host port``, then wait until its link to that master is up."""
    cluster.link_through(host, port)
    r = admin(cluster.info.addresses[replica], timeout=2)
    try:
        r.execute_command("REPLICAOF", host, str(port))
        deadline = time.monotonic() + timeout
        while True:
            info = r.info("replication")
            if (info.get("master_host") == host and int(info.get("master_port", 0)) == port
                    and info.get("master_link_status") == "up"):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{replica} not replicating through {host}:{port} after "
                                   f"{timeout:.0f}s ({info.get('master_link_status')})")
            time.sleep(0.05)
    finally:
        r.close()


class Writers:
    """The address the clients send every command to: the primary region's, until
    ``RegionLoss`` moves them to the promoted replica (``move``)."""

    def __init__(self, address: str):
        self.address = address

    def __call__(self) -> str:
        return self.address

    def move(self, address: str) -> None:
        self.address = address


class RegionLoss:
    """The primary's region is lost while its replica lags behind a slow link.

    ``start``: note the primary's replication offset (``master_repl_offset``), slow the link
    (``delay``, proven by a timed round trip), let clients write for ``lag_s`` while the
    primary's offset is sampled every ``every_s`` (each sample timed when its INFO was sent:
    every write acknowledged before that is inside the offset it answered), then lose the
    region: kill the primary, disable the proxy (what was still on the link is lost with it),
    wait until the replica sees its link down, promote it (``REPLICAOF NO ONE``) and move the
    clients to it. The replica's offset at the promotion (``second_repl_offset`` - 1) is what
    it held of the primary's stream. The record has ``since_kill_s``, ``cut_to_kill_s`` and
    ``cut_proof_s`` (since when the link was slow), the link's measured delay, the samples
    (seconds before the kill, offset), the offset held and the promotion's time. ``stop``
    removes the delay (unproven: the upstream is gone); the old primary stays down. Once per
    cluster."""

    name = "region-loss"

    def __init__(self, cluster: Cluster[RedisInfo], delay: Any, proxy: str, writers: Writers,
                 lag_s: float = 1.5, primary: str = "n1", replica: str = "n2",
                 every_s: float = 0.02):
        if lag_s <= 0 or every_s <= 0:
            raise ValueError("region loss: lag_s and every_s must be positive")
        self.cluster, self.delay, self.proxy, self.writers = cluster, delay, proxy, writers
        self.lag_s, self.every_s = lag_s, every_s
        self.primary, self.replica = primary, replica
        self.done = False

    def _promote(self) -> tuple[int, float]:
        """Wait for the replica's link to go down, promote it; its offset and the seconds."""
        began = time.monotonic()
        r = admin(self.cluster.info.addresses[self.replica], timeout=2)
        try:
            while r.info("replication").get("master_link_status") == "up":
                if time.monotonic() - began > 15:
                    raise FaultNotEffective(f"region loss: {self.replica}'s link still up "
                                            "after the proxy was disabled")
                time.sleep(0.01)
            r.execute_command("REPLICAOF", "NO", "ONE")
            info = r.info("replication")
        finally:
            r.close()
        if info.get("role") != "master" or int(info.get("second_repl_offset", -1)) < 1:
            raise FaultNotEffective(f"region loss: {self.replica} not promoted ({info})")
        return int(info["second_repl_offset"]) - 1, time.monotonic() - began

    def start(self) -> dict[str, Any]:
        if self.done:
            return {"skipped": "the region is already lost"}
        p = admin(self.cluster.info.addresses[self.primary], timeout=2)
        samples: list[tuple[float, int]] = []

        def sample() -> None:
            sent = time.monotonic()
            samples.append((sent, int(p.info("replication")["master_repl_offset"])))

        try:
            sample()
            asked = time.monotonic()
            link = self.delay.start()
            slow = time.monotonic()
            while time.monotonic() - slow < self.lag_s:
                sample()
                time.sleep(self.every_s)
            sample()
        finally:
            p.close()
        node = self.cluster.node(self.primary)
        node.kill()
        killed = time.monotonic()
        if node.is_running():
            raise FaultNotEffective(f"region loss: {self.primary} is still running")
        self.done = True
        self.delay.client.set_enabled(self.proxy, False)
        held, promote_s = self._promote()
        self.writers.move(self.cluster.info.addresses[self.replica])
        return {"killed": self.primary, "promoted": self.replica, "link": link,
                "lag_s": self.lag_s, "replica_offset": held,
                "offset_at_kill": samples[-1][1],
                "samples": [[round(killed - t, 4), o] for t, o in samples],
                "promote_s": round(promote_s, 3),
                "cut_proof_s": round(slow - asked, 3), "cut_to_kill_s": round(killed - slow, 3),
                "since_kill_s": round(time.monotonic() - killed, 3)}

    def stop(self) -> dict[str, Any]:
        if not self.done:
            self.delay.stop()
            return {}
        for stream in self.delay.streams:  # the link's upstream is gone: nothing to prove
            self.delay.client.remove_toxic(self.proxy, self.delay.toxic_name(stream))
        return {"old_primary": "stays down (its region is lost)", "link": "delay removed"}
