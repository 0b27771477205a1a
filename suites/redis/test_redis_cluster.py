"""Redis Cluster (claims.md §6, redis-cluster-failover): six redis-server processes made into
three primaries with a replica each; a primary killed, and a primary cut off from the rest of
the cluster while its clients still reach it.

Run: ``pytest --sdconform suites/redis/test_redis_cluster.py``.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends.redis.promotion import ResumesAfterPromotion, watch_promotion
from pytest_sdconform.backends.redis.sharded import (
    ClusterClient,
    ClusterTopology,
    RedisClusterInfo,
    Reshard,
    cluster_converged,
    cluster_rto_bound_s,
    keys_moved,
)
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.durability import LostWritesChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("redis")

CLIENT_TIMEOUT_S = 1.0
# The promotion's bound from the cluster's own settings (sharded.cluster_rto_bound_s): the
# window lasts past it. The judge counts from the promotion the fault saw (promotion.py says
# why): then the clients' own part, a call in flight at the promotion ends within one client
# timeout and the next, after the client refreshed its slot map, within another.
PROMOTION_BOUND_S = cluster_rto_bound_s()
CLIENT_BOUND_S = 2 * CLIENT_TIMEOUT_S
# Each fault lasts a second longer than both, so that a failover slowed by a loaded machine
# still shows inside the window; one window per case.
FAULT_S = PROMOTION_BOUND_S + CLIENT_BOUND_S + 1
CLUSTER_RUN = RunConfig(duration=2.0 + FAULT_S + 2.0, quiet=2.0, fault_duration=FAULT_S,
                        settle=30.0, op_timeout=3.0)


def started(sdconform: Case) -> tuple[Cluster[RedisClusterInfo], str]:
    cluster = sdconform.start(ClusterTopology())
    victim = sorted(cluster.info.primaries)[0]
    sdconform.config.update({"victim": victim, "its_replica": cluster.info.primaries[victim],
                             "promotion_bound_s": round(PROMOTION_BOUND_S, 2),
                             "client_bound_s": CLIENT_BOUND_S})
    return cluster, victim


def clients(cluster: Cluster[RedisClusterInfo]):  # type: ignore[no-untyped-def]
    return lambda i: ClusterClient(cluster.info.addresses, timeout=CLIENT_TIMEOUT_S)


@pytest.mark.claim("redis-cluster-failover")
def test_a_replica_takes_over_a_killed_primarys_slots(sdconform: Case) -> None:
    """As documented: a primary killed, its replica promoted by the others' votes (the fault
    watches for it; none during the kill, longer than the bound cluster-node-timeout implies,
    refutes), and writes to its slots resume on the replica within the clients' own bound
    after the promotion (ResumesAfterPromotion: on a node that took no write before). Keys
    spread over the three shards; lost acknowledged writes are measured too (lost-writes),
    not judged here."""
    cluster, victim = started(sdconform)
    replica = cluster.info.addresses[cluster.info.primaries[victim]]
    sdconform.run(SetAdd(keys=6), clients(cluster),
                  [watch_promotion(cluster.kill([victim]), replica)],
                  checkers=[LostWritesChecker()],
                  judge=ResumesAfterPromotion("add", "kill", CLIENT_BOUND_S, PROMOTION_BOUND_S),
                  converged=lambda: cluster_converged(cluster), run=CLUSTER_RUN)


@pytest.mark.claim("redis-cluster-failover", config="partitioned-primary")
def test_a_primary_cut_off_from_the_cluster_loses_acknowledged_writes(sdconform: Case
                                                                      ) -> None:
    """A primary cut off from the other five servers (its clients still reach it) keeps
    acknowledging writes until cluster-node-timeout tells it it is in the minority; the
    majority meanwhile promotes its replica, and when the cut heals it rejoins as that
    replica's replica and drops what it acknowledged alone (lost-writes)."""
    cluster, victim = started(sdconform)
    names = sorted(cluster.info.addresses)
    cut = sdconform.fault(lambda: cluster.partition(cuts=[isolate(names, victim)]))
    sdconform.run(SetAdd(keys=6), clients(cluster), [cut], decide_by=["lost-writes"],
                  checkers=[LostWritesChecker()],
                  converged=lambda: cluster_converged(cluster), run=CLUSTER_RUN,
                  config={"cut": f"{victim} from the other servers (clients reach it)"})


def low_slot_tag(below: int) -> tuple[str, int]:
    """A hash tag whose slot is below ``below`` (the first primary's first slots, which
    redis-cli --cluster reshard moves first), and that slot."""
    from redis.crc import key_slot

    for i in range(1_000_000):
        slot = key_slot(f"t{i}".encode())
        if slot < below:
            return f"t{i}", slot
    raise LookupError(f"no tag below slot {below}")


@pytest.mark.claim("redis-cluster-failover", config="resharding")
def test_resharding_under_traffic_loses_no_acknowledged_write(sdconform: Case) -> None:
    """"Seamless resharding": redis-cli --cluster reshard moves the first primary's first
    slots, keys and all, to another primary while clients write to them; clients follow the
    MOVED and ASK redirections (refusals while a slot is half moved are allowed); no
    acknowledged write may be lost (lost-writes), and the keys must really have moved under
    traffic (keys_moved). The keys share a hash tag whose slot is among the first 60, so
    moving up to it takes seconds (redis-cli moves some 45 slots a second here)."""
    cluster = sdconform.start(ClusterTopology())
    source, target = sorted(cluster.info.primaries)[:2]
    first = min(lo for lo, _ in cluster.info.slots[source])
    tag, slot = low_slot_tag(60)
    if not first <= slot:
        pytest.fail(f"{source}'s slots start at {first}, after the tag's slot {slot}")
    moved = slot - first + 1
    reshard = Reshard(cluster, source, target, moved)
    sdconform.run(SetAdd(keys=10, prefix=f"set:{{{tag}}}:"), clients(cluster), [reshard],
                  decide_by=["lost-writes"], checkers=[LostWritesChecker()],
                  exercise=keys_moved("add"), converged=lambda: cluster_converged(cluster),
                  config={"reshard": f"{moved} slots {source} -> {target}, keys in slot "
                                     f"{slot}"},
                  run=RunConfig(duration=8.0, quiet=2.0, fault_duration=1.0, settle=30.0,
                                op_timeout=3.0))
