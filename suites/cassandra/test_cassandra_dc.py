"""Cassandra claims (claims.md §4) about two data centres, on a four-node cluster of their own:
n1 and n2 in dc1, n3 and n4 in dc2 (GossipingPropertyFileSnitch), the keyspace replicated
twice in each (NetworkTopologyStrategy dc1: 2, dc2: 2), so every node holds every key; a
majority within a data centre is both its replicas, QUORUM is three of the four.

Every test shares the cluster (``shared=True``, one JVM start), uses keys of its own and first
waits until every node sees its peers up. Clients never retry; each statement carries its
consistency level. The data centres are cut apart with the harness's partition (the local
runtime's netfilter rules), which a WAN outage between two sites looks like.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_sdconform.backends import cassandra as cb
from pytest_sdconform.backends.cassandra import CassandraInfo
from pytest_sdconform.backends.cassandra.judges import (
    QuorumIsWeak,
    RefusesOnlyWhenCut,
    SurvivesDcLoss,
)
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.cap import CapRow
from pytest_sdconform.checkers.durability import LostWritesChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults.partition import Cut, Partition, between, isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("cassandra")

# Four 512 MiB JVMs: about 3 GiB resident in all (measured in the report's config).
TOPOLOGY = cb.Topology(nodes=4, dcs=2, rf=2)
DC1, DC2 = ["n1", "n2"], ["n3", "n4"]
_prefixes = itertools.count(1)


def cluster_for(sdconform: Case) -> tuple[Cluster[CassandraInfo], dict[str, str]]:
    cluster = sdconform.start(TOPOLOGY, shared=True)
    waited = cb.healthy(cluster)
    sdconform.config.update(cluster_start_s=cluster.started_s, healthy_wait_s=round(waited, 1),
                            rss_mib=resident_mib(cluster))
    return cluster, cluster.info.addresses


def resident_mib(cluster: Cluster[CassandraInfo]) -> dict[str, int]:
    """Each node's resident memory (VmRSS of its JVM, from /proc), in MiB."""
    out = {}
    for name, node in cluster.nodes.items():
        pid = getattr(node, "pid", None)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            kib = next(int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS:"))
            out[name] = kib // 1024
        except (OSError, StopIteration, ValueError):
            continue
    return out


def prefix(name: str) -> str:
    return f"{name}{next(_prefixes)}dc-"


def dcs_apart(sdconform: Case, cluster: Cluster[CassandraInfo]) -> Partition:
    groups = [DC1, DC2]
    return sdconform.fault(
        lambda: cluster.partition(cuts=[Cut("data-centres", between(groups), groups)]))


def per_dc(addresses: dict[str, str], cls: tuple[str, str]) -> Callable[[int], cb.CqlClient]:
    """Even clients through dc1's nodes, odd ones through dc2's; ``cls``: the (read, write)
    consistency levels."""
    sites = [[addresses[n] for n in DC1], [addresses[n] for n in DC2]]

    def make(i: int) -> cb.CqlClient:
        return cb.CqlClient(sites[i % 2], read_cl=cls[0], write_cl=cls[1], index=i)

    return make


def sides(addresses: dict[str, str]) -> dict[str, list[str]]:
    return {"dc1": [addresses[n] for n in DC1], "dc2": [addresses[n] for n in DC2]}


# One window, 1 s to 5.5 s (the next would open after 6.5 s).
CUT_RUN = RunConfig(duration=6.0, quiet=1.0, fault_duration=4.5, op_timeout=3.0)


@pytest.mark.claim("cass-local-quorum")
def test_local_quorum_answers_in_each_dc_while_they_are_cut_apart(sdconform: Case) -> None:
    """LOCAL_QUORUM asks a majority of the coordinator's own data centre only: with the data
    centres cut apart, reads and writes through either keep succeeding."""
    cluster, addresses = cluster_for(sdconform)
    sdconform.run(
        Register(keys=2, prefix=prefix("lq"), read_ratio=0.5),
        per_dc(addresses, ("LOCAL_QUORUM", "LOCAL_QUORUM")),
        [dcs_apart(sdconform, cluster)],
        judge=CapRow(sides=sides(addresses), expect={"dc1": True, "dc2": True}),
        run=CUT_RUN,
        config={"read_cl": "LOCAL_QUORUM", "write_cl": "LOCAL_QUORUM",
                "coordinators": "dc1's nodes, dc2's nodes", "fault": "dc1 and dc2 cut apart"},
    )


@pytest.mark.claim("cass-each-quorum")
def test_each_quorum_writes_are_refused_while_the_dcs_are_cut_apart(sdconform: Case) -> None:
    """EACH_QUORUM needs a majority in every data centre: with the data centres cut apart no
    coordinator reaches one in the other, so writes through either are refused. The control:
    the same writes succeed in the two seconds before the cut."""
    cluster, addresses = cluster_for(sdconform)
    sdconform.run(
        SetAdd(keys=2, prefix=prefix("set:eq")),
        per_dc(addresses, ("LOCAL_QUORUM", "EACH_QUORUM")),
        [dcs_apart(sdconform, cluster)],
        checkers=[LostWritesChecker()],
        judge=RefusesOnlyWhenCut(CapRow(sides=sides(addresses),
                                        expect={"dc1": False, "dc2": False})),
        # One window, 2 s to 6 s (the next would open after 8 s).
        run=RunConfig(duration=6.5, quiet=2.0, fault_duration=4.0, op_timeout=3.0),
        config={"write_cl": "EACH_QUORUM", "coordinators": "dc1's nodes, dc2's nodes",
                "fault": "dc1 and dc2 cut apart"},
    )


@pytest.mark.claim("cass-quorum-two-dc")
def test_quorum_reads_in_one_dc_see_quorum_writes_of_the_other(sdconform: Case) -> None:
    """"QUORUM is weak consistency": writes at QUORUM through dc1, reads at QUORUM through dc2
    (three of four replicas each, so every read quorum meets every write quorum), with n2 cut
    off for a while (three nodes left: still a quorum; a partition rather than a kill, whose
    restart costs a minute here). A read that misses a write acknowledged before it began
    would show QUORUM weak; none does."""
    cluster, addresses = cluster_for(sdconform)
    dc2 = [addresses[n] for n in DC2]
    sdconform.run(
        Register(keys=2, prefix=prefix("q2dc"), read_ratio=0.5),
        # dc1's clients through n1 alone: n2 is the replica the cut takes away, and calls
        # coordinated by it would only time out.
        lambda i: cb.CqlClient(addresses["n1"] if i % 2 == 0 else dc2, read_cl="QUORUM",
                               write_cl="QUORUM", index=i),
        [sdconform.fault(lambda: cluster.partition(cuts=[isolate([*DC1, *DC2], "n2")]))],
        checkers=[],
        judge=QuorumIsWeak(writers=sides(addresses)["dc1"], readers=sides(addresses)["dc2"],
                           fault="partition"),
        run=RunConfig(duration=5.5, quiet=1.0, fault_duration=4.0, op_timeout=3.0),
        config={"read_cl": "QUORUM", "write_cl": "QUORUM", "quorum": "3 of 4 replicas",
                "coordinators": "n1 (dc1), dc2's nodes", "fault": "n2 (dc1) cut off"},
    )


@pytest.mark.claim("cass-multi-dc-dr")
def test_losing_a_dc_keeps_every_write_in_the_other(sdconform: Case) -> None:
    """Disaster recovery: adds at EACH_QUORUM through dc1 (acknowledged once both data centres
    hold them) and at LOCAL_QUORUM through dc2; then dc1 is lost to dc2 (cut off: what a
    destroyed site looks like from the survivor; killing both dc1 JVMs also upholds the claim,
    but their restart costs two minutes here). dc2 must keep taking adds, and its own copy (the
    final read at LOCAL_QUORUM through n3) must hold every acknowledged add. No hint from dc1
    can fill a gap: dc1's writes were acknowledged only once dc2 had them."""
    cluster, addresses = cluster_for(sdconform)
    sites = [[addresses[n] for n in DC1], [addresses[n] for n in DC2]]
    workers = sdconform.session.options.concurrency

    def make(i: int) -> cb.CqlClient:
        if i >= workers:
            return cb.CqlClient(addresses["n3"], read_cl="LOCAL_QUORUM")
        return cb.CqlClient(sites[i % 2], write_cl="EACH_QUORUM" if i % 2 == 0
                            else "LOCAL_QUORUM", index=i)

    cut = dcs_apart(sdconform, cluster)
    sdconform.run(
        SetAdd(keys=2, prefix=prefix("set:dr")),
        make,
        [cut],
        checkers=[LostWritesChecker()],
        judge=SurvivesDcLoss(survivors=sides(addresses)["dc2"], fault=cut.name,
                             label="dc2"),
        # One window, 2 s to 6 s: two seconds of EACH_QUORUM writes before it.
        run=RunConfig(duration=6.5, quiet=2.0, fault_duration=4.0, op_timeout=3.0),
        config={"write_cl": "EACH_QUORUM through dc1, LOCAL_QUORUM through dc2",
                "fault": "dc1 cut off from dc2", "final_read": "LOCAL_QUORUM through n3 (dc2)"},
    )
