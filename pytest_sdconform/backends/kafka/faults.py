"""Faults aimed at the leader of a partition, found from the cluster's metadata at each start
(leadership moves after every fault, so a fixed victim would miss it)."""

from __future__ import annotations

from typing import Any

from ...cluster import Cluster
from ...faults.partition import isolate
from ...faults.process import Kill
from .server import leader


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
