"""MongoDB claims (claims.md, the MongoDB and document-store rows) against a real replica set.

Run: ``pytest --sdconform suites/mongodb`` where ``mongod`` is on the PATH, or
``--sdconform-runtime docker`` (the official image), or ``--sdconform-runtime external`` with
``SDCONFORM_MONGODB_URI`` (the cases that need no fault). Where none of that exists every case
skips, saying what it needs: these claims are counted untested until a real run reports them
(``UNVERIFIED`` below).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pytest_sdconform.backends import mongodb as mb
from pytest_sdconform.backends.mongodb.judges import EveryNodeTakesWrites
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.durability import LostWritesChecker
from pytest_sdconform.checkers.judge import acked_before_every_window
from pytest_sdconform.checkers.recovery import Resumes
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd
from pytest_sdconform.workloads.txn import ListAppend

pytestmark = pytest.mark.backend("mongodb")

# Never yet run against a real mongod: the claims count as untested (claims/coverage.py).
UNVERIFIED = "no mongod on the machines this suite was written on"

MEMBERS = ["m1", "m2", "m3"]
BOUND_S = mb.failover_bound_s()
# One loss of the primary per case, lasting past the failover bound so that the new primary
# shows inside the window on a loaded machine too.
FAILOVER_RUN = RunConfig(duration=12.0, quiet=3.0, fault_duration=BOUND_S + 2, settle=10.0,
                         op_timeout=3.0)


@pytest.fixture
def replica_set(sdconform: Case) -> Iterator[Callable[[], Cluster[mb.MongoInfo]]]:
    """Start the three-member set; on the external runtime, drop the run's database after."""
    started: list[Cluster[mb.MongoInfo]] = []

    def start() -> Cluster[mb.MongoInfo]:
        cluster = sdconform.start(mb.Topology(members=3))
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        if cluster.info.uri is not None:
            client = mb.MongoClient(cluster.info, mb.Concerns())
            try:
                mb.drop_database(client.client, cluster.info)
            finally:
                client.close()


def clients(cluster: Cluster[mb.MongoInfo], concerns: mb.Concerns,
            member: Callable[[int], str | None] | None = None
            ) -> Callable[[int], mb.MongoClient]:
    def make(i: int) -> mb.MongoClient:
        return mb.MongoClient(cluster.info, concerns, member=member(i) if member else None)

    return make


@pytest.mark.claim("mongo-rs-auto-failover")
def test_a_killed_primary_is_replaced_within_the_election_bound(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    """Kill the primary: a secondary is elected and majority writes resume on it within the
    bound the set's election settings allow (``failover_bound_s``)."""
    cluster = replica_set()
    kill = sdconform.fault(lambda: cluster.kill(["m1"]))
    sdconform.run(SetAdd(), clients(cluster, mb.Concerns(w="majority")), [kill],
                  judge=Resumes("add", "kill", bound_s=BOUND_S, other_node=True), checkers=[],
                  config={"rto_bound_s": BOUND_S, "w": "majority"}, run=FAILOVER_RUN)


def _cut_primary(sdconform: Case, cluster: Cluster[mb.MongoInfo], w: int | str) -> None:
    """The primary cut off from the other members (clients still reach it); a new primary is
    elected; at the heal the old one rolls back what the new one never had."""
    cut = sdconform.fault(lambda: cluster.partition(cuts=[isolate(MEMBERS, "m1")]))
    sdconform.run(SetAdd(), clients(cluster, mb.Concerns(w=w, read="majority")), [cut],
                  checkers=[LostWritesChecker()], decide_by=["lost-writes"],
                  exercise=acked_before_every_window("add", "partition"),
                  config={"w": w, "cut": "primary isolated from the other members"},
                  run=FAILOVER_RUN)


@pytest.mark.claim("mongo-failover-no-loss")
def test_w1_writes_acknowledged_by_a_deposed_primary_are_rolled_back(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    _cut_primary(sdconform, replica_set(), w=1)


@pytest.mark.claim("mongo-failover-no-loss", config="w-majority")
def test_majority_writes_survive_the_failover(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    _cut_primary(sdconform, replica_set(), w="majority")


def _secondary_reads(sdconform: Case, cluster: Cluster[mb.MongoInfo], causal: bool) -> None:
    """Reads from secondaries while one of them is cut off from the primary (it falls behind)."""
    cut = sdconform.fault(lambda: cluster.partition(cuts=[isolate(MEMBERS, "m3")]))
    concerns = mb.Concerns(w="majority", read="majority", read_preference="secondary",
                           causal=causal)
    sdconform.run(Register(keys=2), clients(cluster, concerns), [cut], decide_by=["sessions"],
                  config=concerns.describe())


@pytest.mark.claim("mongo-secondary-reads")
def test_causal_sessions_keep_read_your_writes_on_secondaries(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    _secondary_reads(sdconform, replica_set(), causal=True)


@pytest.mark.claim("mongo-secondary-reads", config="without-causal-sessions")
def test_secondary_reads_without_sessions_miss_own_writes(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    _secondary_reads(sdconform, replica_set(), causal=False)


@pytest.mark.claim("mongo-tunable")
def test_linearizable_reads_on_the_primary_under_a_partition(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    """readConcern "linearizable" with majority writes, on the primary: linearizable, also
    while the primary is cut off and deposed."""
    cluster = replica_set()
    cut = sdconform.fault(lambda: cluster.partition(cuts=[isolate(MEMBERS, "m1")]))
    concerns = mb.Concerns(w="majority", read="linearizable")
    sdconform.run(Register(keys=2, cas_ratio=0.2), clients(cluster, concerns), [cut],
                  decide_by=["linearizable"], config=concerns.describe(), run=FAILOVER_RUN)


@pytest.mark.claim("mongo-acid-transactions")
def test_transactions_under_a_primary_kill(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    """Multi-document transactions with snapshot reads and majority commits, the primary
    killed: the list-append checker at read committed, the strongest of its levels snapshot
    isolation implies (it has no snapshot-isolation level; serializable would refute SI's
    write skew, which MongoDB allows)."""
    cluster = replica_set()
    kill = sdconform.fault(lambda: cluster.kill(["m1"]))
    sdconform.run(ListAppend(level="read-committed"), clients(cluster, mb.Concerns()), [kill],
                  config={"transactions": "snapshot read concern, majority commit"},
                  run=FAILOVER_RUN)


@pytest.mark.claim("docstore-any-node-writes")
def test_only_the_primary_takes_writes(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    """Each client writes straight to one member (w:1, no discovery): the secondaries refuse
    every write with NotWritablePrimary."""
    cluster = replica_set()
    if cluster.info.uri is not None:
        pytest.skip("writes to each member need the members' addresses (not the external "
                    "runtime's connection string)")
    judge = EveryNodeTakesWrites(tuple(MEMBERS))
    sdconform.run(Register(keys=2, read_ratio=0.2),
                  clients(cluster, mb.Concerns(w=1, read="local",
                                               read_preference="primaryPreferred"),
                          member=lambda i: MEMBERS[i % 3]),
                  judge=judge, checkers=[], config={"clients": "one member each, directly"},
                  run=RunConfig(concurrency=3))


@pytest.mark.claim("mongo-self-healing")
def test_a_restarted_secondary_catches_up(
        sdconform: Case, replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    """A secondary killed for a while, then restarted within the oplog's window: the set goes
    on with the other two (majority writes resume at once) and the member catches up, so
    reads from it at the end show every acknowledged write."""
    cluster = replica_set()
    kill = sdconform.fault(lambda: cluster.kill(["m3"]))
    workers = sdconform.session.options.concurrency

    def at_m3_at_the_end(i: int) -> str | None:
        return "m3" if i >= workers else None  # the runner's final reads use client ``workers``

    sdconform.run(SetAdd(), clients(cluster, mb.Concerns(w="majority", read="local",
                                                         read_preference="primaryPreferred"),
                                    member=at_m3_at_the_end), [kill],
                  checkers=[LostWritesChecker()], decide_by=["lost-writes"],
                  exercise=acked_before_every_window("add", "kill"),
                  config={"final_reads": "directly at m3, the restarted member"},
                  run=FAILOVER_RUN)


@pytest.mark.claim("docdb-transactions")
def test_documentdb_transactions(sdconform: Case,
                                 replica_set: Callable[[], Cluster[mb.MongoInfo]]) -> None:
    """Against DocumentDB itself (the external runtime): transactions without faults, checked
    as MongoDB's are."""
    if sdconform.session.options.runtime != "external":
        pytest.skip("a DocumentDB claim: decided only against DocumentDB "
                    "(--sdconform-runtime external, SDCONFORM_MONGODB_URI)")
    cluster = replica_set()
    sdconform.run(ListAppend(level="read-committed"), clients(cluster, mb.Concerns()),
                  config={"transactions": "snapshot read concern, majority commit"})
