"""Cassandra claims (claims.md §4) against a real three-node Cassandra 5.0 cluster.

Run: ``pytest --sdconform suites/cassandra``. A JVM cluster takes about a minute to start on two
cores, so every test shares one cluster (``shared=True``) and uses keys of its own; each test
first waits until every node sees its peers up again (after a kill or a partition of the test
before). The keyspace has RF=3. Clients never retry; each statement carries its consistency
level. Where a claim holds only under some consistency level, the test says which.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import pytest

from pytest_sdconform.backends import cassandra as cb
from pytest_sdconform.backends.cassandra import CassandraInfo
from pytest_sdconform.backends.cassandra.judges import (
    LastWriteWins,
    ReplicaHasEveryWrite,
    Settled,
    StaleWhileCut,
    acked_while_down,
    paxos_in_every_window,
    with_final_read_from,
    written_then_read_after,
)
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.cap import CapRow
from pytest_sdconform.checkers.judge import acked_before_every_window
from pytest_sdconform.checkers.sessions import SessionsChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults import Fault
from pytest_sdconform.faults.composite import BeforeHeal
from pytest_sdconform.faults.partition import Partition, isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("cassandra")

# One cluster for every test of the session (JVM start-up dominates on two cores).
TOPOLOGY = cb.Topology()
NODES = ["n1", "n2", "n3"]
_prefixes = itertools.count(1)


def cluster_for(sdconform: Case) -> tuple[Cluster[CassandraInfo], dict[str, str]]:
    cluster = sdconform.start(TOPOLOGY, shared=True)
    waited = cb.healthy(cluster)
    sdconform.config.update(cluster_start_s=cluster.started_s, healthy_wait_s=round(waited, 1))
    return cluster, cluster.info.addresses


def prefix(name: str, owner: int | None = None, keys: int = 1) -> str:
    """A key prefix of the test's own; with ``owner``, every key's first replica is that node
    (so a read at ONE through a coordinator that is that node reads its own copy)."""
    while True:
        p = f"{name}{next(_prefixes)}-"
        if owner is None or all(
            cb.first_replica(f"{p}{i}", len(NODES)) == owner for i in range(keys)
        ):
            return p


def isolate_n3(sdconform: Case, cluster: Cluster[CassandraInfo]) -> Partition:
    return sdconform.fault(lambda: cluster.partition(cuts=[isolate(NODES, "n3")]))


def clients(
    sdconform: Case,
    coordinators: Callable[[int], Sequence[str] | str],
    final: Sequence[str] | str | None = None,
    final_cl: str | None = None,
    final_view: tuple[str, str] | None = None,
    read_cl: str = "QUORUM",
    write_cl: str = "QUORUM",
    lwt: bool = False,
    clock: cb.ClientClock | None = None,
) -> Callable[[int], cb.CqlClient]:
    """Client ``i`` talks to ``coordinators(i)``; the final reader (index = concurrency) to
    ``final`` at ``final_cl`` when given, and with ``final_view`` (coordinator, level) it also
    records what the cluster as a whole holds."""
    workers = sdconform.session.options.concurrency

    def make(i: int) -> cb.CqlClient:
        if i >= workers and final is not None:
            return cb.CqlClient(final, read_cl=final_cl or read_cl, write_cl=write_cl, lwt=lwt,
                                clock=clock, view=final_view)
        return cb.CqlClient(coordinators(i), read_cl=read_cl, write_cl=write_cl, lwt=lwt,
                            clock=clock, index=i)

    return make


# --- consistency levels: stale reads and read-your-writes ------------------------------------


@pytest.mark.claim("cass-quorum-intersection", config="one-one")
def test_reads_at_one_go_stale_under_partition(sdconform: Case) -> None:
    """R + W <= N (ONE/ONE): a load-balanced client writes through one node and reads through
    another; with n3 cut off, its reads through n3 miss its own writes. Only stale reads
    answered while n3 is cut decide (at ONE a read may also race a write without any fault)."""
    cluster, addresses = cluster_for(sdconform)
    everyone = list(addresses.values())
    sdconform.run(
        Register(keys=2, prefix=prefix("one"), read_ratio=0.6),
        clients(sdconform, lambda i: everyone, read_cl="ONE", write_cl="ONE"),
        [isolate_n3(sdconform, cluster)],
        checkers=[SessionsChecker()],
        judge=StaleWhileCut(addresses["n3"], "n3", fault="partition"),
        # One window: the next would open after 6 s.
        run=RunConfig(duration=5.5, quiet=1.0, fault_duration=4.0),
        config={"read_cl": "ONE", "write_cl": "ONE", "coordinators": "all nodes"},
    )


@pytest.mark.claim("cass-quorum-intersection")
def test_quorum_reads_and_writes_keep_read_your_writes(sdconform: Case) -> None:
    """R + W > N (QUORUM/QUORUM). Writes during the cut reach n1 and n2 only; after the heal
    n3 lags, and a read quorum that includes it must still return them. Read-your-writes
    decides (any stale read, fault or not); linearizability is checked and reported
    (Cassandra does not promise it without LWT: a timed-out write may surface later)."""
    cluster, addresses = cluster_for(sdconform)
    everyone = list(addresses.values())
    sdconform.run(
        Register(keys=2, prefix=prefix("quorum"), read_ratio=0.6),
        clients(sdconform, lambda i: everyone, read_cl="QUORUM", write_cl="QUORUM"),
        [isolate_n3(sdconform, cluster)],
        decide_by=["sessions"],
        exercise=written_then_read_after("partition"),
        # One window (3.5 s to 7 s; the next would open after 10.5 s), then three seconds of
        # reads while n3 still misses what the cut kept from it (calls through n3 wait out
        # their timeouts during the cut, and for a while after: few calls complete then).
        run=RunConfig(duration=10.0, quiet=3.5, fault_duration=3.5),
        config={
            "read_cl": "QUORUM",
            "write_cl": "QUORUM",
            "coordinators": "all nodes",
            "linearizable": "checked, not deciding",
        },
    )


# --- lightweight transactions ----------------------------------------------------------------

LWT = Register(keys=2, read_ratio=0.4, cas_ratio=0.4)


def lwt_case(sdconform: Case, addresses: dict[str, str], fault: Fault, run: RunConfig) -> None:
    everyone = list(addresses.values())
    workload = Register(
        keys=LWT.keys, prefix=prefix("lwt"), read_ratio=LWT.read_ratio, cas_ratio=LWT.cas_ratio
    )
    sdconform.run(
        workload,
        clients(sdconform, lambda i: everyone, lwt=True),
        [fault],
        decide_by=["linearizable"],
        exercise=paxos_in_every_window(fault.name),
        config={
            "writes": "LWT (IF ...), consistency QUORUM, serial SERIAL",
            "reads": "SERIAL",
            "coordinators": "all nodes",
        },
        run=run,
    )


@pytest.mark.claim("cass-tunable")
def test_lwt_compare_and_set_is_linearizable_under_partition(sdconform: Case) -> None:
    cluster, addresses = cluster_for(sdconform)
    lwt_case(
        sdconform,
        addresses,
        sdconform.fault(lambda: cluster.partition()),
        # Paxos rounds that meet a cut wait out their 1 s timeouts: a longer cut than the
        # other cases so that rounds on the majority side complete while it is on. One
        # window: the next would open after 9 s.
        RunConfig(duration=8.5, quiet=1.0, fault_duration=7.0),
    )


@pytest.mark.claim("cass-tunable")
def test_lwt_compare_and_set_is_linearizable_through_a_kill(sdconform: Case) -> None:
    cluster, addresses = cluster_for(sdconform)
    # Five seconds down: coordinators that still count n3 alive wait out its 1 s Paxos
    # timeouts before rounds complete on n1 and n2.
    lwt_case(sdconform, addresses, cluster.kill(["n3"]),
             RunConfig(duration=7.0, quiet=1.0, fault_duration=5.0))


@pytest.mark.claim("cass-tunable")
def test_lwt_compare_and_set_is_linearizable_through_a_pause(sdconform: Case) -> None:
    cluster, addresses = cluster_for(sdconform)
    lwt_case(sdconform, addresses, cluster.pause(),
             RunConfig(duration=8.5, quiet=1.0, fault_duration=7.0))


# --- last write wins -------------------------------------------------------------------------


@pytest.mark.claim("cass-lww")
def test_last_write_wins_drops_acknowledged_writes_under_clock_skew(sdconform: Case) -> None:
    """Client-supplied timestamps (USING TIMESTAMP), half the clients' clocks 2 s behind: a
    write acknowledged after another, with an older timestamp, loses to it, and a read after
    it returns the older value."""
    _, addresses = cluster_for(sdconform)
    everyone = list(addresses.values())
    clock = cb.ClientClock()
    skew = cb.ClientClockSkew(clock, sdconform.session.options.concurrency, ms=2000)
    sdconform.run(
        Register(keys=1, prefix=prefix("lww"), read_ratio=0.5),
        clients(sdconform, lambda i: everyone, clock=clock),
        [skew],
        judge=LastWriteWins(fault=skew.name),
        # One window, 1 s to 5 s (the next would open at 6 s).
        run=RunConfig(duration=5.5, quiet=1.0, fault_duration=4.0),
        config={
            "read_cl": "QUORUM",
            "write_cl": "QUORUM",
            "timestamps": "client-supplied, half the clients 2 s behind",
        },
    )


# --- hinted handoff and repair ---------------------------------------------------------------

# settle: the longest wait after the heal for the hint holder to report no pending hints (or
# for the repair): the final read runs as soon as it does.
HINT_RUN = RunConfig(duration=6.0, quiet=1.0, fault_duration=4.0, settle=90.0, op_timeout=3.0)


def settle_hints(cluster: Cluster[CassandraInfo], settled: Settled,
                 repair: bool) -> Callable[[], bool]:
    """The runner's ``converged``: a full repair (retried until it completes), or n1 with no
    hint left to deliver (``cb.HintsDelivered``); ``settled`` records which."""
    hints = cb.HintsDelivered(cluster, ["n1"], TOPOLOGY.request_timeout_ms)

    def converged() -> bool:
        if repair:
            try:
                cb.repair(cluster)
            except Exception as e:  # a repair refused: try again
                settled.detail = f"{type(e).__name__}: {e}"[:200]
                return False
            settled.repaired, settled.detail = True, "nodetool repair -full completed"
            return True
        if hints.waiting():
            settled.detail = f"waiting {hints.due_s:g}s after the heal for n1's hints to be due"
            return False
        settled.hints_drained = hints()
        said = hints.states["n1"]
        settled.detail = ("n1 reports no pending hints and sends none" if settled.hints_drained
                          else f"n1 still holds hints ({said})")
        return settled.hints_drained

    return converged


def lagging_replica(sdconform: Case, repair: bool) -> None:
    """Writes at ONE through n1 on a key n3 owns; n3 cut off, then n1 killed and restarted; the
    final read asks n3 at ONE (n3 reads its own copy) once n1 has no hint left to deliver, or
    after a full repair."""
    cluster, addresses = cluster_for(sdconform)
    settled = Settled()
    sdconform.config["settled"] = vars(settled)  # filled in as the settle step goes
    # n3 cut off while writes at ONE go through n1, which makes hints for n3 (each when n3's
    # answer times out, buffered in memory, then written to a hint file). When the cut ends, n1
    # is killed first (SIGKILL): the hints not yet made or not yet written die with it. Then
    # the cut heals, n1 restarts and replays the hint files it did write.
    fault = BeforeHeal(isolate_n3(sdconform, cluster), cluster.kill(["n1"]),
                       name="partition+kill", describe="kill n1 (the hint holder) before the heal")
    sdconform.run(
        SetAdd(prefix=prefix("set:hints", owner=3)),
        clients(
            sdconform,
            lambda i: addresses["n1"],
            final=addresses["n3"],
            final_cl="ONE",
            final_view=(addresses["n2"], "ALL"),
            write_cl="ONE",
        ),
        [fault],
        judge=ReplicaHasEveryWrite(
            addresses["n3"], "n3", fault=fault.name, settled=settled, need_repair=repair
        ),
        converged=settle_hints(cluster, settled, repair),
        config={
            "write_cl": "ONE",
            "coordinator": "n1",
            "final_read": "n3 at ONE, a key n3 owns; beside it, the cluster's view at ALL",
            "repair": "nodetool repair -full before the final read" if repair else "none",
            "settle": "until a repair completes" if repair
            else "until n1 reports no pending hints",
        },
        run=HINT_RUN,
    )


@pytest.mark.claim("cass-hinted-handoff")
def test_hinted_handoff_alone_leaves_a_lagging_replica_behind(sdconform: Case) -> None:
    lagging_replica(sdconform, repair=False)


@pytest.mark.claim("cass-hinted-handoff", config="repair-after-heal")
def test_repair_brings_a_lagging_replica_back(sdconform: Case) -> None:
    lagging_replica(sdconform, repair=True)


# --- durability ------------------------------------------------------------------------------


@pytest.mark.claim("cass-replication-no-loss")
def test_quorum_writes_survive_the_loss_of_a_replica(sdconform: Case) -> None:
    """Writes at QUORUM through n1 and n2; n3 killed (SIGKILL) and restarted; the final read at
    QUORUM. What was acknowledged while n3 was down lives on n1 and n2 alone."""
    cluster, addresses = cluster_for(sdconform)
    majority = [addresses["n1"], addresses["n2"]]
    sdconform.run(
        SetAdd(prefix=prefix("set:quorum")),
        clients(sdconform, lambda i: majority, write_cl="QUORUM", read_cl="QUORUM"),
        [cluster.kill(["n3"])],
        decide_by=["lost-writes"],
        exercise=acked_while_down("add", "kill"),
        run=RunConfig(duration=5.0, quiet=1.0, fault_duration=3.0),
        config={"write_cl": "QUORUM", "final_read": "QUORUM"},
    )


@pytest.mark.claim("cass-commitlog-no-loss")
def test_commitlog_keeps_acknowledged_writes_through_a_process_kill(sdconform: Case) -> None:
    """Writes at ALL (n3 acknowledged each one), n3 killed with SIGKILL and restarted; the final
    read asks n3 alone at ONE: what it acknowledged must come back from its commit log. (A
    process kill keeps the page cache; power loss: the cases below.)"""
    cluster, addresses = cluster_for(sdconform)
    majority = [addresses["n1"], addresses["n2"]]
    sdconform.run(
        SetAdd(prefix=prefix("set:commitlog", owner=3)),
        clients(
            sdconform, lambda i: majority, final=addresses["n3"], final_cl="ONE", write_cl="ALL"
        ),
        [cluster.kill(["n3"])],
        decide_by=["lost-writes"],
        exercise=with_final_read_from(
            addresses["n3"], "n3", acked_before_every_window("add", "kill")
        ),
        run=RunConfig(duration=5.0, quiet=1.0, fault_duration=1.0),
        config={
            "write_cl": "ALL",
            "final_read": "n3 at ONE, a key n3 owns",
            "commitlog_sync": "periodic 10 s",
            "crash": "process kill (SIGKILL)",
        },
    )


def commitlog_power_loss(sdconform: Case, sync: str) -> None:
    """One node (every replica of its data: RF 1), its commit log synced ``sync``, on a disk
    that forgets unsynced writes; its power is cut, it restarts and replays the commit log.
    A node of its own: the shared cluster is not on lossy disks. With periodic sync the cut
    leaves the newest segment's header unsynced, and Cassandra then refuses to start ("Could
    not read commit log descriptor", seen here): the node runs with
    commitlog.ignorereplayerrors, an operator's way out, so that what survived can be read."""
    topology = cb.Topology(nodes=1, rf=1, commitlog_sync=sync,
                           ignore_replay_errors=sync == "periodic")
    cluster = sdconform.start(topology, power_loss=True)
    (address,) = cluster.info.addresses.values()
    cut = sdconform.fault(lambda: cluster.power_loss())
    sdconform.run(
        SetAdd(prefix=prefix(f"set:power-{sync}")),
        clients(sdconform, lambda i: address, write_cl="ONE", read_cl="ONE"),
        [cut],
        decide_by=["lost-writes"],
        exercise=acked_before_every_window("add", "power-loss"),
        run=RunConfig(duration=5.0, quiet=1.5, fault_duration=1.0),
        config={"write_cl": "ONE", "final_read": "ONE", "commitlog_sync": sync,
                "crash": "power loss of every replica (unsynced writes dropped)"},
    )


@pytest.mark.claim("cass-commitlog-no-loss", config="periodic-power-loss")
def test_periodic_commitlog_sync_loses_writes_when_every_replica_loses_power(sdconform: Case
                                                                            ) -> None:
    """commitlog_sync periodic (the default, every 10 s): a write is acknowledged once it is in
    the commit log's memory-mapped segment, before it reaches the disk. A process kill keeps it
    (the page cache); a power loss of every replica drops what came since the last sync."""
    commitlog_power_loss(sdconform, "periodic")


@pytest.mark.claim("cass-commitlog-no-loss", config="batch-power-loss")
def test_batch_commitlog_sync_keeps_writes_when_every_replica_loses_power(sdconform: Case
                                                                         ) -> None:
    """commitlog_sync batch: a write is acknowledged only once its commit log entry is fsynced,
    so a power loss of every replica keeps every acknowledged write."""
    commitlog_power_loss(sdconform, "batch")


# --- which side of a partition answers (an empirical CAP row) --------------------------------

# One window, 1 s to 5.5 s (the next would open after 6.5 s).
CAP_RUN = RunConfig(duration=6.0, quiet=1.0, fault_duration=4.5, op_timeout=3.0)


def cap_case(sdconform: Case, cl: str, majority: bool, minority: bool) -> None:
    """Two clients through n1 (majority side), two through n3 (cut off), all at ``cl``; the
    judge expects each side to answer (True) or refuse (False)."""
    cluster, addresses = cluster_for(sdconform)
    pick = {0: addresses["n1"], 1: addresses["n3"]}
    sdconform.run(
        Register(keys=2, prefix=prefix(f"cap{cl}"), read_ratio=0.5),
        clients(sdconform, lambda i: pick[i % 2], read_cl=cl, write_cl=cl),
        [isolate_n3(sdconform, cluster)],
        judge=CapRow(
            sides={"majority": [addresses["n1"]], "minority": [addresses["n3"]]},
            expect={"majority": majority, "minority": minority},
        ),
        config={"read_cl": cl, "write_cl": cl, "coordinators": "n1 (majority side), n3 (cut off)"},
        run=CAP_RUN,
    )


@pytest.mark.claim("cass-leaderless-available")
def test_at_one_both_sides_of_a_partition_answer(sdconform: Case) -> None:
    cap_case(sdconform, "ONE", majority=True, minority=True)


@pytest.mark.claim("cass-leaderless-available", config="quorum")
def test_at_quorum_the_cut_off_side_refuses(sdconform: Case) -> None:
    """The claim (every node serves reads and writes on its own) at QUORUM: n3 cut off cannot
    gather a quorum, so its side refuses."""
    cap_case(sdconform, "QUORUM", majority=True, minority=True)


@pytest.mark.claim("cass-all")
def test_at_all_no_side_answers_while_a_replica_is_cut(sdconform: Case) -> None:
    cap_case(sdconform, "ALL", majority=False, minority=False)
