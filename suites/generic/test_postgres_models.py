"""Generic claims (claims.md §1) that no product case decides, on PostgreSQL 15: a primary and a
streaming standby, reads at the standby.

Run: ``pytest --sdconform suites/generic``. The other generic claims are decided by the
product suites' cases (``pytest_sdconform/claims/evidence.toml`` says which and why).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pytest_sdconform.backends import postgres as pg
from pytest_sdconform.backends.postgres import PgInfo
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.causal import CausalChecker
from pytest_sdconform.checkers.pacelc import MODE, STRONG, WEAK, LatencyOrConsistency
from pytest_sdconform.checkers.sessions import SessionsChecker
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation, Result
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("postgres")

CLIENT_TIMEOUT = 1.0


class SessionSettingClient(pg.PgClient):
    """A ``PgClient`` whose write sessions run with their own ``synchronous_commit`` (PostgreSQL
    lets each session choose: ``local`` commits without waiting for the synchronous standby),
    and whose every completion names its group in ``mode``."""

    def __init__(self, writes: list[str], reads: list[str], mode: str,
                 synchronous_commit: str | None = None) -> None:
        super().__init__(writes, reads, timeout=CLIENT_TIMEOUT)
        self.mode, self.synchronous_commit = mode, synchronous_commit
        self._set: set[int] = set()

    def _conn(self, role: str) -> Any:
        conn = super()._conn(role)
        if role == "write" and self.synchronous_commit and id(conn) not in self._set:
            conn.execute(f"SET synchronous_commit = {self.synchronous_commit}")
            self._set.add(id(conn))
        return conn

    def invoke(self, op: Invocation) -> Result:
        result = super().invoke(op)
        return replace(result, extra={**(result.extra or {}), MODE: self.mode})


# A primary with a synchronous standby whose commits wait for its replay: shared by the cases
# that use it (keys of their own), as its start-up is most of a case's time.
REMOTE_APPLY = pg.Topology(standby=True, sync=True,
                           settings=pg.Settings(synchronous_commit="remote_apply"))


def pair(sdconform: Case, topology: pg.Topology, shared: bool = False) -> Cluster[PgInfo]:
    cluster = sdconform.start(topology, shared=shared)
    sdconform.config["startup_s"] = cluster.started_s
    return cluster


@pytest.mark.claim("gen-pacelc")
def test_without_a_partition_waiting_for_the_replica_trades_latency_for_consistency(
        sdconform: Case) -> None:
    """One primary with a synchronous standby (``remote_apply``: a commit returns once the
    standby replayed it) and no fault. Half the clients commit that way (strong), half with
    ``synchronous_commit = local`` in their session (weak: the commit returns at once, the
    standby replays it later); all read at the standby. Measured from the history: each
    group's median write latency and its reads behind its own writes."""
    cluster = pair(sdconform, REMOTE_APPLY, shared=True)
    primary, standby = cluster.info.addresses["n1"], cluster.info.addresses["n2"]

    def client(i: int) -> SessionSettingClient:
        if i % 2 == 0:
            return SessionSettingClient([primary], [standby], STRONG)
        return SessionSettingClient([primary], [standby], WEAK, synchronous_commit="local")

    sdconform.run(Register(keys=4, prefix="pacelc", read_ratio=0.5), client,
                  checkers=[SessionsChecker()], judge=LatencyOrConsistency(),
                  run=RunConfig(concurrency=4),
                  config={"reads": "standby", "strong": "synchronous_commit=remote_apply",
                          "weak": "synchronous_commit=local (per session)", "faults": "none"})


def causal_case(sdconform: Case, cluster: Cluster[PgInfo], faults: list[Any]) -> None:
    primary, standby = cluster.info.addresses["n1"], cluster.info.addresses["n2"]
    sdconform.run(Register(keys=3, prefix="causal", read_ratio=0.5),
                  lambda i: pg.PgClient([primary], [standby], timeout=CLIENT_TIMEOUT),
                  faults, checkers=[CausalChecker()], decide_by=["causal"],
                  run=RunConfig(quiet=1.0, fault_duration=2.0, op_timeout=1.5),
                  config={"reads": "standby", "writes": "primary", "checker": "causal"})


@pytest.mark.claim("gen-causal")
def test_remote_apply_standby_reads_are_causal(sdconform: Case) -> None:
    """Writes at the primary, reads at a ``remote_apply`` standby: a read there never goes
    behind a write in its causal past (its session's own writes, or a write whose value it
    or its session read). Replay is paused for a while (commits wait instead of returning),
    so reads at the standby go on while it falls behind."""
    cluster = pair(sdconform, REMOTE_APPLY, shared=True)
    causal_case(sdconform, cluster, [pg.ReplayPause(cluster)])


@pytest.mark.claim("gen-causal", config="async-standby-reads")
def test_async_standby_reads_break_causal_order(sdconform: Case) -> None:
    """Writes at the primary, reads at an asynchronous standby, no fault: a session that
    wrote a value reads the one before it at the standby (behind its causal past)."""
    causal_case(sdconform, pair(sdconform, pg.Topology(standby=True)), [])
