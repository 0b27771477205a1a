"""PostgreSQL claims (claims.md §2) against real PostgreSQL 15 primaries and standbys.

Run: ``pytest --sdconform suites/postgres``. Failover is done as an HA manager would do it at
once (kill the primary, ``pg_promote()`` the standby): the RTO measured is what a client sees
of that, without an HA manager's detection time. Clients that write name both nodes with
``target_session_attrs=read-write`` (libpq's single endpoint for a failover pair).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

import pytest

from pytest_sdconform.backends import postgres as pg
from pytest_sdconform.backends.postgres import PgInfo
from pytest_sdconform.backends.postgres.judges import (
    DowntimeWithinDetection,
    FailoverResumes,
    LossWithinLag,
    NoDowntimeNoLoss,
    NoOversell,
    RedoNotFlush,
    RestoredToTarget,
    RpoWithinLag,
    StaleThenConverged,
    UniqueIds,
    writes_during_lag,
)
from pytest_sdconform.backends.postgres.workloads import Bookings, Tickets
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.judge import ExerciseRule, Judge, acked_before_every_window
from pytest_sdconform.checkers.spof import WhileDown
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.faults.latency import Latency, RoundTrip
from pytest_sdconform.faults.partition import Partition, isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd
from pytest_sdconform.workloads.txn import ListAppend

pytestmark = pytest.mark.backend("postgres")

FAILOVER_RUN = RunConfig(duration=8.0, quiet=2.5, fault_duration=4.0, op_timeout=3.0,
                         settle=1.0)
CLIENT_TIMEOUT = 1.0  # each client's statement timeout (its connect timeout: pg.connect_timeout)


def start(sdconform: Case, topology: pg.Topology, power_loss: bool = False
          ) -> Cluster[PgInfo]:
    cluster = sdconform.start(topology, power_loss=power_loss)
    sdconform.config["startup_s"] = cluster.started_s  # measured start-up time
    return cluster


def pair(sdconform: Case, sync: bool = False,
         settings: pg.Settings | None = None) -> tuple[Cluster[PgInfo], str, str]:
    cluster = start(sdconform, pg.Topology(standby=True, sync=sync,
                                           settings=settings or pg.Settings()))
    a = cluster.info.addresses
    return cluster, a["n1"], a["n2"]


def cut_standby(sdconform: Case, cluster: Cluster[PgInfo]) -> Partition:
    return sdconform.fault(lambda: cluster.partition(cuts=[isolate(["n1", "n2"], "n2")]))


# --- reads from a standby --------------------------------------------------------------------


@pytest.mark.claim("rds-read-replicas-async")
def test_async_standby_reads_break_read_your_writes(sdconform: Case) -> None:
    """Writes on the primary, reads on an asynchronous standby, no fault: the standby replays
    the WAL after the commit returned, so a client misses its own writes there. (With a cut
    standby the violations showed long before the cut: the lag alone makes them, and a fault
    would only take the credit.)"""
    _, primary, standby = pair(sdconform)
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        lambda i: pg.PgClient([primary], [standby], timeout=CLIENT_TIMEOUT),
        decide_by=["sessions"],
        config={"reads": "standby", "writes": "primary", "faults": "none (replication lag)"},
    )


class BothEndsRegister(Register):
    """Final reads of every key from the standby and from the primary (value ``"primary"``)."""

    def final_ops(self) -> list[Invocation]:
        keys = [f"{self.prefix}{i}" for i in range(self.keys)]
        return [Invocation("read", k) for k in keys] + [
            Invocation("read", k, "primary") for k in keys
        ]


@pytest.mark.claim("pg-async-stale")
def test_an_async_standby_lags_then_converges(sdconform: Case) -> None:
    cluster, primary, standby = pair(sdconform)
    sdconform.run(
        BothEndsRegister(keys=2, read_ratio=0.6),
        lambda i: pg.PgClient([primary], [standby], timeout=CLIENT_TIMEOUT),
        [cut_standby(sdconform, cluster)],
        judge=StaleThenConverged(),
        # settle: the longest a standby takes to find its primary again after a cut: both
        # ends time the link out, then the standby retries (PostgreSQL's settings,
        # pg.reconnect_s).
        run=RunConfig(quiet=1.0, fault_duration=3.0, settle=pg.reconnect_s()),
        converged=lambda: pg.caught_up(cluster),
        config={"reads": "standby", "writes": "primary"},
    )


def mixed_readers(primary: str, standby: str) -> Callable[[int], pg.PgClient]:
    order = itertools.cycle([[standby], [primary]])

    def client(i: int) -> pg.PgClient:
        return pg.PgClient([primary], next(order), timeout=CLIENT_TIMEOUT)

    return client


@pytest.mark.claim("pg-sync-read-any-replica")
def test_sync_on_standby_reads_are_stale_while_replay_lags(sdconform: Case) -> None:
    """synchronous_commit = on waits for the standby to flush the WAL, not to replay it:
    with replay behind (paused here), the standby answers with the old value."""
    cluster, primary, standby = pair(sdconform, sync=True)
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        mixed_readers(primary, standby),
        [pg.ReplayPause(cluster)],
        decide_by=["linearizable", "sessions"],
        run=RunConfig(quiet=1.0, fault_duration=3.0),
        config={"reads": "primary and standby", "standby": "replay paused"},
    )


@pytest.mark.claim("pg-sync-consistent-writes")
def test_remote_apply_keeps_read_your_writes_on_the_standby(sdconform: Case) -> None:
    """synchronous_commit = remote_apply: a commit returns once the standby replayed it, so a
    session reads its own writes there; while replay is paused, commits wait instead."""
    cluster, primary, standby = pair(
        sdconform, sync=True, settings=pg.Settings(synchronous_commit="remote_apply")
    )
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        lambda i: pg.PgClient([primary], [standby], timeout=CLIENT_TIMEOUT),
        [pg.ReplayPause(cluster)],
        decide_by=["sessions"],
        run=RunConfig(quiet=1.0, fault_duration=3.0, op_timeout=1.5),
        config={"reads": "standby", "writes": "primary", "standby": "replay paused"},
    )


# --- durability --------------------------------------------------------------------------------


def crash_case(sdconform: Case, settings: pg.Settings) -> None:
    """Adds on one primary, SIGKILL of every server process, restart on the same data
    (recovery from the WAL), a final read: acknowledged adds before every crash, and a final
    read that could show their loss (acked_before_every_window)."""
    cluster = start(sdconform, pg.Topology(settings=settings))
    primary = cluster.info.addresses["n1"]
    sdconform.run(
        SetAdd(),
        lambda i: pg.PgClient([primary], timeout=CLIENT_TIMEOUT),
        [cluster.kill(["n1"])],  # the whole process tree: the nodes' kill_tree
        decide_by=["lost-writes"],
        exercise=acked_before_every_window("add", "kill"),
        run=RunConfig(fault_duration=1.0, quiet=1.5),
        config={"crash": "process kill (SIGKILL)"},
    )


@pytest.mark.claim("pg-commit-durable")
def test_committed_rows_survive_a_crash(sdconform: Case) -> None:
    """fsync on, synchronous_commit on: SIGKILL of every server process, restart, recovery from
    the WAL. (A process kill keeps the OS page cache; power loss is the case below.)"""
    crash_case(sdconform, pg.Settings())


POWER_RUN = RunConfig(fault_duration=1.0, quiet=1.5)


def power_loss_case(sdconform: Case, settings: pg.Settings, run: RunConfig = POWER_RUN) -> None:
    """As crash_case, but the primary loses power: killed, and what it wrote without fsync
    (WAL, data pages, the control file) dropped before it restarts."""
    cluster = start(sdconform, pg.Topology(settings=settings), power_loss=True)
    primary = cluster.info.addresses["n1"]
    cut = sdconform.fault(lambda: cluster.power_loss(["n1"]))
    sdconform.run(
        SetAdd(),
        lambda i: pg.PgClient([primary], timeout=CLIENT_TIMEOUT),
        [cut],
        decide_by=["lost-writes"],
        exercise=acked_before_every_window("add", "power-loss"),
        run=run,
        config={"crash": "power loss (unsynced writes dropped)"},
    )


@pytest.mark.claim("pg-commit-durable", config="power-loss")
def test_committed_rows_survive_a_power_loss(sdconform: Case) -> None:
    """fsync on, synchronous_commit on: a commit returns once its WAL is fsynced, so a power
    loss (the page cache gone with it) keeps every acknowledged row; recovery redoes the WAL."""
    power_loss_case(sdconform, pg.Settings())


@pytest.mark.claim("pg-commit-durable", config="fsync-off-power-loss")
def test_fsync_off_loses_committed_rows_on_a_power_loss(sdconform: Case) -> None:
    """fsync off: nothing is ever forced to disk. Safe for a process kill (the page cache
    stays), not for a power loss: committed rows go with the cache. One cut only: after it,
    the server's lock file (postmaster.pid, written at start-up and, with fsync off, never
    fsynced) is only in the page cache, and a second cut leaves it empty: PostgreSQL then
    refuses to start ("lock file is empty"), a further way fsync off fails, not judged here."""
    power_loss_case(sdconform, pg.Settings(fsync=False),
                    replace(POWER_RUN, duration=POWER_RUN.quiet + POWER_RUN.fault_duration + 1))


@pytest.mark.claim("pg-recovery-dirty-pages")
def test_a_power_cut_drops_dirty_pages_and_recovery_redoes_the_wal(sdconform: Case) -> None:
    """"On restart, the OS flushes all remaining dirty pages": with a small buffer pool
    (shared_buffers = 128kB) PostgreSQL writes data pages to the OS as it evicts them, and
    fsyncs them only at a checkpoint. The primary loses power once; the heap file is read
    when the server is dead (the page cache) and after the cut (the disk): the cut drops the
    rows the page cache held, and yet every acknowledged add is back after the restart, redone
    from the WAL (fsynced at each commit). The claim's mechanism is wrong; durability holds."""
    settings = pg.Settings(extra=("shared_buffers=128kB",))
    cluster = start(sdconform, pg.Topology(settings=settings), power_loss=True)
    primary = cluster.info.addresses["n1"]
    with pg.connect(primary, timeout=5) as conn:
        relation = str(conn.execute("SELECT pg_relation_filepath('sets')").fetchone()[0])
    cut = sdconform.fault(lambda: pg.InspectedPowerLoss(cluster, relation))
    sdconform.run(
        SetAdd(),
        lambda i: pg.PgClient([primary], timeout=CLIENT_TIMEOUT),
        [cut],
        judge=RedoNotFlush(),
        config={"crash": "power loss (unsynced writes dropped), heap file read either side",
                "relation": relation},
        run=replace(POWER_RUN, duration=POWER_RUN.quiet + POWER_RUN.fault_duration + 1),
    )


@pytest.mark.claim("pg-wal-before-ack")
def test_synchronous_commit_on_writes_the_wal_before_the_ack(sdconform: Case) -> None:
    """synchronous_commit = on (the default), fsync on: COMMIT returns once its WAL is flushed,
    so a crash right after any acknowledgement loses none of them."""
    crash_case(sdconform, pg.Settings(synchronous_commit="on"))


@pytest.mark.claim("pg-wal-before-ack", config="synchronous-commit-off")
def test_synchronous_commit_off_acknowledges_before_the_wal_is_written(sdconform: Case) -> None:
    """synchronous_commit = off: COMMIT returns before its WAL leaves the server's buffers
    (the WAL writer writes them every wal_writer_delay), so a crash loses acknowledged rows."""
    crash_case(sdconform, pg.Settings(synchronous_commit="off", wal_writer_delay_ms=5000))


# --- failover ----------------------------------------------------------------------------------


def writers(*nodes: str, cancel_after: float | None = None) -> Callable[[int], pg.PgClient]:
    return lambda i: pg.PgClient(list(nodes), timeout=CLIENT_TIMEOUT, cancel_after=cancel_after)


def failover(
    sdconform: Case,
    config: dict[str, Any],
    *,
    sync: bool = False,
    lag_s: float = 0.0,
    promote: Literal["at-once", "at-heal"] = "at-once",
    cancel_after: float | None = None,
    decide_by: Sequence[str] = (),
    exercise: ExerciseRule | None = None,
    judge: Judge | None = None,
    run: RunConfig = FAILOVER_RUN,
) -> None:
    """A primary + standby pair, writers that follow the primary, and one failover (after
    ``lag_s`` of the standby cut off from the primary)."""
    cluster, primary, standby = pair(sdconform, sync=sync)
    sdconform.run(
        SetAdd(),
        writers(primary, standby, cancel_after=cancel_after),
        [sdconform.fault(lambda: pg.Failover(cluster, lag_s=lag_s, promote=promote))],
        decide_by=decide_by,
        exercise=exercise,
        judge=judge,
        config=config,
        run=run,
    )


def resumes() -> FailoverResumes:
    """Writes back on the promoted standby within the promotion (measured) plus what a client
    needs to notice and reconnect: the runner's op_timeout and the client's connect_timeout."""
    bound = FAILOVER_RUN.op_timeout + pg.connect_timeout(CLIENT_TIMEOUT)
    return FailoverResumes(client_bound_s=bound)


@pytest.mark.claim("pg-2safe-replication")
def test_async_failover_loses_acknowledged_commits(sdconform: Case) -> None:
    """The default (asynchronous) standby falls behind (cut for 1.5 s), the primary dies, the
    standby is promoted: what the primary acknowledged meanwhile is gone."""
    failover(
        sdconform,
        {"replication": "asynchronous"},
        lag_s=1.5,
        decide_by=["lost-writes"],
        exercise=writes_during_lag(),
    )


@pytest.mark.claim("pg-2safe-replication", config="synchronous-standby")
def test_sync_failover_keeps_acknowledged_commits(sdconform: Case) -> None:
    """synchronous_standby_names = '*': while the standby is cut, commits wait (clients time
    out: unknown outcome, not acknowledged); after the failover no acknowledged one is lost."""
    failover(
        sdconform,
        {"replication": "synchronous"},
        sync=True,
        lag_s=1.5,
        decide_by=["lost-writes"],
        exercise=writes_during_lag(),
    )


@pytest.mark.claim("pg-sync-consistent-writes", config="client-cancels-commit-wait")
def test_a_cancelled_synchronous_commit_is_acknowledged_and_then_lost(sdconform: Case) -> None:
    """A client with a query timeout (cancel after 1 s, as JDBC's setQueryTimeout does) cancels
    a commit that waits for a cut synchronous standby: PostgreSQL answers success with a
    WARNING (the commit is already local), the client counts it acknowledged, and the
    failover to the standby loses it."""
    failover(
        sdconform,
        {"replication": "synchronous", "client_cancel_after_s": 1.0},
        sync=True,
        lag_s=2.5,
        cancel_after=1.0,
        decide_by=["lost-writes"],
        exercise=writes_during_lag(),
    )


@pytest.mark.claim("pg-async-promote-loss")
def test_promoting_a_lagging_async_standby_loses_the_lag(sdconform: Case) -> None:
    failover(
        sdconform,
        {"replication": "asynchronous"},
        lag_s=1.5,
        judge=LossWithinLag(),
    )


@pytest.mark.claim("pg-sync-immediate-failover")
def test_a_sync_standby_can_be_promoted_at_once_without_loss(sdconform: Case) -> None:
    failover(sdconform, {"replication": "synchronous"}, sync=True, judge=resumes())


@pytest.mark.claim("rds-multiaz-failover")
def test_writes_resume_through_one_endpoint_after_failover(sdconform: Case) -> None:
    """One endpoint (libpq host list + target_session_attrs=read-write), a synchronous standby:
    after the primary dies and the standby is promoted, writes resume with nothing lost."""
    failover(
        sdconform,
        {"endpoint": "libpq host list, target_session_attrs=read-write"},
        sync=True,
        judge=resumes(),
    )


@pytest.mark.claim("pg-multi-az-prevents-loss")
def test_a_standby_elsewhere_does_not_prevent_downtime(sdconform: Case) -> None:
    """Even with a synchronous standby (no loss), a failover is downtime for clients."""
    failover(
        sdconform,
        {"replication": "synchronous"},
        sync=True,
        judge=NoDowntimeNoLoss(),
    )


@pytest.mark.claim("pg-single-leader-failover-lag")
def test_no_write_succeeds_until_a_standby_is_promoted(sdconform: Case) -> None:
    """Single leader: from the primary's death until the standby's promotion no write
    succeeds. The failover window is that span (an HA manager's detection time: the fault's
    duration, then the promotion at the heal, proven to find the standby still in recovery);
    a write acknowledged inside it (an opaque, multi-leader failover) refutes. The time to the
    first write after the promotion is the case's RTO metric."""
    failover(
        sdconform,
        {"replication": "asynchronous", "detection_s": 3.0},
        promote="at-heal",
        judge=WhileDown("unavailable", "failover", "the primary (no standby promoted yet)"),
        run=replace(FAILOVER_RUN, fault_duration=3.0),
    )


# --- isolation -----------------------------------------------------------------------------------

TXN_RUN = RunConfig(concurrency=10, op_timeout=3.0)


@pytest.mark.claim("pg-isolation-serializable")
@pytest.mark.parametrize("level", ["read-committed", "repeatable-read", "serializable"])
def test_each_isolation_level_forbids_its_anomalies(sdconform: Case, level: str) -> None:
    """List-append transactions at ``level`` from 10 clients over 4 keys, checked against what
    that level forbids (read committed: G0, G1; repeatable read: also G-single; serializable:
    every cycle). The lower levels' allowed anomalies are reported, not held against them."""
    cluster = start(sdconform, pg.Topology(settings=pg.Settings(fsync=False)))
    primary = cluster.info.addresses["n1"]
    sdconform.run(
        ListAppend(keys=4, level=level),
        lambda i: pg.PgClient([primary], timeout=2.0, isolation=level),
        decide_by=["txn"],
        config={"isolation": level, "checked_at": level},
        run=TXN_RUN,
    )


@pytest.mark.claim("pg-acid-strong")
def test_read_committed_transactions_are_not_serializable(sdconform: Case) -> None:
    """PostgreSQL's default, READ COMMITTED, checked against serializability."""
    cluster = start(sdconform, pg.Topology(settings=pg.Settings(fsync=False)))
    primary = cluster.info.addresses["n1"]
    sdconform.run(
        ListAppend(keys=4, level="serializable"),
        lambda i: pg.PgClient([primary], timeout=2.0, isolation="read-committed"),
        decide_by=["txn"],
        config={"isolation": "read-committed", "checked_at": "serializable"},
        run=TXN_RUN,
    )


@pytest.mark.claim("pg-isolation-serializable", config="repeatable-read")
def test_repeatable_read_allows_write_skew(sdconform: Case) -> None:
    """REPEATABLE READ (snapshot isolation in PostgreSQL) checked against serializability:
    two transactions that each read what the other appends to both commit (G2)."""
    cluster = start(sdconform, pg.Topology(settings=pg.Settings(fsync=False)))
    primary = cluster.info.addresses["n1"]
    sdconform.run(
        ListAppend(keys=4, level="serializable"),
        lambda i: pg.PgClient([primary], timeout=2.0, isolation="repeatable-read"),
        decide_by=["txn"],
        config={"isolation": "repeatable-read", "checked_at": "serializable"},
        run=TXN_RUN,
    )


# --- replica promotion and downtime (RDS, Aurora) ------------------------------------------------


@pytest.mark.claim("aurora-replica-promotion")
def test_a_promoted_sync_standby_takes_the_writes_and_loses_none(sdconform: Case) -> None:
    """The writer dies, its synchronous standby is promoted: writes resume on it within the
    promotion (measured) plus a client's reconnect, and no acknowledged write is lost, as
    Aurora's shared storage promises (a synchronous standby is the stand-in that matches)."""
    failover(sdconform, {"replication": "synchronous"}, sync=True, judge=resumes())


@pytest.mark.claim("aurora-replica-promotion", config="async-standby")
def test_a_promoted_async_standby_takes_the_writes_but_loses_its_lag(sdconform: Case) -> None:
    """The same with an asynchronous standby cut off for 1.5 s before the writer dies: writes
    resume on it, but what the writer acknowledged meanwhile is gone."""
    failover(sdconform, {"replication": "asynchronous"}, lag_s=1.5, judge=resumes())


DETECTION_S = 3.0  # the HA manager's detection time: the at-heal failover's duration


@pytest.mark.claim("rds-failover-small-downtime")
def test_failover_downtime_is_detection_promotion_and_reconnect(sdconform: Case) -> None:
    """"Small downtime" has no figure: the downtime clients see (the primary's death to the
    first acknowledged write on the promoted standby) is measured and reported, and held to
    the failover's own span (detection, then promotion, measured) plus the clients' own
    timeouts to notice the dead connection and reconnect (op_timeout + connect_timeout)."""
    bound = FAILOVER_RUN.op_timeout + pg.connect_timeout(CLIENT_TIMEOUT)
    failover(
        sdconform,
        {"replication": "synchronous", "detection_s": DETECTION_S,
         "client_reconnect_bound_s": bound},
        sync=True,
        promote="at-heal",
        judge=DowntimeWithinDetection(client_bound_s=bound),
        run=replace(FAILOVER_RUN, fault_duration=DETECTION_S),
    )


LINK_DELAY_MS = 300  # the secondary region's link: WAL reaches the standby this much later


@pytest.mark.claim("aurora-global-db")
def test_losing_the_primary_region_loses_the_secondarys_lag(sdconform: Case) -> None:
    """A secondary region: an asynchronous standby streaming through a proxy whose downstream
    is delayed by LINK_DELAY_MS (proven by a timed SSLRequest round trip). After 1.5 s of
    writes over the slow link the primary's region is lost (primary killed, link gone) and
    the standby promoted: what is lost is the tail the standby had not received, no more
    (RPO within the lag at the death). RPO, lag and RTO are measured and reported; Aurora's
    own figures (1 s, 1 minute) are not this stand-in's to judge."""
    cluster, primary, standby = pair(sdconform)
    proxies = cluster.toxiproxy()
    link = proxies.proxy("wal", f"{primary}:{pg.PORT}")
    sdconform.fault(lambda: pg.stream_through(cluster, link.host, link.port))
    delay = Latency(proxies.client, [link], ms=LINK_DELAY_MS,
                    probe=RoundTrip(payload=pg.SSL_REQUEST, timeout=3))
    sdconform.run(
        SetAdd(),
        writers(primary, standby),
        [sdconform.fault(lambda: pg.RegionLoss(cluster, delay, link.name, lag_s=1.5))],
        judge=RpoWithinLag(),
        config={"secondary": "asynchronous standby behind a delayed link",
                "link_delay_ms": LINK_DELAY_MS},
        run=FAILOVER_RUN,
    )


# --- applications: ticket servers, bookings -----------------------------------------------------


def ticket_server(sdconform: Case, sync: bool, how: str) -> tuple[Cluster[PgInfo], str, str]:
    """The odd ticket server on a primary + standby pair: a counter row starting at -1 bumped
    by 2 (``table``), or a sequence INCREMENT 2 START 1 (``sequence``). Its even twin is
    another machine that fails on its own: it cannot hand out an odd ID, which the judge
    checks by parity, so one server's failover is the case."""
    cluster, primary, standby = pair(sdconform, sync=sync)
    with pg.connect(primary, timeout=5) as conn:
        if how == "sequence":
            conn.execute("CREATE SEQUENCE tickets INCREMENT 2 START 1")
        else:
            conn.execute("CREATE TABLE tickets (id bigint NOT NULL)")
            conn.execute("INSERT INTO tickets VALUES (-1)")
    return cluster, primary, standby


def ticket_failover(sdconform: Case, sync: bool, how: str = "table") -> None:
    """Clients take IDs from the odd ticket server; its standby is cut off for 1.5 s, then
    its primary dies and the standby is promoted."""
    cluster, primary, standby = ticket_server(sdconform, sync, how)
    sdconform.run(
        Tickets(servers=("odd",)),
        lambda i: pg.TicketClient({"odd": [primary, standby]}, how, timeout=CLIENT_TIMEOUT),
        [sdconform.fault(lambda: pg.Failover(cluster, lag_s=1.5))],
        judge=UniqueIds(server="odd"),
        config={"ticket_servers": "odd, failing over (its even twin is another machine)",
                "ticket": how, "replication": "synchronous" if sync else "asynchronous"},
        run=FAILOVER_RUN,
    )


@pytest.mark.claim("pg-global-counter-unique")
def test_ticket_ids_stay_unique_through_a_sync_failover(sdconform: Case) -> None:
    """A counter row bumped in a write transaction, on a ticket server whose primary dies and
    whose synchronous standby is promoted: each bump's commit waited for the standby, so the
    counter is not reset and no acknowledged ID is handed out again."""
    ticket_failover(sdconform, sync=True)


@pytest.mark.claim("pg-global-counter-unique", config="async-standby")
def test_ticket_ids_repeat_after_an_async_failover(sdconform: Case) -> None:
    """The same with an asynchronous standby: the bumps the primary acknowledged while the
    standby was cut off never reached it, and once promoted it hands those IDs out again."""
    ticket_failover(sdconform, sync=False)


@pytest.mark.claim("pg-global-counter-unique", config="sequence-sync-standby")
def test_sequence_ids_repeat_even_after_a_sync_failover(sdconform: Case) -> None:
    """A sequence (``SELECT nextval``) instead of the counter row, synchronous standby:
    nextval WAL-logs the sequence 32 values ahead, and the calls served from that range write
    no WAL, so they return at once, even while the call that logged the range still waits for
    the cut-off standby. The standby never got that record: once promoted, it hands those IDs
    out again."""
    ticket_failover(sdconform, sync=True, how="sequence")


ROOM_CAPACITY = 2
THINK_S = 0.005  # the booking service's work between its check and its insert
BOOKING_RUN = RunConfig(concurrency=10, op_timeout=3.0)


def bookings(sdconform: Case, isolation: str) -> None:
    """Ten clients book rooms of ``ROOM_CAPACITY`` places, a few rooms at a time, each booking
    a check (count the room's bookings) then an insert in one transaction at ``isolation``."""
    cluster = start(sdconform, pg.Topology(settings=pg.Settings(fsync=False)))
    primary = cluster.info.addresses["n1"]
    with pg.connect(primary, timeout=5) as conn:
        conn.execute("CREATE TABLE bookings (room int NOT NULL, id bigint PRIMARY KEY)")
        conn.execute("CREATE INDEX ON bookings (room)")
    sdconform.run(
        Bookings(),
        lambda i: pg.BookingClient([primary], ROOM_CAPACITY, isolation, timeout=2.0,
                                   think_s=THINK_S),
        judge=NoOversell(ROOM_CAPACITY),
        config={"isolation": isolation, "booking": "check-then-insert",
                "capacity": ROOM_CAPACITY, "think_s": THINK_S},
        run=BOOKING_RUN,
    )


@pytest.mark.claim("pg-bookings-strong")
def test_serializable_bookings_never_oversell(sdconform: Case) -> None:
    """SERIALIZABLE: of two bookings that both saw a free place, one fails to commit (a
    serialization failure), so no room gets more than its capacity."""
    bookings(sdconform, "serializable")


@pytest.mark.claim("pg-bookings-strong", config="read-committed-check-then-insert")
def test_read_committed_check_then_insert_oversells(sdconform: Case) -> None:
    """READ COMMITTED: both bookings see the free place and both commit."""
    bookings(sdconform, "read-committed")


# --- point-in-time recovery ----------------------------------------------------------------------


@pytest.mark.claim("rds-pitr-5min")
def test_a_point_in_time_restore_holds_exactly_the_history_up_to_its_target(
        sdconform: Case) -> None:
    """The primary archives every WAL segment (archive_command copies it to a folder); the
    base backup is a standby stopped before the run. Mid-run the target time is taken from
    the primary's clock; at the heal the archive is brought up to date and the backup is
    restored to the target (recovery_target_time) and promoted. The final read, from the
    restored node, holds every add acknowledged before the target and none made after it.
    (archive_timeout, RDS's "every 5 minutes", bounds what a lost primary loses; here the
    primary lives and the restore switches segments first: what is judged is the restore.)"""
    settings = pg.Settings(extra=pg.ARCHIVING)
    cluster, primary, backup = pair(sdconform, settings=settings)
    cluster.node("n2").stop()  # a base backup: the standby's data, frozen before the run
    restore = sdconform.fault(lambda: pg.PointInTimeRestore(cluster))
    sdconform.run(
        SetAdd(),
        lambda i: pg.PgClient([primary], [backup], timeout=CLIENT_TIMEOUT),
        [restore],
        judge=RestoredToTarget(),
        config={"backup": "base backup (a stopped standby) + archived WAL",
                "restore": "recovery_target_time, then promote"},
        run=RunConfig(quiet=2.0, fault_duration=2.0, op_timeout=3.0),
    )
