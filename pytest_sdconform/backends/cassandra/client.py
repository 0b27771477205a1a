"""CQL clients (the DataStax cassandra-driver): one coordinator per client, a consistency level
per statement, lightweight transactions for compare-and-set, and no retries.

Tables (made by ``cql.create_schema``): ``registers (k text PRIMARY KEY, v int)`` for the
register workload and ``sets (k text, e int, PRIMARY KEY (k, e))`` for the set workload (an add
is a row of its own, so adds never overwrite one another; no speculative retry, so a read at ONE
reads one replica's copy).

Outcomes: ``Unavailable`` is the coordinator refusing before it sent anything: ``fail``; so is
``NoHostAvailable`` (no connection to send on) and a failed compare-and-set (``[applied] =
false``). A ``WriteTimeout`` or a client-side timeout of a write may have happened: ``info``.
A read that did not answer changed nothing: ``fail``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...workloads import Invocation, Result
from .cql import KEYSPACE, connect
from .faults import ClientClock


class NotSent(Exception):
    """The statement never left the client (no connection, or preparing it failed)."""


class CqlClient:
    """Register and set operations through one coordinator at the given consistency levels.

    ``lwt``: writes and compare-and-sets are lightweight transactions (Paxos), reads are at
    SERIAL. ``delete`` removes a register's row (a tombstone; at ``delete_cl``, by default
    ``write_cl``). ``keyspace``: where the tables are (``cql.create_schema``). ``clock``:
    writes carry client timestamps from it (``USING TIMESTAMP``).
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
        keyspace: str = KEYSPACE,
        delete_cl: str | None = None,
    ):
        from cassandra import ConsistencyLevel

        self.cl = ConsistencyLevel
        self.address = coordinator
        self.read_cl = ConsistencyLevel.SERIAL if lwt else getattr(ConsistencyLevel, read_cl)
        self.write_cl = getattr(ConsistencyLevel, write_cl)
        self.delete_cl = getattr(ConsistencyLevel, delete_cl or write_cl)
        self.lwt, self.timeout, self.clock, self.index = lwt, timeout, clock, index
        self.view, self.keyspace = view, keyspace
        self._cluster: Any = None
        self._session: Any = None
        self._prepared: dict[str, Any] = {}
        self._future: Any = None

    def _execute(self, cql: str, args: Sequence[Any], consistency: int) -> Any:
        try:  # connecting and preparing send nothing that changes data
            if self._session is None:
                self._cluster, self._session = connect(self.address, self.timeout,
                                                       self.keyspace)
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
        ks = self.keyspace
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
        if op.f == "delete":
            self._execute(f"DELETE FROM {ks}.registers WHERE k = ?", [op.key], self.delete_cl)
            return Result("ok", node=self._node())
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
        other = CqlClient(address, timeout=self.timeout, keyspace=self.keyspace)
        try:
            rows = other._execute(f"SELECT e FROM {self.keyspace}.sets WHERE k = ?", [key],
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
