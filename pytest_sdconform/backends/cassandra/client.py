"""CQL clients (the DataStax cassandra-driver): one coordinator per client, a consistency level
per statement, lightweight transactions for compare-and-set, and no retries.

Tables: ``registers (k text PRIMARY KEY, v int)`` for the register workload and ``sets (k text,
e int, PRIMARY KEY (k, e))`` for the set workload (an add is a row of its own, so adds never
overwrite one another; no speculative retry, so a read at ONE reads one replica's copy).

Outcomes: ``Unavailable`` is the coordinator refusing before it sent anything: ``fail``; so is
``NoHostAvailable`` (no connection to send on) and a failed compare-and-set (``[applied] =
false``). A ``WriteTimeout`` or a client-side timeout of a write may have happened: ``info``.
A read that did not answer changed nothing: ``fail``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ...workloads import Invocation, Result
from .topology import KEYSPACE, PORT


def _driver() -> Any:
    import cassandra.cluster

    return cassandra.cluster


def never_retry() -> Any:
    """A retry policy that rethrows every error: the harness must see each call's outcome."""
    from cassandra.policies import RetryPolicy

    class NeverRetry(RetryPolicy):
        def on_read_timeout(self, *a: Any, **k: Any) -> tuple[int, None]:
            return self.RETHROW, None

        def on_write_timeout(self, *a: Any, **k: Any) -> tuple[int, None]:
            return self.RETHROW, None

        def on_unavailable(self, *a: Any, **k: Any) -> tuple[int, None]:
            return self.RETHROW, None

        def on_request_error(self, *a: Any, **k: Any) -> tuple[int, None]:
            return self.RETHROW, None

    return NeverRetry()


def connect(
    address: str | Sequence[str], timeout: float = 2.0, keyspace: str | None = KEYSPACE
) -> tuple[Any, Any]:
    """A driver cluster and session whose coordinators are ``address`` (one or several, taken
    in turn, as a load-balanced application would)."""
    addresses = [address] if isinstance(address, str) else list(address)
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
    from cassandra.policies import ConstantReconnectionPolicy, WhiteListRoundRobinPolicy

    profile = ExecutionProfile(
        load_balancing_policy=WhiteListRoundRobinPolicy(addresses),
        retry_policy=never_retry(),
        request_timeout=timeout,
    )
    cluster = _driver().Cluster(
        addresses,
        port=PORT,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=timeout,
        control_connection_timeout=timeout,
        reconnection_policy=ConstantReconnectionPolicy(0.5, None),
        schema_metadata_enabled=False,
        token_metadata_enabled=False,
        protocol_version=5,
        idle_heartbeat_interval=1,
        max_schema_agreement_wait=20,
    )
    try:
        session = cluster.connect(keyspace)
    except BaseException:
        cluster.shutdown()
        raise
    return cluster, session


def create_schema(address: str, rf: int) -> None:
    cluster, session = connect(address, timeout=20.0, keyspace=None)
    try:
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
            f"{{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
        )
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.registers (k text PRIMARY KEY, v int, w int)"
        )
        # No speculative retry on sets: a final read at ONE through a replica must read that
        # replica's own copy, never another's that answered sooner (which would hide a loss).
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.sets (k text, e int, PRIMARY KEY (k, e)) "
            "WITH speculative_retry = 'NONE'"
        )
    finally:
        cluster.shutdown()


def wait_healthy(addresses: Sequence[str], timeout: float = 60, schema: bool = True) -> float:
    """Wait until every node, as coordinator, sees all its peers up: a write at ALL through it
    succeeds (before the schema exists: it answers CQL and lists every peer).
    Returns the seconds waited."""
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    began = time.monotonic()
    deadline = began + timeout
    pending = list(addresses)
    last: Exception | None = None
    while pending and time.monotonic() < deadline:
        address = pending[0]
        try:
            cluster, session = connect(address, timeout=2.0, keyspace=None)
        except Exception as e:
            last = e
            time.sleep(0.5)
            continue
        try:
            while time.monotonic() < deadline:
                try:
                    if schema:
                        session.execute(
                            SimpleStatement(
                                f"INSERT INTO {KEYSPACE}.registers (k, v) VALUES ('health', 0)",
                                consistency_level=ConsistencyLevel.ALL,
                            )
                        )
                    else:
                        peers = session.execute("SELECT peer FROM system.peers").all()
                        if len(peers) < len(addresses) - 1:
                            raise RuntimeError(f"{address} knows {len(peers)} peers")
                    pending.pop(0)
                    break
                except Exception as e:
                    last = e
                    time.sleep(0.5)
        finally:
            cluster.shutdown()
    if pending:
        raise TimeoutError(f"Cassandra nodes {pending} not healthy after {timeout:.0f}s: {last}")
    return time.monotonic() - began


class ClientClock:
    """Write timestamps (microseconds) that clients supply with ``USING TIMESTAMP``; a skew
    (per client index) moves some clients' clocks as NTP trouble would."""

    def __init__(self) -> None:
        self.skew_us: dict[int, int] = {}

    def now_us(self, client: int) -> int:
        return time.time_ns() // 1000 + self.skew_us.get(client, 0)


class ClientClockSkew:
    """A nemesis for client clocks: while on, odd-numbered clients run ``ms`` behind."""

    name = "clock-skew"

    def __init__(self, clock: ClientClock, clients: int, ms: int = 2000):
        self.clock, self.clients, self.ms = clock, clients, ms

    def start(self) -> dict[str, Any]:
        self.clock.skew_us = {i: -self.ms * 1000 for i in range(1, self.clients, 2)}
        return {
            "clients_behind": sorted(self.clock.skew_us),
            "skew_ms": -self.ms,
            "where": "client-supplied write timestamps (USING TIMESTAMP)",
        }

    def stop(self) -> dict[str, Any]:
        self.clock.skew_us = {}
        return {}


class NotSent(Exception):
    """The statement never left the client (no connection, or preparing it failed)."""


class CqlClient:
    """Register and set operations through one coordinator at the given consistency levels.

    ``lwt``: writes and compare-and-sets are lightweight transactions (Paxos), reads are at
    SERIAL. ``clock``: writes carry client timestamps from it (``USING TIMESTAMP``).
    ``view``: (coordinator, consistency level): after each successful set read, read the set
    again there and record its elements as ``cluster_view`` on the completion (a final read of
    one replica's copy, with what the cluster as a whole still has beside it).
    """

    def __init__(
        self,
        coordinator: str | Sequence[str],
        read_cl: str = "QUORUM",
        write_cl: str = "QUORUM",
        lwt: bool = False,
        timeout: float = 2.0,
        clock: ClientClock | None = None,
        index: int = 0,
        view: tuple[str, str] | None = None,
    ):
        from cassandra import ConsistencyLevel

        self.cl = ConsistencyLevel
        self.address = coordinator
        self.read_cl = ConsistencyLevel.SERIAL if lwt else getattr(ConsistencyLevel, read_cl)
        self.write_cl = getattr(ConsistencyLevel, write_cl)
        self.lwt, self.timeout, self.clock, self.index = lwt, timeout, clock, index
        self.view = view
        self._cluster: Any = None
        self._session: Any = None
        self._prepared: dict[str, Any] = {}
        self._future: Any = None

    def _execute(self, cql: str, args: Sequence[Any], consistency: int) -> Any:
        try:  # connecting and preparing send nothing that changes data
            if self._session is None:
                self._cluster, self._session = connect(self.address, self.timeout)
            stmt = self._prepared.get(cql)
            if stmt is None:
                stmt = self._prepared[cql] = self._session.prepare(cql)
        except Exception as e:
            raise NotSent(_short(e)) from e
        bound = stmt.bind(list(args))
        bound.consistency_level = consistency
        bound.serial_consistency_level = self.cl.SERIAL
        future = self._session.execute_async(bound, timeout=self.timeout)
        self._future = future
        return future.result()

    def invoke(self, op: Invocation) -> Result:
        from cassandra import (
            InvalidRequest,
            OperationTimedOut,
            ReadTimeout,
            Unavailable,
            WriteTimeout,
        )
        from cassandra.cluster import NoHostAvailable

        reading = op.f == "read"
        self._future = None
        try:
            return self._invoke(op)
        except (NotSent, Unavailable, NoHostAvailable, InvalidRequest) as e:
            return Result("fail", error=_short(e), node=self._node())
        except (WriteTimeout, ReadTimeout, OperationTimedOut) as e:
            return Result("fail" if reading else "info", error=_short(e), node=self._node())
        except Exception as e:
            return Result("fail" if reading else "info", error=_short(e), node=self._node())

    def _invoke(self, op: Invocation) -> Result:
        ks = KEYSPACE
        if op.f == "read" and str(op.key).startswith("set:"):
            rows = self._execute(f"SELECT e FROM {ks}.sets WHERE k = ?", [op.key], self.read_cl)
            result = Result("ok", sorted(r.e for r in rows), node=self._node())
            if self.view is not None:
                result.extra = self._view(op.key)
            return result
        if op.f == "read":
            row = self._execute(
                f"SELECT v FROM {ks}.registers WHERE k = ?", [op.key], self.read_cl
            ).one()
            return Result("ok", None if row is None else row.v, node=self._node())
        if op.f == "add":
            self._execute(
                f"INSERT INTO {ks}.sets (k, e) VALUES (?, ?)", [op.key, op.value], self.write_cl
            )
            return Result("ok", node=self._node())
        if op.f == "cas":
            expected, new = op.value
            row = self._execute(
                f"UPDATE {ks}.registers SET v = ? WHERE k = ? IF v = ?",
                [new, op.key, expected],
                self.write_cl,
            ).one()
            return Result(
                "ok" if row[0] else "fail",
                node=self._node(),
                error=None if row[0] else "not applied",
            )
        if self.lwt:
            # Every write through Paxos: a condition that always holds (w is never set).
            row = self._execute(
                f"UPDATE {ks}.registers SET v = ? WHERE k = ? IF w = null",
                [op.value, op.key],
                self.write_cl,
            ).one()
            return Result("ok" if row[0] else "fail", node=self._node())
        if self.clock is not None:
            ts = self.clock.now_us(self.index)
            self._execute(
                f"INSERT INTO {ks}.registers (k, v) VALUES (?, ?) USING TIMESTAMP ?",
                [op.key, op.value, ts],
                self.write_cl,
            )
            return Result("ok", node=self._node(), extra={"timestamp_us": ts})
        self._execute(
            f"INSERT INTO {ks}.registers (k, v) VALUES (?, ?)", [op.key, op.value], self.write_cl
        )
        return Result("ok", node=self._node())

    def _view(self, key: str) -> dict[str, Any]:
        """The set as ``self.view``'s coordinator reads it at its consistency level."""
        from cassandra import ConsistencyLevel

        assert self.view is not None
        address, cl = self.view
        other = CqlClient(address, timeout=self.timeout)
        try:
            rows = other._execute(f"SELECT e FROM {KEYSPACE}.sets WHERE k = ?", [key],
                                  getattr(ConsistencyLevel, cl))
            return {"cluster_view": sorted(r.e for r in rows), "cluster_view_cl": cl}
        except Exception as e:
            return {"cluster_view_error": _short(e)}
        finally:
            other.close()

    def _node(self) -> str:
        """The coordinator of the last call (the one the driver picked), else the configured."""
        host = getattr(self._future, "coordinator_host", None) or getattr(
            self._future, "_current_host", None
        )
        if host is not None:
            return str(getattr(host, "address", host)).split(":")[0]
        return self.address if isinstance(self.address, str) else ",".join(self.address)

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = self._session = None


def _short(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"[:300]
