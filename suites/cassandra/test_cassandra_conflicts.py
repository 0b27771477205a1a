"""Cassandra claims (claims.md §4) on the suite's shared three-node cluster: consistency level
ANY, concurrent writes across a partition (last-write-wins, not vector clocks), Dynamo's
"available under partitions, then consistent", and deletes after gc_grace_seconds.

The cluster is test_cassandra.py's (the same ``cb.Topology()``, ``shared=True``: one JVM start
for both files when they run in one session); each test has keys of its own and first waits
until every node sees its peers up. Clients never retry.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_sdconform.backends import cassandra as cb
from pytest_sdconform.backends.cassandra import CassandraInfo
from pytest_sdconform.backends.cassandra.cql import create_schema
from pytest_sdconform.backends.cassandra.judges import (
    AckedWithoutReplica,
    AvailableThenConverges,
    DeletesStayDeleted,
    SiblingsKept,
)
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.convergence import ConvergenceChecker
from pytest_sdconform.checkers.durability import LostWritesChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults import Fault
from pytest_sdconform.faults.composite import BeforeHeal
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation, Result, Workload
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("cassandra")

TOPOLOGY = cb.Topology()  # equal to test_cassandra.py's: the same shared cluster
NODES = ["n1", "n2", "n3"]
RF1 = "sdconform_rf1"  # a keyspace whose keys have one replica each
_prefixes = itertools.count(1)


def cluster_for(sdconform: Case) -> tuple[Cluster[CassandraInfo], dict[str, str]]:
    cluster = sdconform.start(TOPOLOGY, shared=True)
    waited = cb.healthy(cluster)
    sdconform.config.update(cluster_start_s=cluster.started_s, healthy_wait_s=round(waited, 1))
    return cluster, cluster.info.addresses


def keyspace_of_its_own(address: str, rf: int, keyspace: str,
                        gc_grace_s: int | None = None) -> None:
    """``cql.create_schema``, tried three times: on a loaded machine a schema change can outlast
    the driver's heartbeat, which drops the connection (the statements are IF NOT EXISTS)."""
    for attempt in range(3):
        try:
            create_schema(address, rf, keyspace=keyspace, gc_grace_s=gc_grace_s)
            return
        except Exception:
            if attempt == 2:
                raise
            time.sleep(2.0)


def prefix(name: str, owner: int | None = None, keys: int = 1) -> str:
    """A key prefix of the test's own; with ``owner``, every key's token is that node's."""
    while True:
        p = f"{name}{next(_prefixes)}c-"
        if owner is None or all(
            cb.first_replica(f"{p}{i}", len(NODES)) == owner for i in range(keys)
        ):
            return p


class Rotating:
    """A client per coordinator, taken in turn call by call: the final reads of a key, asked
    once per node, are answered by each node in turn."""

    def __init__(self, clients: Sequence[cb.CqlClient]):
        self.clients, self.calls = list(clients), 0

    def invoke(self, op: Invocation) -> Result:
        client = self.clients[self.calls % len(self.clients)]
        self.calls += 1
        return client.invoke(op)

    def close(self) -> None:
        for c in self.clients:
            c.close()


@dataclass
class FinalFromEach:
    """``workload`` with each final read asked ``nodes`` times in a row (for ``Rotating``)."""

    workload: Workload
    nodes: int
    name: str = "set"

    def next_op(self, rng: random.Random) -> Invocation:
        return self.workload.next_op(rng)

    def final_ops(self) -> list[Invocation]:
        return [op for op in self.workload.final_ops() for _ in range(self.nodes)]

    def checkers(self) -> list[Checker]:
        return self.workload.checkers()


@dataclass
class WritesUntil:
    """``workload`` whose writes stop ``seconds`` after its first operation (reads after): the
    writes of a partition window are then the last ones before the heal."""

    workload: Register
    seconds: float
    name: str = "register"
    _began: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        with self._lock:
            if not self._began:
                self._began.append(time.monotonic())
            late = time.monotonic() - self._began[0] > self.seconds
        op = self.workload.next_op(rng)
        return Invocation("read", op.key) if late else op

    def final_ops(self) -> list[Invocation]:
        return self.workload.final_ops()

    def checkers(self) -> list[Checker]:
        return []


# --- consistency level ANY -------------------------------------------------------------------


@pytest.mark.claim("cass-any")
def test_any_acknowledges_writes_no_replica_took(sdconform: Case) -> None:
    """A keyspace with one replica per key (RF 1), keys whose replica is n3; adds at ANY through
    n1 and n2 while n3 is cut off from them (a partition rather than a kill: n3's restart would
    cost a minute here, and a replica nobody can reach applies nothing either). An add
    acknowledged then was applied to no replica: the coordinator stored a hint. The final read
    asks n3 at ONE (reported, not deciding: hints may or may not have been replayed by then)."""
    cluster, addresses = cluster_for(sdconform)
    keyspace_of_its_own(addresses["n1"], 1, RF1)
    others = [addresses["n1"], addresses["n2"]]
    workers = sdconform.session.options.concurrency

    def make(i: int) -> cb.CqlClient:
        if i >= workers:
            return cb.CqlClient(addresses["n3"], read_cl="ONE", keyspace=RF1)
        return cb.CqlClient(others, write_cl="ANY", keyspace=RF1, index=i)

    cut = sdconform.fault(lambda: cluster.partition(cuts=[isolate(NODES, "n3")]))
    sdconform.run(
        SetAdd(keys=2, prefix=prefix("set:any", owner=3, keys=2)),
        make,
        [cut],
        checkers=[LostWritesChecker()],
        judge=AckedWithoutReplica(fault=cut.name,
                                  replicas="every replica of the keys (n3, RF 1) was cut off"),
        # One window, 1 s to 5 s: the next would open after 6 s.
        run=RunConfig(duration=5.5, quiet=1.0, fault_duration=4.0, settle=5.0),
        config={"keyspace": f"{RF1} (SimpleStrategy, RF 1)", "write_cl": "ANY",
                "coordinators": "n1, n2 (not replicas of the keys)",
                "fault": "n3, the keys' only replica, cut off from n1 and n2",
                "final_read": "n3 at ONE (reported, not deciding)"},
    )


# --- concurrent writes across a partition ----------------------------------------------------


def both_sides(sdconform: Case, addresses: dict[str, str], cl: str
               ) -> Callable[[int], cb.CqlClient]:
    """Even clients through n1 and n2 (the majority side), odd ones through n3 (cut off)."""
    majority, minority = [addresses["n1"], addresses["n2"]], addresses["n3"]

    def make(i: int) -> cb.CqlClient:
        return cb.CqlClient(majority if i % 2 == 0 else minority, read_cl=cl, write_cl=cl,
                            index=i)

    return make


@pytest.mark.claim("cass-merkle-vclock")
def test_concurrent_writes_across_a_partition_lose_one_side(sdconform: Case) -> None:
    """n3 cut off; writes at ONE to one key on both sides (neither can see the other's), then
    only reads; after the heal a full repair (Merkle trees compared, differences streamed),
    then a final read at ALL. Vector clocks would keep both sides' last writes as siblings;
    Cassandra keeps the one with the newest timestamp and drops the other silently."""
    cluster, addresses = cluster_for(sdconform)
    repaired: list[bool] = []

    def repair() -> bool:
        try:
            cb.repair(cluster, table="registers")
        except Exception as e:  # a node not answering JMX yet: try again
            sdconform.config["repair_error"] = f"{type(e).__name__}: {e}"[:200]
            return False
        repaired.append(True)
        return True

    majority = [addresses["n1"], addresses["n2"]]
    workers = sdconform.session.options.concurrency
    make = both_sides(sdconform, addresses, "ONE")
    sdconform.run(
        # Writes for 4.5 s: the window (1 s to 5 s) holds the last of them.
        WritesUntil(Register(keys=2, prefix=prefix("vclock"), read_ratio=0.2), 4.5),
        lambda i: (cb.CqlClient(addresses["n1"], read_cl="ALL") if i >= workers
                   else make(i)),
        [sdconform.fault(lambda: cluster.partition(cuts=[isolate(NODES, "n3")]))],
        judge=SiblingsKept(sides={"majority": majority, "minority": [addresses["n3"]]},
                           repaired=repaired),
        converged=repair,
        run=RunConfig(duration=5.5, quiet=1.0, fault_duration=4.0, settle=120.0),
        config={"write_cl": "ONE", "read_cl": "ONE",
                "coordinators": "n1, n2 (majority side), n3 (cut off)",
                "writes": "for the first 4.5 s only", "after_heal": "nodetool repair -full",
                "final_read": "ALL through n1"},
    )


@pytest.mark.claim("dynamo-tunable-eventual")
def test_both_sides_answer_at_one_and_replicas_converge(sdconform: Case) -> None:
    """Dynamo's promise on its Cassandra stand-in: at ONE both sides of a partition take adds,
    and once it heals and no node holds hints any more, every node's own copy (a read at ONE
    through each, on a table without speculative retry) is the same."""
    cluster, addresses = cluster_for(sdconform)
    # ``cb.HintsDelivered``: "no pending hints" alone came while hints were in flight, and the
    # final reads found n2 short of 44 adds.
    hints_drained = cb.HintsDelivered(cluster, list(NODES), TOPOLOGY.request_timeout_ms)

    workers = sdconform.session.options.concurrency
    make = both_sides(sdconform, addresses, "ONE")
    every = [cb.CqlClient(addresses[n], read_cl="ONE") for n in NODES]
    sdconform.config["hints_after_heal"] = hints_drained.states
    sdconform.run(
        FinalFromEach(SetAdd(keys=2, prefix=prefix("set:dynamo")), len(NODES)),
        lambda i: Rotating(every) if i >= workers else make(i),
        [sdconform.fault(lambda: cluster.partition(cuts=[isolate(NODES, "n3")]))],
        checkers=[ConvergenceChecker()],
        judge=AvailableThenConverges(sides={"majority": [addresses["n1"], addresses["n2"]],
                                            "minority": [addresses["n3"]]}),
        converged=hints_drained,
        run=RunConfig(duration=5.5, quiet=1.0, fault_duration=4.0, settle=90.0),
        config={"write_cl": "ONE", "coordinators": "n1, n2 (majority side), n3 (cut off)",
                "settle": "a flush and a dispatch trigger after the heal, until no node lists "
                          "pending hints or sends any",
                "final_reads": "each node at ONE, its own copy"},
    )


# --- deletes and gc_grace_seconds ------------------------------------------------------------


class Announce:
    """``fault``, setting ``on`` while it is in effect (from its proven start to its heal)."""

    def __init__(self, fault: Fault):
        self.fault, self.name, self.on = fault, fault.name, threading.Event()

    def start(self) -> Any:
        started = self.fault.start()
        self.on.set()
        return started

    def stop(self) -> Any:
        self.on.clear()
        return self.fault.stop()


@dataclass
class WriteThenDelete:
    """Keys written once each for ``write_until`` seconds (at most ``limit`` of them); once
    ``deleting`` is set (the cut proven), the keys deleted in the order they were written;
    reads otherwise. The final reads ask every key written."""

    prefix: str
    write_until: float
    deleting: threading.Event
    limit: int = 150
    name: str = "register"
    _began: list[float] = field(default_factory=list)
    _written: list[str] = field(default_factory=list)
    _deleted: int = 0
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        with self._lock:
            if not self._began:
                self._began.append(time.monotonic())
            t = time.monotonic() - self._began[0]
            if t < self.write_until and len(self._written) < self.limit:
                key = f"{self.prefix}{len(self._written)}"
                self._written.append(key)
                return Invocation("write", key, next(self._values))
            if self.deleting.is_set() and self._deleted < len(self._written):
                self._deleted += 1
                return Invocation("delete", self._written[self._deleted - 1])
            written = list(self._written)
        if not written:
            return Invocation("read", f"{self.prefix}0")
        return Invocation("read", rng.choice(written))

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", k) for k in self._written]

    def checkers(self) -> list[Checker]:
        return []


def deletes_case(sdconform: Case, gc_grace_s: int | None) -> None:
    """Keys written at ALL (every replica holds them), then n3 cut off, then the keys deleted
    at QUORUM through n1 and n2 (n3 misses the deletes; hints for it live gc_grace_seconds).
    Before the heal, once gc_grace_seconds have passed, n1 and n2 flush and compact the table
    (a tombstone older than gc_grace_seconds is purged with what it shadowed); no repair. After
    the heal, once every node sees its peers, a final read of each key at ALL."""
    cluster, addresses = cluster_for(sdconform)
    keyspace = cb.KEYSPACE if gc_grace_s is None else f"sdconform_grace{gc_grace_s}"
    if gc_grace_s is not None:
        keyspace_of_its_own(addresses["n1"], 3, keyspace, gc_grace_s)
    purge = cb.PurgeTombstones(cluster, ["n1", "n2"], keyspace, "registers",
                               gc_grace_s if gc_grace_s is not None else 864000)
    cut = Announce(sdconform.fault(lambda: cluster.partition(cuts=[isolate(NODES, "n3")])))
    fault = BeforeHeal(cut, purge, name="partition+purge",
                       describe="after gc_grace_seconds, flush and compact on n1 and n2")
    workers = sdconform.session.options.concurrency
    pair = [addresses["n1"], addresses["n2"]]

    def make(i: int) -> cb.CqlClient:
        if i >= workers:
            return cb.CqlClient(addresses["n1"], read_cl="ALL", keyspace=keyspace)
        return cb.CqlClient(pair, read_cl="QUORUM", write_cl="ALL", delete_cl="QUORUM",
                            keyspace=keyspace, index=i)

    def settled() -> bool:
        cb.healthy(cluster, timeout=60)
        return True

    sdconform.run(
        # Writes until 0.9 s (the window opens at 1 s), deletes once n3 is proven cut off.
        WriteThenDelete(prefix("tomb"), write_until=0.9, deleting=cut.on),
        make,
        [fault],
        judge=DeletesStayDeleted(fault=fault.name, purged=purge.purged),
        converged=settled,
        run=RunConfig(duration=5.5, quiet=1.0, fault_duration=4.0, settle=90.0),
        config={"keyspace": keyspace,
                "gc_grace_seconds": gc_grace_s if gc_grace_s is not None
                else "864000 (the default, ten days)",
                "writes": "ALL, before the cut", "deletes": "QUORUM",
                "coordinators": "n1, n2", "repair": "none",
                "final_read": "ALL through n1, once every node sees its peers"},
    )


@pytest.mark.claim("cass-tombstones")
def test_deletes_missed_by_a_replica_stay_deleted_within_gc_grace(sdconform: Case) -> None:
    """gc_grace_seconds at its default (ten days): the compaction keeps the tombstones, and the
    read at ALL after the heal lets them win over n3's older values."""
    deletes_case(sdconform, None)


@pytest.mark.claim("cass-tombstones", config="gc-grace-without-repair")
def test_deleted_rows_come_back_after_gc_grace_without_repair(sdconform: Case) -> None:
    """gc_grace_seconds = 1 and no repair: the tombstones are purged from n1 and n2 before n3,
    which never got them (its hints expired with gc_grace), is back; the read at ALL finds
    n3's old values and repairs them onto the others."""
    deletes_case(sdconform, 1)
