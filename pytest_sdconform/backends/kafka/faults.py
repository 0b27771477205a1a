"""Faults aimed at the leader of a partition, found from the cluster's metadata at each start
(leadership moves after every fault, so a fixed victim would miss it)."""

from __future__ import annotations

import threading
import time
from typing import Any

from ...cluster import Cluster
from ...faults import FaultNotEffective
from ...faults.partition import isolate
from ...faults.power import PowerLoss
from ...faults.process import Kill, Pause
from .admin import leader, leader_says, replicas
from .topology import KafkaInfo


class LeaderKill:
    """SIGKILL the current leader of ``topic``/``partition``; restart it on its data. With
    ``power_loss`` (a cluster started with ``power_loss=True``), cut its power instead: it also
    loses what it wrote without fsync, which Kafka leaves to the operating system."""

    def __init__(self, cluster: Cluster[KafkaInfo], topic: str = "log", partition: int = 0,
                 power_loss: bool = False):
        self.cluster, self.topic, self.partition = cluster, topic, partition
        self.fault: Kill | PowerLoss = (
            cluster.power_loss() if power_loss
            else Kill(list(cluster.nodes.values()), 1, cluster.rng))
        self.name = self.fault.name
        self.election = Election(cluster.info, topic, partition)

    def start(self) -> dict[str, Any]:
        victim = leader(self.cluster.info.bootstrap, self.topic, self.partition)
        done = self.fault.start([self.cluster.node(victim)])
        self.election.start(victim)
        return {**done, "leader_of": self.topic}

    def stop(self) -> dict[str, Any]:
        elected = self.election.stop()
        return {**self.fault.stop(), **elected}


class LeaderIsolation:
    """Cut the current leader of ``topic``/``partition`` off from the other brokers (clients,
    which are not in the cut, still reach it)."""

    name = "partition"

    def __init__(self, cluster: Cluster[KafkaInfo], topic: str = "log", partition: int = 0):
        self.cluster, self.topic, self.partition = cluster, topic, partition
        self.cut = cluster.partition()
        self.election = Election(cluster.info, topic, partition)

    def start(self) -> dict[str, Any]:
        victim = leader(self.cluster.info.bootstrap, self.topic, self.partition)
        done = self.cut.start(isolate(sorted(self.cluster.nodes), victim))
        self.election.start(victim)
        return {**done, "leader_of": self.topic}

    def stop(self) -> dict[str, Any]:
        elected = self.election.stop()
        return {**self.cut.stop(), **elected}


class Election:
    """Watches, from the moment a fault has taken effect, for the other brokers to name a new
    leader of the partition: how long the cluster took to fail over, as the brokers clients can
    still use saw it (each asked alone, every ``every_s``). The stop record carries it
    (``elected_after_s``, ``new_leader``), so that a bound on when writes are back starts from
    what the cluster did, not from a guess at how long an election takes on a busy machine.
    The figure is late by at most one round of questions, never early."""

    def __init__(self, info: KafkaInfo, topic: str, partition: int, every_s: float = 0.2):
        self.info, self.topic, self.partition, self.every_s = info, topic, partition, every_s
        self.cancel = threading.Event()
        self.thread: threading.Thread | None = None
        self.seen: dict[str, Any] = {}

    def start(self, victim: str) -> None:
        others = {n: b for n, b in self.info.brokers().items() if n != victim}
        self.cancel.clear()
        self.seen = {}
        self.thread = threading.Thread(target=self._watch,
                                       args=(victim, others, time.monotonic()), daemon=True,
                                       name="sdconform-kafka-election")
        self.thread.start()

    def _watch(self, victim: str, others: dict[str, str], began: float) -> None:
        while not self.cancel.is_set():
            for node, broker in others.items():
                named = leader_says(broker, self.topic, self.partition)
                if named is not None and named != victim:
                    self.seen = {"new_leader": named, "seen_by": node,
                                 "elected_after_s": round(time.monotonic() - began, 3)}
                    return
            self.cancel.wait(self.every_s)

    def stop(self) -> dict[str, Any]:
        """What was seen while the fault was on: ``new_leader`` None if no election."""
        self.cancel.set()
        if self.thread is not None:
            self.thread.join(10)
            self.thread = None
        return self.seen or {"new_leader": None}


class StaleFailover:
    """Leave a stale replica as the only one alive: the leader's follower stalls (SIGSTOP)
    until it is fenced and dropped from the ISR, the leader goes on acknowledging alone (as
    min.insync.replicas=1 lets it), then the leader dies (SIGKILL) and the follower wakes.

    With unclean leader election the stale follower becomes leader, and what the old leader
    acknowledged alone is gone; without it the partition waits, offline, for the old leader,
    which ``stop`` restarts on its data. Meant for a topic with two replicas.

    ``start`` only stalls the follower (so the fault's window opens before the leader
    acknowledges alone: the writes at risk are inside it); a timer thread then watches the ISR
    and kills the leader ``alone_s`` after the follower has left it, and ``stop`` says whether
    that happened (FaultNotEffective when the follower had not left the ISR within
    ``isr_wait_s`` or the kill failed, which stops the run as a fault that did not work).

    ``isr_wait_s``: four times the cluster's replica.lag.time.max.ms (3 s in our topology):
    the leader drops a follower that has not caught up for that long, checking every half of
    it, and the controller then publishes the new ISR; a loaded machine takes longer than the
    setting alone (8.3 s measured at load 6), and the kill waits for the shrink itself, not for
    a guess at its time.
    """

    name = "stale-failover"

    def __init__(self, cluster: Cluster[KafkaInfo], topic: str, alone_s: float = 1.5,
                 isr_wait_s: float = 12.0):
        self.cluster, self.topic = cluster, topic
        self.alone_s, self.isr_wait_s = alone_s, isr_wait_s
        nodes = list(cluster.nodes.values())
        self.pause, self.kill = Pause(nodes, 1, cluster.rng), Kill(nodes, 1, cluster.rng)
        self.cancel = threading.Event()
        self.timer: threading.Thread | None = None
        self.outcome: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        bootstrap = self.cluster.info.bootstrap
        before = replicas(bootstrap, self.topic)
        old = before["leader"] or leader(bootstrap, self.topic)
        followers = [r for r in before["replicas"] if r != old]
        if not followers:
            raise FaultNotEffective(f"stale-failover: {self.topic} has no follower ({before})")
        stale = followers[0]
        self.pause.start([self.cluster.node(stale)])
        self.cancel.clear()
        self.outcome = {}
        self.timer = threading.Thread(target=self._fail_over, args=(old, stale), daemon=True,
                                      name="sdconform-stale-failover")
        self.timer.start()
        return {"stalled": stale, "leader": old, "kill_after_shrink_s": self.alone_s}

    def _fail_over(self, old: str, stale: str) -> None:
        try:
            began = time.monotonic()
            shrunk = replicas(self.cluster.info.bootstrap, self.topic)
            while stale in shrunk["isr"] and time.monotonic() - began < self.isr_wait_s:
                if self.cancel.wait(0.25):
                    self.outcome = {"error": "healed before the follower left the ISR"}
                    return
                shrunk = replicas(self.cluster.info.bootstrap, self.topic)
            if stale in shrunk["isr"]:
                self.outcome = {"error": f"{stale} was still in the ISR {shrunk} after "
                                         f"{self.isr_wait_s:g}s"}
                return
            left_isr_s = round(time.monotonic() - began, 2)
            if self.cancel.wait(self.alone_s):  # the leader acknowledges alone meanwhile
                self.outcome = {"error": "healed before the leader was killed"}
                return
            self.kill.start([self.cluster.node(old)])
            self.outcome = {"killed": old, "isr_before_kill": shrunk["isr"],
                            "left_isr_after_s": left_isr_s}
        except Exception as e:  # reported by stop
            self.outcome = {"error": f"{type(e).__name__}: {e}"}
        finally:
            self.pause.stop()

    def stop(self) -> dict[str, Any]:
        self.cancel.set()
        if self.timer is not None:
            self.timer.join(60)
            self.timer = None
        self.pause.stop()  # nothing left to resume unless the timer died
        try:
            leader_now = replicas(self.cluster.info.bootstrap, self.topic)["leader"]
        except Exception as e:  # metadata unavailable: still restart the old leader
            leader_now = f"unknown ({type(e).__name__})"
        restarted = self.kill.stop()
        outcome, self.outcome = self.outcome, {}
        if outcome.get("error"):
            raise FaultNotEffective(f"stale-failover: {outcome['error']}")
        return {**restarted, **outcome, "leader_before_restart": leader_now}

