"""Faults aimed at the leader of a partition, found from the cluster's metadata at each start
(leadership moves after every fault, so a fixed victim would miss it)."""

from __future__ import annotations

import time
from typing import Any

from ...cluster import Cluster
from ...faults import FaultNotEffective
from ...faults.partition import isolate
from ...faults.process import Kill, Pause
from .server import leader, replicas


class LeaderKill:
    """SIGKILL the current leader of ``topic``/``partition``; restart it on its data."""

    name = "kill"

    def __init__(self, cluster: Cluster, topic: str = "log", partition: int = 0):
        self.cluster, self.topic, self.partition = cluster, topic, partition
        self.kill = Kill(list(cluster.nodes.values()), 1, cluster.rng)

    def start(self) -> dict[str, Any]:
        victim = leader(self.cluster.info["bootstrap"], self.topic, self.partition)
        return {**self.kill.start([self.cluster.node(victim)]), "leader_of": self.topic}

    def stop(self) -> dict[str, Any]:
        return self.kill.stop()


class LeaderIsolation:
    """Cut the current leader of ``topic``/``partition`` off from the other brokers (clients,
    which are not in the cut, still reach it)."""

    name = "partition"

    def __init__(self, cluster: Cluster, topic: str = "log", partition: int = 0):
        self.cluster, self.topic, self.partition = cluster, topic, partition
        self.cut = cluster.partition()

    def start(self) -> dict[str, Any]:
        victim = leader(self.cluster.info["bootstrap"], self.topic, self.partition)
        return {
            **self.cut.start(isolate(sorted(self.cluster.nodes), victim)),
            "leader_of": self.topic,
        }

    def stop(self) -> dict[str, Any]:
        return self.cut.stop()


class StaleFailover:
    """Leave a stale replica as the only one alive: the leader's follower stalls (SIGSTOP)
    until it is fenced and dropped from the ISR, the leader goes on acknowledging alone (as
    min.insync.replicas=1 lets it), then the leader dies (SIGKILL) and the follower wakes.

    With unclean leader election the stale follower becomes leader, and what the old leader
    acknowledged alone is gone; without it the partition waits, offline, for the old leader,
    which ``stop`` restarts on its data. Meant for a topic with two replicas.
    """

    name = "stale-failover"

    def __init__(self, cluster: Cluster, topic: str, stall_s: float = 6.0):
        self.cluster, self.topic, self.stall_s = cluster, topic, stall_s
        nodes = list(cluster.nodes.values())
        self.pause, self.kill = Pause(nodes, 1, cluster.rng), Kill(nodes, 1, cluster.rng)

    def start(self) -> dict[str, Any]:
        bootstrap = self.cluster.info["bootstrap"]
        before = replicas(bootstrap, self.topic)
        old = before["leader"] or leader(bootstrap, self.topic)
        followers = [r for r in before["replicas"] if r != old]
        if not followers:
            raise FaultNotEffective(f"stale-failover: {self.topic} has no follower ({before})")
        stale = followers[0]
        self.pause.start([self.cluster.node(stale)])
        try:
            time.sleep(self.stall_s)
            shrunk = replicas(bootstrap, self.topic)
            self.kill.start([self.cluster.node(old)])
        finally:
            self.pause.stop()
        if stale in shrunk["isr"]:
            raise FaultNotEffective(f"stale-failover: {stale} was still in the ISR {shrunk}")
        return {"stalled": stale, "killed": old, "isr_before_kill": shrunk["isr"]}

    def stop(self) -> dict[str, Any]:
        self.pause.stop()  # nothing left to resume unless start was interrupted
        try:
            leader_now = replicas(self.cluster.info["bootstrap"], self.topic)["leader"]
        except Exception as e:  # metadata unavailable: still restart the old leader
            leader_now = f"unknown ({type(e).__name__})"
        return {**self.kill.stop(), "leader_before_restart": leader_now}


class FollowerStall:
    """Stall (SIGSTOP) the follower of a two-replica partition until it resumes at ``stop``.

    After ``replica.lag.time.max.ms`` the leader drops it from the ISR; with
    min.insync.replicas=2 produce requests then fail with NOT_ENOUGH_REPLICAS, which producers
    retry, until the follower is back and rejoins the ISR. Requests in flight around the ISR's
    shrink and growth are the ones that can fail while a later one succeeds: what retries
    without idempotence reorder. The controller quorum keeps two of its three voters.
    """

    name = "stall"

    def __init__(self, cluster: Cluster, topic: str, partition: int = 0):
        self.cluster, self.topic, self.partition = cluster, topic, partition
        self.pause = Pause(list(cluster.nodes.values()), 1, cluster.rng)

    def start(self) -> dict[str, Any]:
        now = replicas(self.cluster.info["bootstrap"], self.topic, self.partition)
        followers = [r for r in now["replicas"] if r != now["leader"]]
        if not followers:
            raise FaultNotEffective(f"stall: {self.topic} has no follower ({now})")
        return {**self.pause.start([self.cluster.node(followers[0])]), "leader": now["leader"],
                "isr": now["isr"]}

    def stop(self) -> dict[str, Any]:
        return self.pause.stop()
