"""Caching claims (claims.md, the caching rows) over real parts: a Redis or Memcached cache in
front of PostgreSQL, the app tier's request handlers applying one pattern each, and a flusher
process for write-back.

Run: ``pytest --sdconform suites/caching``. PostgreSQL is the source of truth: every write
commits a new version of its row there (or, write-back, reaches it through the flusher), and
the staleness checker measures each value a cache served against those versions. Bounds come
from the configured TTL and flush interval plus what the history measured (fills, flushes).
The cases on the plain cache-and-database topology share one cluster per worker (each with keys
of its own prefix); a case's kill is healed before the next one starts.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_sdconform.backends import caching as cb
from pytest_sdconform.backends.redis.topology import PORT as REDIS_PORT
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.durability import LostWritesChecker
from pytest_sdconform.checkers.judge import (
    Checkers,
    Exercise,
    Verdicts,
    acked_before_every_window,
    described,
)
from pytest_sdconform.checkers.linearizable import LinearizabilityChecker
from pytest_sdconform.checkers.staleness import StalenessBound, StalenessChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults.composite import InTurn
from pytest_sdconform.faults.latency import Latency, RoundTrip
from pytest_sdconform.faults.toxiproxy import ToxiproxyServer
from pytest_sdconform.history import History
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.keys import FreshKeys
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("caching")

TTL_S = 1.0  # the cache-aside TTL: short, so a 5 s case sees entries expire several times
MEMCACHED_GRANULARITY_S = 1.0  # memcached's clock ticks in whole seconds
FLUSH_S = 1.0  # the write-back flusher's interval
CACHE_LATENCY_MS = 150  # the slowed handlers' path to the cache
KILL_RUN = RunConfig(quiet=1.5, fault_duration=1.5, settle=3.0, op_delay=0.005)
SLOW_RUN = RunConfig(quiet=0.5, fault_duration=3.0, op_delay=0.002)


def handlers(info: cb.CachingInfo, pattern: str, ttl_s: float | None = None,
             slow: tuple[str, int] | None = None) -> Callable[[int], cb.CacheClient]:
    """One handler per worker; with ``slow``, every other one reaches the cache there."""
    def make(i: int) -> cb.CacheClient:
        path = slow if slow is not None and i % 2 == 0 else None
        return cb.CacheClient(info, pattern, ttl_s=ttl_s, cache=path)

    return make


# A run has one toxiproxy server: the shared cluster's, started by the first case that needs it.
_toxiproxies: dict[int, tuple[Cluster[cb.CachingInfo], ToxiproxyServer]] = {}


def slowed_cache(cluster: Cluster[cb.CachingInfo], case: str
                 ) -> tuple[Latency, tuple[str, int]]:
    """A toxiproxy in front of the cache for half the handlers (a proxy of the case's own),
    and its latency fault."""
    known = _toxiproxies.get(id(cluster))
    if known is None or known[0] is not cluster:
        known = _toxiproxies[id(cluster)] = (cluster, cluster.toxiproxy())
    proxies = known[1]
    proxy = proxies.proxy(f"cache-{case}", f"{cluster.info.addresses['cache']}:{REDIS_PORT}")
    latency = Latency(proxies.client, [proxy], ms=CACHE_LATENCY_MS, stream="both",
                      probe=RoundTrip(payload=b"PING\r\n", timeout=3))
    return latency, (proxy.host, proxy.port)


def staleness(bound_s: float | None = None) -> list[StalenessChecker]:
    return [StalenessChecker(bound_s)]


@pytest.mark.claim("cache-aside-stale")
def test_lazy_loading_serves_stale_data_within_the_ttl(sdconform: Case) -> None:
    """"Possibility of stale data": handlers update PostgreSQL only; reads go to Redis and,
    on a miss, read the row and SET it with a TTL. A value cached before a write is served
    after it: stale reads must show, and each within the TTL plus the longest fill measured
    (a longer one refutes the TTL's bound)."""
    cluster = sdconform.start(cb.Topology(), shared=True)
    sdconform.run(Register(keys=3, read_ratio=0.8, prefix="aside:"),
                  handlers(cluster.info, "aside", TTL_S), checkers=staleness(),
                  judge=StalenessBound(cb.ttl_bound(TTL_S), stale_expected=True),
                  config={"pattern": "cache-aside (lazy loading)", "ttl_s": TTL_S,
                          "invalidation": "none"})


@pytest.mark.claim("cache-ttl-bound")
def test_ttl_bounds_staleness_across_a_cache_restart(sdconform: Case) -> None:
    """"May serve slightly stale data until the TTL expires": as lazy loading, with the
    cache killed and restarted (empty) in the middle. No read is staler than the TTL plus
    the longest fill; stale reads must show for the bound to be put to the test."""
    cluster = sdconform.start(cb.Topology(), shared=True)
    sdconform.run(Register(keys=3, read_ratio=0.8, prefix="ttl:"),
                  handlers(cluster.info, "aside", TTL_S), [cluster.kill(["cache"])],
                  checkers=staleness(),
                  judge=StalenessBound(cb.ttl_bound(TTL_S), stale_expected=True), run=KILL_RUN,
                  config={"pattern": "cache-aside", "ttl_s": TTL_S, "fault": "cache restart"})


@pytest.mark.claim("cache-ttl-bound")
def test_ttl_bounds_staleness_on_memcached(sdconform: Case) -> None:
    """The same on Memcached, whose expiry counts whole seconds: the bound is the TTL plus
    one second of clock granularity plus the longest fill."""
    cluster = sdconform.start(cb.Topology(cache="memcached"))
    sdconform.run(Register(keys=3, read_ratio=0.8, prefix="ttlmc:"),
                  handlers(cluster.info, "aside", TTL_S), checkers=staleness(),
                  judge=StalenessBound(cb.ttl_bound(TTL_S, MEMCACHED_GRANULARITY_S),
                                       stale_expected=True),
                  config={"pattern": "cache-aside", "ttl_s": TTL_S,
                          "expiry_granularity_s": MEMCACHED_GRANULARITY_S})


@pytest.mark.claim("cache-write-through-never-stale")
def test_write_through_leaves_the_cache_stale_under_concurrent_writers(sdconform: Case
                                                                        ) -> None:
    """"Data never stale": each write commits to PostgreSQL and then SETs Redis (no TTL).
    Half the handlers reach Redis through a slowed path; two writers of one key commit in
    one order and SET in the other, and the older value stays cached. Any read of a value
    superseded before the read began refutes "never stale"."""
    cluster = sdconform.start(cb.Topology(), shared=True)
    latency, slow = slowed_cache(cluster, "wt")
    sdconform.run(Register(keys=2, read_ratio=0.5, prefix="wt:"),
                  handlers(cluster.info, "through", slow=slow), [latency],
                  checkers=staleness(), judge=StalenessBound(None), run=SLOW_RUN,
                  config={"pattern": "write-through (database, then cache SET)", "ttl": "none",
                          "fault": f"{CACHE_LATENCY_MS} ms on half the handlers' cache path"})


@pytest.mark.claim("cache-invalidate-on-modify")
def test_invalidation_on_modify_is_undone_by_a_slow_fill(sdconform: Case) -> None:
    """"Invalidating on modification ensures immediate data freshness": writers commit and
    DEL the key; readers miss, read the row and SET it. A reader on the slowed path read the
    old row before a write, and its SET lands after the write's DEL: the old value is cached
    with nothing left to remove it. Any stale read refutes "immediate freshness"."""
    cluster = sdconform.start(cb.Topology(), shared=True)
    latency, slow = slowed_cache(cluster, "inv")
    sdconform.run(Register(keys=2, read_ratio=0.7, prefix="inv:"),
                  handlers(cluster.info, "invalidate", slow=slow), [latency],
                  checkers=staleness(), judge=StalenessBound(None), run=SLOW_RUN,
                  config={"pattern": "cache-aside + DEL on write", "ttl": "none",
                          "fault": f"{CACHE_LATENCY_MS} ms on half the handlers' cache path"})


def _rejected(history: History, verdicts: Verdicts) -> Exercise:
    n = sum(1 for c in history.complete() if c.completion is not None
            and c.completion.get("rejected_version") is not None)
    return Exercise(n > 0, f"{n} reads found a cached entry of an older version and refilled"
                    if n else "no read found an outdated cache entry: validation never mattered")


@pytest.mark.claim("cache-invalidate-on-read")
def test_validating_each_read_against_the_primary_serves_fresh_data(sdconform: Case) -> None:
    """"Guarantees that fresh data is always served": every read checks its cached entry's
    version against PostgreSQL's row and serves it only when current, else refills. The
    slowed handlers' late SETs leave outdated entries in Redis; validation must reject them.
    Reads must be linearizable and never stale."""
    cluster = sdconform.start(cb.Topology(), shared=True)
    latency, slow = slowed_cache(cluster, "val")
    sdconform.run(Register(keys=2, read_ratio=0.7, prefix="val:"),
                  handlers(cluster.info, "validate", slow=slow), [latency],
                  checkers=[LinearizabilityChecker("cas-register", 30.0), StalenessChecker()],
                  judge=Checkers(["linearizable", "staleness"],
                                 described(_rejected, "reads that found an outdated entry"),
                                 "reads that found an outdated cache entry and refilled it"),
                  run=SLOW_RUN,
                  config={"pattern": "version check against the primary per read",
                          "fault": f"{CACHE_LATENCY_MS} ms on half the handlers' cache path"})


@pytest.mark.claim("cache-write-around")
def test_write_around_serves_a_write_only_after_a_miss(sdconform: Case) -> None:
    """"Subsequent reads might experience cache misses until the data is fetched again":
    writes go to PostgreSQL only, reads through Redis (TTL). A cache hit on a written value
    must follow a miss that fetched it; a hit on a value no fill had begun to fetch refutes
    it. Meanwhile the old cached value is served (counted: the stale case the claim leaves
    out)."""
    cluster = sdconform.start(cb.Topology(), shared=True)
    sdconform.run(Register(keys=3, read_ratio=0.8, prefix="around:"),
                  handlers(cluster.info, "around", TTL_S), checkers=staleness(),
                  judge=cb.WriteAround(),
                  config={"pattern": "write-around", "ttl_s": TTL_S})


@pytest.mark.claim("cache-write-back-loss")
def test_write_back_loses_what_was_not_yet_flushed(sdconform: Case) -> None:
    """"A potential risk of data loss ... before the changes are flushed": writes are
    acknowledged once in Redis (no persistence) and its outbox; the flusher node copies the
    outbox to PostgreSQL every second. Redis is killed: acknowledged writes must be lost, and
    only those acknowledged within the flush window before the kill (the longest gap between
    the flusher's reads of the outbox plus its longest flush, as it measured them)."""
    cluster = sdconform.start(cb.Topology(flusher="items", flush_interval_s=FLUSH_S))
    sdconform.run(FreshKeys(read_ratio=0.0, prefix="wb:"), handlers(cluster.info, "back"),
                  [cluster.kill(["cache"])], checkers=[],
                  judge=cb.FlushLoss(lambda history: cb.flush_window(cluster)),
                  run=KILL_RUN,
                  config={"pattern": "write-back (ack from Redis, flushed by the flusher)",
                          "flush_interval_s": FLUSH_S, "fault": "kill Redis"})


ORDER_LOSS = acked_before_every_window("write")


@pytest.mark.claim("stock-redis-then-postgres")
def test_orders_acked_after_both_stores_are_never_lost(sdconform: Case) -> None:
    """"No loss of messages" with orders executed in Redis and persisted to PostgreSQL in
    parallel, acknowledged once both are done: Redis and PostgreSQL are each killed in turn;
    every acknowledged order must be in PostgreSQL at the end."""
    cluster = sdconform.start(cb.Topology(), shared=True)
    kills = InTurn([cluster.kill(["cache"]), cluster.kill(["db"])], name="kill")
    sdconform.run(FreshKeys(read_ratio=0.0, prefix="ord:"), handlers(cluster.info, "order-sync"),
                  [kills], checkers=[LostWritesChecker(fs=("write",))],
                  judge=Checkers(["lost-writes"], ORDER_LOSS, ORDER_LOSS.__doc__ or ""),
                  run=RunConfig(quiet=1.0, fault_duration=1.5, settle=2.0, op_delay=0.005,
                                duration=6.0),
                  config={"ack": "after Redis and the PostgreSQL commit (in parallel)"})


@pytest.mark.claim("stock-redis-then-postgres", config="async-persist")
def test_orders_acked_from_redis_and_persisted_behind_are_lost(sdconform: Case) -> None:
    """The design as written: orders acknowledged once executed in Redis, persisted to
    PostgreSQL in parallel by the flusher (every 0.2 s). Redis (no persistence) is killed:
    the orders not yet persisted are gone, contradicting "no loss of messages"."""
    cluster = sdconform.start(cb.Topology(flusher="orders", flush_interval_s=0.2))
    sdconform.run(FreshKeys(read_ratio=0.0, prefix="orda:"),
                  handlers(cluster.info, "order-async"), [cluster.kill(["cache"])],
                  checkers=[LostWritesChecker(fs=("write",))],
                  judge=Checkers(["lost-writes"], ORDER_LOSS, ORDER_LOSS.__doc__ or ""),
                  run=KILL_RUN,
                  config={"ack": "after Redis", "persistence": "flusher every 0.2 s"})

