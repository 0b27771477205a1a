"""PostgreSQL claims (claims.md §2) against real PostgreSQL 15 primaries and standbys.

Run: ``pytest --sdconform suites/postgres``. Failover is done as an HA manager would do it at
once (kill the primary, ``pg_promote()`` the standby): the RTO measured is what a client sees
of that, without an HA manager's detection time. Clients that write name both nodes with
``target_session_attrs=read-write`` (libpq's single endpoint for a failover pair).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pytest_sdconform.backends import postgres as pg
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd
from pytest_sdconform.workloads.txn import ListAppend

pytestmark = pytest.mark.backend("postgres")

FAILOVER_RUN = {
    "duration": 8.0,
    "quiet": 2.5,
    "fault_duration": 4.0,
    "op_timeout": 3.0,
    "settle": 1.0,
}


def start(sdconform: Any, topology: pg.Topology) -> Any:
    cluster = sdconform.start(topology)
    sdconform.config["startup_s"] = cluster.info["startup_s"]  # measured start-up time
    return cluster


def pair(sdconform: Any, **kw: Any) -> tuple[Any, str, str]:
    cluster = start(sdconform, pg.Topology(standby=True, **kw))
    a = cluster.info["addresses"]
    return cluster, a["n1"], a["n2"]


def cut_standby(sdconform: Any, cluster: Any) -> Any:
    return sdconform.fault(lambda: cluster.partition(cuts=[isolate(["n1", "n2"], "n2")]))


# --- reads from a standby --------------------------------------------------------------------


@pytest.mark.claim("rds-read-replicas-async")
def test_async_standby_reads_break_read_your_writes(sdconform: Any) -> None:
    cluster, primary, standby = pair(sdconform)
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        lambda i: pg.PgClient([primary], [standby], timeout=1.0),
        [cut_standby(sdconform, cluster)],
        decide_by=["sessions"],
        quiet=1.0,
        fault_duration=3.0,
        config={"reads": "standby", "writes": "primary"},
    )


class BothEndsRegister(Register):
    """Final reads of every key from the standby and from the primary (value ``"primary"``)."""

    def final_ops(self) -> list[Invocation]:
        keys = [f"{self.prefix}{i}" for i in range(self.keys)]
        return [Invocation("read", k) for k in keys] + [
            Invocation("read", k, "primary") for k in keys
        ]


def stale_then_converged(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Upheld when the standby served stale reads while it lagged and, once healed, showed
    what the primary shows."""
    stale = verdicts["sessions"]
    finals: dict[tuple[Any, bool], Any] = {}
    for c in history.complete():
        if c.is_final and c.type == "ok":
            finals[(c.key, c.invoke.value == "primary")] = c.value
    keys = {k for k, _ in finals}
    if not keys or any((k, True) not in finals or (k, False) not in finals for k in keys):
        return INCONCLUSIVE, "a final read failed"
    diverged = [k for k in keys if finals[(k, True)] != finals[(k, False)]]
    if diverged:
        return REFUTED, f"after heal the standby still differs from the primary on {diverged}"
    if stale.result != "invalid":
        return INCONCLUSIVE, "the standby never served a stale read"
    return (
        UPHELD,
        f"{len(stale.anomalies)} stale standby reads while it lagged; after heal it "
        "showed what the primary shows",
    )


@pytest.mark.claim("pg-async-stale")
def test_an_async_standby_lags_then_converges(sdconform: Any) -> None:
    cluster, primary, standby = pair(sdconform)
    sdconform.run(
        BothEndsRegister(keys=2, read_ratio=0.6),
        lambda i: pg.PgClient([primary], [standby], timeout=1.0),
        [cut_standby(sdconform, cluster)],
        judge=stale_then_converged,
        quiet=1.0,
        fault_duration=3.0,
        settle=10.0,
        converged=lambda: pg.caught_up(cluster),
        config={"reads": "standby", "writes": "primary"},
    )


def mixed_readers(primary: str, standby: str) -> Any:
    order = itertools.cycle([[standby], [primary]])

    def client(i: int) -> pg.PgClient:
        return pg.PgClient([primary], next(order), timeout=1.0)

    return client


@pytest.mark.claim("pg-sync-read-any-replica")
def test_sync_on_standby_reads_are_stale_while_replay_lags(sdconform: Any) -> None:
    """synchronous_commit = on waits for the standby to flush the WAL, not to replay it:
    with replay behind (paused here), the standby answers with the old value."""
    cluster, primary, standby = pair(sdconform, sync=True)
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        mixed_readers(primary, standby),
        [pg.ReplayPause(cluster)],
        decide_by=["linearizable", "sessions"],
        quiet=1.0,
        fault_duration=3.0,
        config={"reads": "primary and standby", "standby": "replay paused"},
    )


@pytest.mark.claim("pg-sync-consistent-writes")
def test_remote_apply_keeps_read_your_writes_on_the_standby(sdconform: Any) -> None:
    """synchronous_commit = remote_apply: a commit returns once the standby replayed it, so a
    session reads its own writes there; while replay is paused, commits wait instead."""
    cluster, primary, standby = pair(
        sdconform, sync=True, settings=pg.Settings(synchronous_commit="remote_apply")
    )
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        lambda i: pg.PgClient([primary], [standby], timeout=1.0),
        [pg.ReplayPause(cluster)],
        decide_by=["sessions"],
        quiet=1.0,
        fault_duration=3.0,
        op_timeout=1.5,
        config={"reads": "standby", "writes": "primary", "standby": "replay paused"},
    )


# --- durability --------------------------------------------------------------------------------


@pytest.mark.claim("pg-commit-durable")
def test_committed_rows_survive_a_crash(sdconform: Any) -> None:
    """fsync on, synchronous_commit on: SIGKILL of every server process, restart, recovery from
    the WAL. (A process kill keeps the OS page cache; power loss would need LazyFS.)"""
    cluster = start(sdconform, pg.Topology())
    primary = cluster.info["addresses"]["n1"]
    sdconform.run(
        SetAdd(),
        lambda i: pg.PgClient([primary], timeout=1.0),
        [pg.Crash([cluster.node("n1")])],
        need_overlap=False,
        fault_duration=1.0,
        quiet=1.5,
        config={"crash": "process kill (SIGKILL)"},
    )


@pytest.mark.claim("pg-wal-before-ack", expected="refuted")
def test_synchronous_commit_off_acknowledges_before_the_wal_is_written(sdconform: Any) -> None:
    """synchronous_commit = off: COMMIT returns before its WAL leaves the server's buffers
    (the WAL writer writes them every wal_writer_delay), so a crash loses acknowledged rows."""
    cluster = sdconform.start(
        pg.Topology(settings=pg.Settings(synchronous_commit="off", wal_writer_delay_ms=5000))
    )
    primary = cluster.info["addresses"]["n1"]
    sdconform.run(
        SetAdd(),
        lambda i: pg.PgClient([primary], timeout=1.0),
        [pg.Crash([cluster.node("n1")])],
        need_overlap=False,
        fault_duration=1.0,
        quiet=1.5,
        config={"crash": "process kill (SIGKILL)"},
    )


# --- failover ----------------------------------------------------------------------------------


def writers(*nodes: str, cancel_after: float | None = None) -> Any:
    return lambda i: pg.PgClient(list(nodes), timeout=1.0, cancel_after=cancel_after)


def recovery(history: History) -> tuple[float, str | None]:
    """RTO as clients see it: from the primary's death to the first successful write invoked
    after it (seconds), and the node that write succeeded on."""
    starts = [op for op in history.nemesis_ops() if op.f == "failover-start"]
    if not starts or "since_kill_s" not in (starts[0].value or {}):
        return 0.0, None
    killed = starts[0].time - starts[0].value["since_kill_s"] * 1e9
    after = sorted(
        (c.completion.time, c.completion.node)
        for c in history.complete()
        if c.type == "ok"
        and c.f == "add"
        and c.completion is not None
        and not c.is_final
        and c.invoke.time >= killed
    )
    if not after:
        return 0.0, None
    return (after[0][0] - killed) / 1e9, after[0][1]


def resumed(bound_s: float, need_no_loss: bool) -> Any:
    """Upheld when writes resumed on the promoted standby within ``bound_s`` of the primary's
    death (the RTO clients saw), and, with ``need_no_loss``, no acknowledged write was lost."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        gap, node = recovery(history)
        if node is None:
            return INCONCLUSIVE, "no failover, or no write on either side of it"
        lost = verdicts["lost-writes"]
        if need_no_loss and lost.result == "invalid":
            return REFUTED, f"{len(lost.anomalies)} acknowledged writes lost in the failover"
        if gap > bound_s:
            return REFUTED, f"writes resumed {gap:.2f}s after the primary died (> {bound_s:g}s)"
        return (
            UPHELD,
            f"writes resumed on {node}; RTO seen by clients {gap:.2f}s "
            f"(<= {bound_s:g}s); lost-writes: {lost.result}",
        )

    return judge


def failover(
    sdconform: Any,
    config: dict[str, Any],
    *,
    sync: bool = False,
    lag_s: float = 0.0,
    cancel_after: float | None = None,
    **run: Any,
) -> None:
    """A primary + standby pair, writers that follow the primary, and one failover (after
    ``lag_s`` of the standby cut off from the primary)."""
    cluster, primary, standby = pair(sdconform, sync=sync)
    sdconform.run(
        SetAdd(),
        writers(primary, standby, cancel_after=cancel_after),
        [sdconform.fault(lambda: pg.Failover(cluster, lag_s=lag_s))],
        config=config,
        **{**FAILOVER_RUN, **run},
    )


@pytest.mark.claim("pg-2safe-replication")
def test_async_failover_loses_acknowledged_commits(sdconform: Any) -> None:
    """The default (asynchronous) standby falls behind (cut for 1.5 s), the primary dies, the
    standby is promoted: what the primary acknowledged meanwhile is gone."""
    failover(
        sdconform,
        {"replication": "asynchronous"},
        lag_s=1.5,
        need_overlap=False,
    )


@pytest.mark.claim("pg-2safe-replication", expected="upheld")
def test_sync_failover_keeps_acknowledged_commits(sdconform: Any) -> None:
    """synchronous_standby_names = '*': while the standby is cut, commits wait (clients time
    out: unknown outcome, not acknowledged); after the failover no acknowledged one is lost."""
    failover(
        sdconform,
        {"replication": "synchronous"},
        sync=True,
        lag_s=1.5,
        need_overlap=False,
    )


@pytest.mark.claim("pg-sync-consistent-writes", expected="refuted")
def test_a_cancelled_synchronous_commit_is_acknowledged_and_then_lost(sdconform: Any) -> None:
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
        need_overlap=False,
    )


def loss_within_lag(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Upheld when the failover lost acknowledged writes and all of them were acknowledged
    while the standby lagged (after its link was cut), i.e. loss bounded by the lag."""
    lost = verdicts["lost-writes"]
    if lost.result != "invalid":
        return INCONCLUSIVE, f"no acknowledged write was lost ({lost.result})"
    starts = [op for op in history.nemesis_ops() if op.f == "failover-start"]
    if not starts:
        return INCONCLUSIVE, "no failover"
    lag_ns = (starts[0].value or {}).get("total_s", 0) * 1e9
    began = starts[0].time - lag_ns
    acks = [
        history[i].time
        for a in lost.anomalies
        for i in a.ops
        if history[i].type == "ok" and history[i].f == "add"
    ]
    # Replication lag on loopback is milliseconds: allow half a second before the cut.
    early = [t for t in acks if t < began - 0.5e9]
    if early:
        return REFUTED, f"{len(early)} lost writes were acknowledged before the standby lagged"
    return (
        UPHELD,
        f"{len(acks)} acknowledged writes lost, all from the last "
        f"{(starts[0].time - min(acks)) / 1e9:.2f}s while the standby lagged",
    )


@pytest.mark.claim("pg-async-promote-loss")
def test_promoting_a_lagging_async_standby_loses_the_lag(sdconform: Any) -> None:
    failover(
        sdconform,
        {"replication": "asynchronous"},
        lag_s=1.5,
        judge=loss_within_lag,
    )


@pytest.mark.claim("pg-sync-immediate-failover")
def test_a_sync_standby_can_be_promoted_at_once_without_loss(sdconform: Any) -> None:
    failover(
        sdconform,
        {"replication": "synchronous"},
        sync=True,
        judge=resumed(5.0, need_no_loss=True),
    )


@pytest.mark.claim("rds-multiaz-failover")
def test_writes_resume_through_one_endpoint_after_failover(sdconform: Any) -> None:
    """One endpoint (libpq host list + target_session_attrs=read-write), a synchronous standby:
    after the primary dies and the standby is promoted, writes resume with nothing lost."""
    failover(
        sdconform,
        {"endpoint": "libpq host list, target_session_attrs=read-write"},
        sync=True,
        judge=resumed(5.0, need_no_loss=True),
    )


def downtime_or_loss(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Refuted when the failover lost acknowledged writes or clients saw writes fail."""
    gap, node = recovery(history)
    if node is None:
        return INCONCLUSIVE, "no failover, or no write on either side of it"
    lost = verdicts["lost-writes"]
    failed = [c for c in history.complete() if c.f == "add" and c.type != "ok"]
    if lost.result == "invalid" or failed:
        return (
            REFUTED,
            f"{len(lost.anomalies)} acknowledged writes lost, {len(failed)} writes "
            f"failed or timed out; writes resumed {gap:.2f}s after the primary died",
        )
    return UPHELD, "no loss and no failed write through the failover"


@pytest.mark.claim("pg-multi-az-prevents-loss")
def test_a_standby_elsewhere_does_not_prevent_downtime(sdconform: Any) -> None:
    """Even with a synchronous standby (no loss), a failover is downtime for clients."""
    failover(
        sdconform,
        {"replication": "synchronous"},
        sync=True,
        judge=downtime_or_loss,
    )


@pytest.mark.claim("pg-single-leader-failover-lag")
def test_promotion_leaves_a_window_without_writes(sdconform: Any) -> None:
    """Single leader: between the primary's death and the promoted standby's first commit no
    write succeeds; measured as clients see it (promotion is immediate here, no detection)."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        gap, node = recovery(history)
        if node is None:
            return INCONCLUSIVE, "no failover, or no write on either side of it"
        if gap <= 0:
            return REFUTED, "writes never stopped"
        return UPHELD, f"writes resumed on {node} {gap:.2f}s after the primary died"

    failover(sdconform, {"replication": "asynchronous"}, judge=judge)


# --- isolation -----------------------------------------------------------------------------------

TXN_RUN = {"concurrency": 10, "op_timeout": 3.0}


@pytest.mark.claim("pg-isolation-serializable")
@pytest.mark.parametrize("level", ["read-committed", "repeatable-read", "serializable"])
def test_each_isolation_level_forbids_its_anomalies(sdconform: Any, level: str) -> None:
    """List-append transactions at ``level`` from 10 clients over 4 keys, checked against what
    that level forbids (read committed: G0, G1; repeatable read: also G-single; serializable:
    every cycle). The lower levels' allowed anomalies are reported, not held against them."""
    cluster = start(sdconform, pg.Topology(settings=pg.Settings(fsync=False)))
    primary = cluster.info["addresses"]["n1"]
    sdconform.run(
        ListAppend(keys=4, level=level),
        lambda i: pg.PgClient([primary], timeout=2.0, isolation=level),
        decide_by=["txn"],
        config={"isolation": level, "checked_at": level},
        **TXN_RUN,
    )


@pytest.mark.claim("pg-acid-strong")
def test_read_committed_transactions_are_not_serializable(sdconform: Any) -> None:
    """PostgreSQL's default, READ COMMITTED, checked against serializability."""
    cluster = start(sdconform, pg.Topology(settings=pg.Settings(fsync=False)))
    primary = cluster.info["addresses"]["n1"]
    sdconform.run(
        ListAppend(keys=4, level="serializable"),
        lambda i: pg.PgClient([primary], timeout=2.0, isolation="read-committed"),
        decide_by=["txn"],
        config={"isolation": "read-committed", "checked_at": "serializable"},
        **TXN_RUN,
    )


@pytest.mark.claim("pg-isolation-serializable", expected="refuted")
def test_repeatable_read_allows_write_skew(sdconform: Any) -> None:
    """REPEATABLE READ (snapshot isolation in PostgreSQL) checked against serializability:
    two transactions that each read what the other appends to both commit (G2)."""
    cluster = start(sdconform, pg.Topology(settings=pg.Settings(fsync=False)))
    primary = cluster.info["addresses"]["n1"]
    sdconform.run(
        ListAppend(keys=4, level="serializable"),
        lambda i: pg.PgClient([primary], timeout=2.0, isolation="repeatable-read"),
        decide_by=["txn"],
        config={"isolation": "repeatable-read", "checked_at": "serializable"},
        **TXN_RUN,
    )
