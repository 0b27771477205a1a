"""Redis as the documents use it (claims.md §6): a lease lock, a leaderboard, a crawler's
duplicate detection, a key generation service's ID list, expiring cache entries, and Redis as
the database. Each pattern runs as documented (one server) and, where the documents stay
silent about it, through a Sentinel failover of an asynchronous replica.

Run: ``pytest --sdconform suites/redis/test_redis_apps.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from pytest_sdconform.backends import redis as rb
from pytest_sdconform.backends.redis import RedisInfo, apps
from pytest_sdconform.backends.redis.app_judges import (
    ExpiredNeverServed,
    HandedOutOnce,
    LeaderboardMatches,
    ProcessedOnce,
    lock_contended,
)
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.judge import acked_before_every_window
from pytest_sdconform.checkers.mutex import MutexChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("redis")

LEASE_MS = 2000  # the lock's lease and the cache entries' time to live
ENTRY_TTL_MS = 150  # cache entries: short, so that reads meet many expiries in a short run
# The Sentinel failover every "through a failover" case makes: the primary paused a second
# longer than Sentinel's own failover bound (rb.sentinel_rto_bound_s: down-after-milliseconds,
# one split vote and the retry), so that a replica is promoted while it sleeps; clients wait
# out the stall (their timeout is longer than the pause), so what sat in the paused primary's
# socket buffer is applied and acknowledged when it wakes, and it keeps acknowledging until
# Sentinel turns it into a replica of the new primary (as in test_redis.py's
# min-replicas-to-write case). One pause (the next window would start after the traffic
# ends), then 3.5 s of traffic after it. Sentinel demotes the old primary only some seconds
# after it is back (it waits 4 x its 2 s publish period after the role report, and asks a
# replica's role every 10 s): the final reads wait for that (converged). A failover that
# did not happen leaves the case inconclusive (app_judges.failed_over).
PAUSE_S, QUIET_S = rb.sentinel_rto_bound_s() + 1, 4.0
CLIENT_TIMEOUT_S = PAUSE_S + 5
FAILOVER_RUN = RunConfig(duration=QUIET_S + PAUSE_S + 3.5, quiet=QUIET_S,
                         fault_duration=PAUSE_S, settle=30.0, op_timeout=CLIENT_TIMEOUT_S + 2)
NO_FINAL_READS = replace(FAILOVER_RUN, settle=0.0)  # nothing to wait for


def one_server(sdconform: Case, persistence: rb.Persistence | None = None
               ) -> Callable[[], str]:
    cluster = sdconform.start(rb.Topology(persistence=persistence or rb.Persistence()))
    address = cluster.info.addresses["n1"]
    return lambda: address


def on_one_server(primary: Callable[[], str], **kw: float) -> Callable[[int], apps.AppClient]:
    return lambda i: apps.AppClient(primary, timeout=1.0, **kw)  # type: ignore[arg-type]


def sentinel_apps(cluster: Cluster[RedisInfo], **kw: float
                  ) -> Callable[[int], apps.AppClient]:
    """A mixed fleet of Sentinel-aware application clients, as applications have: half follow
    a failover within a second of the sentinels announcing it (FollowingRouter, as Jedis does
    on +switch-master), half keep the primary they know until an error makes them ask again
    (SentinelRouter, as a pooled connection does)."""

    def client(i: int) -> apps.AppClient:
        router: apps.FollowingRouter | rb.SentinelRouter
        if i % 2 == 0:
            router = apps.FollowingRouter(lambda: rb.sentinel_primary(cluster),
                                          cluster.info.addresses["n1"])
        else:
            router = rb.SentinelRouter(cluster)
        return apps.AppClient(router.primary, timeout=CLIENT_TIMEOUT_S, on_error=router.forget,
                              **kw)  # type: ignore[arg-type]

    return client


def failover(sdconform: Case) -> tuple[Cluster[RedisInfo], dict[str, object]]:
    cluster = sdconform.start(rb.Topology(replicas=2, sentinel=True))
    return cluster, {"failover": f"primary paused {PAUSE_S:.0f} s (Sentinel's bound + 1 s)",
                     "replication": "asynchronous", "client_timeout_s": CLIENT_TIMEOUT_S}


# --- locks ---------------------------------------------------------------------------------

@pytest.mark.claim("redis-lock-setnx")
def test_set_nx_px_lock_excludes_on_one_server(sdconform: Case) -> None:
    """As documented: one Redis, SET NX PX to acquire, compare-and-delete to release. Mutual
    exclusion: no two clients hold the lock at once, a client's hold ending at its release or
    its own lease deadline (counted from when it asked) (checkers/mutex.py)."""
    primary = one_server(sdconform)
    sdconform.run(apps.Locks(keys=1), on_one_server(primary, lease_ms=LEASE_MS, work_s=0.05),
                  checkers=[MutexChecker()], exercise=lock_contended(),
                  config={"lease_ms": LEASE_MS, "critical_section_s": 0.05})


@pytest.mark.claim("redis-lock-setnx", config="sentinel-failover")
def test_set_nx_px_lock_has_two_holders_after_a_failover(sdconform: Case) -> None:
    """The same lock on a Sentinel-managed primary with asynchronous replicas: when the deposed
    primary wakes it still grants locks to the clients that have not yet heard of the failover
    while those that have find the same locks free on the promoted replica. Three locks, so
    that a lock the deposed primary granted to a stale request (which a careful client, as
    here, does not use once its lease has run out) does not block the others."""
    cluster, config = failover(sdconform)
    sdconform.run(apps.Locks(keys=3),
                  sentinel_apps(cluster, lease_ms=LEASE_MS, work_s=0.3),
                  [cluster.pause(["n1"])], checkers=[MutexChecker()],
                  exercise=lock_contended("pause"),
                  config={**config, "lease_ms": LEASE_MS, "critical_section_s": 0.3},
                  run=NO_FINAL_READS)


# --- leaderboard ---------------------------------------------------------------------------

@pytest.mark.claim("redis-leaderboard")
def test_leaderboard_ranks_follow_every_acknowledged_point(sdconform: Case) -> None:
    """As documented: one sorted set, ZINCRBY per point, rankings read with ZREVRANGE: every
    ranking shows at least the points acknowledged before it was read and no more than those
    attempted (LeaderboardMatches)."""
    primary = one_server(sdconform)
    sdconform.run(apps.Leaderboard(), on_one_server(primary), judge=LeaderboardMatches())


@pytest.mark.claim("redis-leaderboard", config="sentinel-failover")
def test_leaderboard_loses_points_in_a_failover(sdconform: Case) -> None:
    cluster, config = failover(sdconform)
    sdconform.run(apps.Leaderboard(), sentinel_apps(cluster), [cluster.pause(["n1"])],
                  judge=LeaderboardMatches("pause"), converged=lambda: rb.converged(cluster),
                  config=config, run=FAILOVER_RUN)


# --- duplicate detection -------------------------------------------------------------------

@pytest.mark.claim("redis-dedup-keys")
def test_dedup_keys_catch_every_duplicate_url(sdconform: Case) -> None:
    """As documented: a key per URL (SET NX EX): the first sighting processes it, every later
    offer is caught as a duplicate (ProcessedOnce)."""
    primary = one_server(sdconform)
    sdconform.run(apps.Crawl(), on_one_server(primary), judge=ProcessedOnce())


@pytest.mark.claim("redis-dedup-keys", config="sentinel-failover")
def test_dedup_keys_lost_in_a_failover_let_urls_be_processed_twice(sdconform: Case) -> None:
    cluster, config = failover(sdconform)
    sdconform.run(apps.Crawl(), sentinel_apps(cluster), [cluster.pause(["n1"])],
                  judge=ProcessedOnce("pause"),
                  config=config, run=NO_FINAL_READS)


# --- key generation service ----------------------------------------------------------------

IDS = 200_000


@pytest.mark.claim("redis-kgs-list")
def test_pre_generated_ids_are_handed_out_once(sdconform: Case) -> None:
    """As documented: IDs pre-generated into a Redis list, each taken with LPOP; none may be
    handed out twice (HandedOutOnce)."""
    primary = one_server(sdconform)
    apps.preload_ids(primary(), IDS)
    sdconform.run(apps.TakeIds(), on_one_server(primary), judge=HandedOutOnce(),
                  config={"preloaded_ids": IDS})


@pytest.mark.claim("redis-kgs-list", config="sentinel-failover")
def test_pre_generated_ids_are_handed_out_twice_after_a_failover(sdconform: Case) -> None:
    cluster, config = failover(sdconform)
    apps.preload_ids(cluster.info.addresses["n1"], IDS, replicas=2)
    sdconform.run(apps.TakeIds(), sentinel_apps(cluster), [cluster.pause(["n1"])],
                  judge=HandedOutOnce("pause"),
                  config={**config, "preloaded_ids": IDS}, run=NO_FINAL_READS)


# --- expiry --------------------------------------------------------------------------------

@pytest.mark.claim("redis-ttl-expiry")
def test_expired_entries_are_never_served(sdconform: Case) -> None:
    """As documented: entries written with SET PX are invalidated when their time to live
    runs out: never served after it (beyond Redis's 1 ms resolution), always before it
    (ExpiredNeverServed)."""
    primary = one_server(sdconform)
    sdconform.run(apps.Expiring(), on_one_server(primary, lease_ms=ENTRY_TTL_MS),
                  judge=ExpiredNeverServed(), config={"ttl_ms": ENTRY_TTL_MS})


SKEW_MS = -5000  # the replica's clock 5 s behind the primary's


def redis_time(address: str) -> Callable[[], float]:
    """A server's wall clock, as it answers TIME (the clock-skew fault's proof)."""

    def probe() -> float:
        r = rb.admin(address, timeout=2)
        try:
            seconds, micros = r.time()
            return float(seconds) + micros / 1e6
        finally:
            r.close()

    return probe


@pytest.mark.claim("redis-ttl-expiry", config="replica-clock-behind")
def test_a_replica_with_a_slow_clock_serves_expired_entries(sdconform: Case) -> None:
    """Reads from a replica whose clock runs 5 s behind the primary's: Redis propagates a
    write's expiry as an absolute time (SET ... PXAT), and a replica decides by its own clock
    whether a key it holds has expired; it serves the entry until the primary's DEL of the
    expired key arrives. Only expired values served count (a key not there yet is replication
    lag: ExpiredNeverServed(early=False))."""
    cluster = sdconform.start(rb.Topology(replicas=1, skew_clocks=True))
    primary, replica = cluster.info.addresses["n1"], cluster.info.addresses["n2"]
    skew = sdconform.fault(lambda: cluster.clock_skew(
        {"n2": SKEW_MS}, probes={"n2": redis_time(replica)}))
    sdconform.run(apps.Expiring(),
                  lambda i: apps.AppClient(lambda: primary, lambda: replica, timeout=1.0,
                                           lease_ms=ENTRY_TTL_MS),
                  [skew], judge=ExpiredNeverServed(early=False),
                  config={"ttl_ms": ENTRY_TTL_MS, "reads": "replica", "skew_ms": SKEW_MS},
                  run=RunConfig(quiet=1.0, fault_duration=3.0))


# --- Redis as the database -----------------------------------------------------------------

CRASH_RUN = RunConfig(fault_duration=1.0, quiet=3.0)  # quiet: time to restart and take writes


@pytest.mark.claim("redis-as-database", config="appendfsync-always")
def test_redis_as_the_database_with_aof_always_survives_a_kill(sdconform: Case) -> None:
    """"With a disk-persistence option to avoid data loss": the append-only file fsynced
    before every reply; the server killed now and then; every acknowledged record is back."""
    primary = one_server(sdconform, rb.Persistence(appendonly=True, appendfsync="always"))
    cluster = sdconform.clusters[-1]
    sdconform.run(SetAdd(), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], exercise=acked_before_every_window("add", "kill"),
                  run=CRASH_RUN, config={"crash": "process kill (SIGKILL)"})


@pytest.mark.claim("redis-as-database", config="default-persistence")
def test_redis_as_the_database_with_default_persistence_loses_a_kill(sdconform: Case) -> None:
    """Redis's default persistence (RDB snapshots, save 3600 1 300 100 60 10000): a killed
    server comes back with its last snapshot."""
    primary = one_server(sdconform, rb.Persistence(save="3600 1 300 100 60 10000"))
    cluster = sdconform.clusters[-1]
    sdconform.run(SetAdd(), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], exercise=acked_before_every_window("add", "kill"),
                  run=CRASH_RUN, config={"crash": "process kill (SIGKILL)"})
