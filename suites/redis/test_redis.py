"""Redis claims (claims.md §6) against real redis-server and redis-sentinel processes.

Run: ``pytest --sdconform suites/redis``. Each test names its claim; where a claim holds only
under some configuration, the test says which and what it expects there.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest

from pytest_sdconform.backends import redis as rb
from pytest_sdconform.backends.redis import RedisInfo
from pytest_sdconform.backends.redis.judges import (
    DeposedPrimaryLoss,
    MissedOwnWritesWhileCut,
    ReplicaReadsAndFailover,
    rdb_snapshots,
)
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.judge import Judge, acked_before_every_window
from pytest_sdconform.checkers.loss_window import LossWindow
from pytest_sdconform.checkers.prefix import PrefixSurvives
from pytest_sdconform.checkers.recovery import Resumes
from pytest_sdconform.checkers.sessions import SessionsChecker
from pytest_sdconform.checkers.spof import WhileDown
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults.latency import Latency, RoundTrip
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("redis")

RDB_DEFAULT = rb.Persistence(appendonly=False, save="3600 1 300 100 60 10000")
AOF_ALWAYS = rb.Persistence(appendonly=True, appendfsync="always")
# Durability cases: nothing need succeed while the node is down; what counts is that writes
# were acknowledged before every crash and the final read could show their loss.
CRASH_AFTER_ACKS = acked_before_every_window("add", "kill")
CRASH_RUN = RunConfig(fault_duration=1.0, quiet=1.5)


def fixed(address: str) -> Callable[[], str]:
    return lambda: address


@pytest.mark.claim("redis-single-threaded")
def test_single_node_is_linearizable_under_client_latency(sdconform: Case) -> None:
    cluster = sdconform.start(rb.Topology())
    primary = cluster.info.addresses["n1"]
    proxies = cluster.toxiproxy()
    proxy = proxies.proxy("redis", f"{primary}:{rb.PORT}")
    latency = Latency(proxies.client, [proxy], ms=50, jitter_ms=20,
                      probe=RoundTrip(payload=b"PING\r\n", timeout=3))
    through = fixed(proxy.host)

    def client(i: int) -> rb.RedisClient:
        return rb.RedisClient(through, through, timeout=1.0, port=proxy.port)

    sdconform.run(Register(keys=2), client, [latency], decide_by=["linearizable"],
                  config={"path": "client -> toxiproxy -> redis"})


@pytest.mark.claim("redis-single-instance-spof")
def test_a_single_instance_is_a_single_point_of_failure(sdconform: Case) -> None:
    cluster = sdconform.start(rb.Topology())
    primary = fixed(cluster.info.addresses["n1"])
    sdconform.run(Register(keys=2), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], judge=WhileDown("unavailable", "kill", "the only node"),
                  checkers=[], run=RunConfig(fault_duration=2.0, quiet=1.0))


@pytest.mark.claim("redis-persistence-no-loss")
def test_rdb_snapshots_lose_acknowledged_writes_on_a_crash(sdconform: Case) -> None:
    """Redis's default persistence (RDB snapshots): a kill loses what came after the last one."""
    cluster = sdconform.start(rb.Topology(persistence=RDB_DEFAULT))
    primary = fixed(cluster.info.addresses["n1"])
    sdconform.run(SetAdd(), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], exercise=CRASH_AFTER_ACKS, run=CRASH_RUN)


@pytest.mark.claim("redis-persistence-no-loss", config="appendfsync-always")
def test_aof_always_keeps_acknowledged_writes_through_a_crash(sdconform: Case) -> None:
    """appendfsync always: each write is on disk before it is acknowledged. (A kill is a
    process crash; power loss, which also drops the page cache, is the case below.)"""
    cluster = sdconform.start(rb.Topology(persistence=AOF_ALWAYS))
    primary = fixed(cluster.info.addresses["n1"])
    sdconform.run(SetAdd(), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], exercise=CRASH_AFTER_ACKS, run=CRASH_RUN)


@pytest.mark.claim("redis-aof-last-command", config="appendfsync-always")
def test_aof_always_recovers_up_to_the_last_command_after_a_process_kill(sdconform: Case
                                                                          ) -> None:
    """"Recovers data up to the last executed command": with appendfsync always, Redis writes
    and fsyncs the AOF before it replies, so a killed process loses nothing acknowledged.
    (With everysec it does not hold even for a process kill: while a background fsync is
    slow, Redis postpones writing its AOF buffer for up to 2 s and still replies; under load
    a kill lost 86 writes acknowledged 0.4-0.5 s before it. Power loss: the cases below.)"""
    cluster = sdconform.start(rb.Topology(persistence=AOF_ALWAYS))
    primary = fixed(cluster.info.addresses["n1"])
    sdconform.run(SetAdd(), lambda i: rb.RedisClient(primary, primary, timeout=0.5),
                  [cluster.kill()], exercise=CRASH_AFTER_ACKS, run=CRASH_RUN,
                  config={"crash": "process kill (SIGKILL)"})


AOF_EVERYSEC = rb.Persistence(appendonly=True, appendfsync="everysec")
POWER_AFTER_ACKS = acked_before_every_window("add", "power-loss")


def power_loss_case(sdconform: Case, persistence: rb.Persistence, mode: str = "all",
                    judge: Judge | None = None, run: RunConfig = CRASH_RUN) -> None:
    """One Redis on a disk that forgets unsynced writes; its power cut now and then."""
    cluster = sdconform.start(rb.Topology(persistence=persistence), power_loss=True)
    primary = fixed(cluster.info.addresses["n1"])
    cut = sdconform.fault(lambda: cluster.power_loss(mode=mode))
    sdconform.run(SetAdd(), lambda i: rb.RedisClient(primary, primary, timeout=0.5), [cut],
                  judge=judge, exercise=None if judge else POWER_AFTER_ACKS, run=run,
                  config={"crash": f"power loss (unsynced writes dropped: {mode})"})


@pytest.mark.claim("redis-persistence-no-loss", config="appendfsync-always-power-loss")
def test_aof_always_keeps_acknowledged_writes_through_a_power_loss(sdconform: Case) -> None:
    """appendfsync always: Redis fsyncs the AOF before it replies, so what it acknowledged is
    on disk when the power goes, page cache and all."""
    power_loss_case(sdconform, AOF_ALWAYS)


@pytest.mark.claim("redis-persistence-no-loss", config="appendfsync-everysec-power-loss")
def test_aof_everysec_loses_the_last_second_on_a_power_loss(sdconform: Case) -> None:
    """appendfsync everysec: the AOF is written at once (a process kill keeps it, in the page
    cache) but fsynced about once a second; a power loss drops what came since."""
    power_loss_case(sdconform, AOF_EVERYSEC)


@pytest.mark.claim("redis-aof-corruption")
def test_a_torn_aof_tail_is_truncated_on_restart(sdconform: Case) -> None:
    """appendfsync everysec, and a power cut that stops the AOF's writeback at a sector
    boundary inside its unsynced tail (part of a command on disk). With aof-load-truncated yes
    (the default) Redis drops the partial command and starts: what survives must be a prefix
    of what it acknowledged, with no hole and no torn value read back (PrefixSurvives)."""
    power_loss_case(sdconform, AOF_EVERYSEC, mode="torn", judge=PrefixSurvives())


@pytest.mark.claim("redis-rdb-window")
def test_rdb_loses_only_the_writes_after_the_last_snapshot(sdconform: Case) -> None:
    """``save 1 1``: a background save about every second or two while anything changes. A
    kill may lose only what came after the last snapshot that completed before it. Which
    snapshots completed, and which writes each holds, comes from Redis itself: every write
    records ``INFO persistence`` (saves begun, one running, the last one's status), so a slow
    save on a loaded machine only moves the line, never refutes."""
    cluster = sdconform.start(rb.Topology(persistence=rb.Persistence(save="1 1")))
    primary = fixed(cluster.info.addresses["n1"])

    def client(i: int) -> rb.RedisClient:
        return rb.RedisClient(primary, primary, timeout=0.5, persistence_info=True)

    sdconform.run(SetAdd(), client, [cluster.kill()], judge=LossWindow(rdb_snapshots),
                  run=RunConfig(fault_duration=1.0, quiet=3.5))


def replicated(sdconform: Case) -> tuple[Cluster[RedisInfo], str, list[str]]:
    cluster = sdconform.start(rb.Topology(replicas=2))
    addresses = cluster.info.addresses
    replicas = [addresses[n] for n in ("n2", "n3")]
    return cluster, addresses["n1"], replicas


@pytest.mark.claim("redis-ha-replica-failover", config="reads-from-replicas")
def test_replica_reads_miss_own_writes_while_the_replicas_are_cut_off(sdconform: Case) -> None:
    """Reading from replicas "to scale reads": replication is asynchronous, and a replica cut
    off from the primary keeps answering from what it had, so a client that wrote to the
    primary reads its own write back from a replica as missing. Decided by the
    read-your-writes violations inside the cut (MissedOwnWritesWhileCut); those that plain
    replication lag shows now and then outside it are not counted."""
    cluster, primary, replicas = replicated(sdconform)
    cut = sdconform.fault(lambda: cluster.partition(cuts=[isolate(["n1", "n2", "n3"], "n1")]))
    order = itertools.cycle(replicas)

    def client(i: int) -> rb.RedisClient:
        mine = next(order)
        return rb.RedisClient(fixed(primary), fixed(mine), timeout=0.5)

    sdconform.run(Register(keys=1, read_ratio=0.7), client, [cut],
                  checkers=[SessionsChecker()], judge=MissedOwnWritesWhileCut(),
                  run=RunConfig(quiet=1.0, fault_duration=3.0),
                  config={"reads": "replicas", "writes": "primary",
                          "cut": "primary from both replicas"})


@pytest.mark.claim("redis-sticky-primary-ryw")
def test_primary_reads_keep_read_your_writes_while_a_replica_is_cut(sdconform: Case) -> None:
    cluster, primary, _ = replicated(sdconform)
    cut = sdconform.fault(lambda: cluster.partition(
        cuts=[isolate(["n1", "n2", "n3"], "n2"), isolate(["n1", "n2", "n3"], "n3")]))
    sdconform.run(Register(keys=2), lambda i: rb.RedisClient(fixed(primary), fixed(primary)),
                  [cut], decide_by=["sessions", "linearizable"],
                  config={"reads": "primary", "writes": "primary"})


# --- Sentinel --------------------------------------------------------------------------------

# The longest failover Sentinel's settings allow (down-after-milliseconds, then one election
# lost to a split vote and the retry: rb.sentinel_rto_bound_s): the recovery bound of the
# failover cases, and each loss of the primary lasts a second longer,
# so that a failover slowed by a loaded machine still shows inside the window (a window
# shorter than the bound would turn slowness into a refutation). One window per case: the
# next one would come after the run's end.
RTO_S = rb.sentinel_rto_bound_s()
SENTINEL_RUN = RunConfig(duration=17.0, quiet=3.0, fault_duration=RTO_S + 1, settle=30.0,
                         op_timeout=2.0)


def sentinel_clients(cluster: Cluster[RedisInfo], timeout: float = 1.0,
                     read_from: Callable[[int], str] | None = None
                     ) -> Callable[[int], rb.RedisClient]:
    """Sentinel-aware clients: writes (and reads, unless ``read_from(i)`` names a node) go to
    the primary they last heard of."""

    def client(i: int) -> rb.RedisClient:
        router = rb.SentinelRouter(cluster)
        reads = router.primary if read_from is None else fixed(read_from(i))
        return rb.RedisClient(router.primary, reads, timeout=timeout, on_error=router.forget)

    return client


@pytest.mark.claim("redis-sentinel-failover")
def test_sentinel_promotes_a_replica_when_the_primary_dies(sdconform: Case) -> None:
    """Writes resume on a promoted replica while the old primary is down, within
    down-after-milliseconds + failover-timeout."""
    cluster = sdconform.start(rb.Topology(replicas=2, sentinel=True))
    sdconform.run(SetAdd(), sentinel_clients(cluster), [cluster.kill(["n1"])],
                  judge=Resumes("add", "kill", bound_s=RTO_S, other_node=True), checkers=[],
                  converged=lambda: rb.converged(cluster), config={"rto_bound_s": RTO_S},
                  run=SENTINEL_RUN)


@pytest.mark.claim("redis-ha-replica-failover")
def test_replicas_serve_reads_and_take_over_when_the_primary_dies(sdconform: Case) -> None:
    """As documented: replicas answer reads (scaling them), and when the primary is lost one
    is promoted and takes the writes, within Sentinel's bound. Staleness of those reads is
    the other configuration's matter (reads-from-replicas, under a partition)."""
    cluster = sdconform.start(rb.Topology(replicas=2, sentinel=True))
    addresses = cluster.info.addresses
    replicas = [addresses["n2"], addresses["n3"]]
    clients = sentinel_clients(cluster, read_from=lambda i: replicas[i % 2])
    judge = ReplicaReadsAndFailover(Resumes("write", "kill", bound_s=RTO_S, other_node=True))
    sdconform.run(Register(keys=2, read_ratio=0.5), clients, [cluster.kill(["n1"])],
                  judge=judge, checkers=[], converged=lambda: rb.converged(cluster),
                  config={"reads": "replicas", "writes": "sentinel primary",
                          "rto_bound_s": RTO_S}, run=SENTINEL_RUN)


@pytest.mark.claim("elasticache-multiaz")
def test_a_replica_takes_over_when_the_primarys_zone_is_down(sdconform: Case) -> None:
    """As documented: the primary's whole "AZ" goes down (its server and its sentinel both
    killed); the two sentinels left still make a majority, promote a replica, and writes
    resume on it within Sentinel's bound. (Two sentinels that start at once vote for
    themselves: a split vote, retried after 2 x failover-timeout; the bound allows one.)
    The loss that may come with it is the other configuration's matter: the documents do
    not mention it."""
    cluster = sdconform.start(rb.Topology(replicas=2, sentinel=True))
    sdconform.run(SetAdd(), sentinel_clients(cluster), [cluster.kill(["n1", "s1"], count=2)],
                  judge=Resumes("add", "kill", bound_s=RTO_S, other_node=True), checkers=[],
                  converged=lambda: rb.converged(cluster),
                  config={"zone_down": "n1 + s1 killed", "rto_bound_s": RTO_S},
                  run=SENTINEL_RUN)


@pytest.mark.claim("elasticache-multiaz", config="sentinel-async-replication")
def test_a_sentinel_failover_loses_acknowledged_writes(sdconform: Case) -> None:
    """Pause the primary past down-after-milliseconds: a replica is promoted; when the old
    primary wakes it still takes writes from clients that know no better, acknowledges them,
    and drops them when Sentinel turns it into a replica of the new primary."""
    cluster = sdconform.start(rb.Topology(replicas=2, sentinel=True))
    # Clients that wait out a stall (10 s socket timeout, as long as many defaults): a write
    # that sat in the paused primary's socket buffer is acknowledged when it wakes up.
    sdconform.run(SetAdd(), sentinel_clients(cluster, timeout=10.0), [cluster.pause(["n1"])],
                  exercise=acked_before_every_window("add", "pause"),
                  converged=lambda: rb.converged(cluster),
                  config={"replication": "asynchronous", "client_timeout_s": 10},
                  run=replace(SENTINEL_RUN, quiet=2.0, fault_duration=5.0, op_timeout=12.0,
                              duration=20.0))


MAX_LAG_S = 1


@pytest.mark.claim("redis-sentinel-failover", config="min-replicas-to-write")
def test_min_replicas_to_write_refuses_writes_on_a_deposed_primary(sdconform: Case) -> None:
    """With min-replicas-to-write 1 and max-lag 1 s, the old primary refuses writes once its
    replicas are gone. Not at once: the writes that waited in its socket buffers are
    acknowledged the instant it wakes, before its once-a-second replication cron recounts its
    replicas; those are lost. The bound is max-lag plus that second (DeposedPrimaryLoss).

    The pause outlasts Sentinel's failover bound, so that the replica is promoted while the
    primary sleeps (a failover that completed after it woke would depose it while its other
    replica still followed it: another case); clients wait longer than the pause (20 s), so
    the writes sent during it reach the primary when it wakes; the run goes on 4 s after the
    wake, for the writes to move to the promoted replica."""
    cluster = sdconform.start(rb.Topology(replicas=2, sentinel=True, extra=(
        "--min-replicas-to-write", "1", "--min-replicas-max-lag", str(MAX_LAG_S))))
    pause = RTO_S + 1
    sdconform.run(SetAdd(), sentinel_clients(cluster, timeout=pause + 7),
                  [cluster.pause(["n1"])],
                  judge=DeposedPrimaryLoss(MAX_LAG_S, rb.REPLICATION_CRON_S),
                  converged=lambda: rb.converged(cluster),
                  config={"client_timeout_s": pause + 7, "max_lag_s": MAX_LAG_S,
                          "loss_bound_s": rb.deposed_write_bound_s(MAX_LAG_S)},
                  run=replace(SENTINEL_RUN, quiet=5.0, fault_duration=pause,
                              op_timeout=pause + 9, duration=5.0 + pause + 4.0))
