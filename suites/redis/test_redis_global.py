"""Redis across regions (``redis-global-datastore``): ElastiCache Global Datastore stood in for
by a replica replicating through a delayed link (a toxiproxy proxy), the primary's region lost.

Run: ``pytest --sdconform suites/redis/test_redis_global.py``.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import redis as rb
from pytest_sdconform.backends.redis.region_judges import RpoWithinMeasuredLag
from pytest_sdconform.backends.redis.regions import RegionLoss, Writers, replicate_through
from pytest_sdconform.case import Case
from pytest_sdconform.faults.latency import Latency, RoundTrip
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("redis")

LINK_DELAY_MS = 300  # the secondary region's link: the replication stream arrives this late
LAG_S = 1.5  # writes over the slow link before the region is lost
CLIENT_TIMEOUT = 1.0
REGION_RUN = RunConfig(duration=8.0, quiet=2.5, fault_duration=4.0, op_timeout=3.0, settle=1.0)


@pytest.mark.nightly
@pytest.mark.claim("redis-global-datastore")
def test_losing_the_primary_region_loses_at_most_the_replicas_lag(sdconform: Case) -> None:
    """A secondary region: a replica replicating through a proxy whose downstream (the
    replication stream) is delayed by LINK_DELAY_MS (proven by a timed PING round trip).
    Clients write to the primary region; after LAG_S of writes over the slow link the
    primary's region is lost (primary killed, link gone), the replica promoted (REPLICAOF NO
    ONE) and the clients moved to it. The replication is asynchronous, so acknowledged writes
    are lost (RPO > 0), but only those acknowledged within the replica's lag as measured at
    the loss (the primary's sampled offsets against what the replica held). RPO, lag and RTO
    are reported."""
    cluster = sdconform.start(rb.Topology(replicas=1))
    addresses = cluster.info.addresses
    proxies = cluster.toxiproxy()
    link = proxies.proxy("repl", f"{addresses['n1']}:{rb.PORT}")
    sdconform.fault(lambda: replicate_through(cluster, link.host, link.port))
    delay = Latency(proxies.client, [link], ms=LINK_DELAY_MS,
                    probe=RoundTrip(payload=b"PING\r\n", timeout=3))
    writers = Writers(addresses["n1"])
    sdconform.run(
        SetAdd(),
        lambda i: rb.RedisClient(writers, writers, timeout=CLIENT_TIMEOUT),
        [sdconform.fault(lambda: RegionLoss(cluster, delay, link.name, writers, lag_s=LAG_S))],
        judge=RpoWithinMeasuredLag(),
        config={"secondary": "asynchronous replica behind a delayed link",
                "link_delay_ms": LINK_DELAY_MS, "lag_s": LAG_S,
                "promotion": "REPLICAOF NO ONE, clients moved"},
        run=REGION_RUN,
    )
