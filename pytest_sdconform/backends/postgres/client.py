"""The psycopg 3 client: registers, sets and list-append transactions on PostgreSQL.

One connection per role (writes, reads), opened lazily and dropped after a connection error.
Writes name every node with ``target_session_attrs=read-write``, as a libpq client of a
failover pair does: it connects to whichever node is the primary now. Nothing is retried.

What a call's outcome means: a connection that could not be opened sent nothing (``fail``); an
SQL error (serialization failure, read-only standby, statement timeout) rolled the transaction
back (``fail``); a connection lost after sending may or may not have committed (``info``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from ...nodes.routes import origin, via
from ...workloads import Invocation, Result
from .topology import PORT, USER

ISOLATION = {
    "read-committed": "READ COMMITTED",
    "repeatable-read": "REPEATABLE READ",
    "serializable": "SERIALIZABLE",
}


def connect_timeout(timeout: float) -> int:
    """libpq's connect_timeout (whole seconds, at least 2) of a client with ``timeout``."""
    return max(2, int(timeout))


class PgClient:
    """``writes``: the nodes a write may go to (the primary is found among them); ``reads``:
    where reads go (a standby, say). A read whose invocation value is ``"primary"`` goes to
    the write nodes. ``cancel_after``: cancel a write still running after that many seconds,
    as a driver's query timeout does (``statement_timeout`` does not cover the wait for a
    synchronous standby; a cancel does end it, and the server then reports success with a
    WARNING: the commit stays committed locally)."""

    def __init__(
        self,
        writes: Sequence[str],
        reads: Sequence[str] | None = None,
        timeout: float = 2.0,
        isolation: str = "read-committed",
        cancel_after: float | None = None,
    ):
        import psycopg

        self._pg = psycopg
        self.writes, self.reads = list(writes), list(reads or writes)
        self.timeout = timeout
        self.isolation = ISOLATION[isolation]
        self.cancel_after = cancel_after
        self._conns: dict[str, Any] = {}
        self.warnings: list[str] = []
        self._committing = False

    def _conn(self, role: str) -> Any:
        c = self._conns.get(role)
        if c is None or c.closed:
            hosts = [via(h, PORT) for h in (self.writes if role == "write" else self.reads)]
            c = self._pg.connect(
                host=",".join(h for h, _ in hosts),
                port=",".join(str(p) for _, p in hosts),
                user=USER,
                dbname="postgres",
                autocommit=True,
                connect_timeout=connect_timeout(self.timeout),
                target_session_attrs="read-write" if role == "write" else "any",
                options=f"-c statement_timeout={int(self.timeout * 1000)}",
            )
            c.add_notice_handler(self._notice)
            self._conns[role] = c
        return c

    def _notice(self, diag: Any) -> None:
        if diag.severity in ("WARNING", "ERROR"):
            self.warnings.append(str(diag.message_primary))

    def invoke(self, op: Invocation) -> Result:
        role = "read" if op.f == "read" and op.value != "primary" else "write"
        try:
            conn = self._conn(role)
        except self._pg.OperationalError as e:  # never connected: nothing was sent
            return Result("fail", error=_short(e))
        node = origin(str(conn.info.host), int(conn.info.port))
        self.warnings = []
        timer = None
        if self.cancel_after is not None and role == "write":
            timer = threading.Timer(self.cancel_after, _cancel, (conn,))
            timer.start()
        self._committing = op.f != "txn"
        try:
            value = self._run(conn, op)
        except self._pg.Error as e:
            sqlstate = getattr(e, "sqlstate", None) or ""
            if sqlstate and not sqlstate.startswith("57P") and not conn.broken:
                # The server answered with an error: the transaction was rolled back.
                self._rollback(role)
                return Result("fail", error=_short(e), node=node)
            # The connection broke (or the server shut the session down): a write whose
            # commit was under way may have happened; a read, or a transaction that never
            # sent COMMIT, did not.
            self._drop(role)
            sure = op.f == "read" or not self._committing
            return Result("fail" if sure else "info", error=_short(e), node=node)
        finally:
            if timer is not None:
                timer.cancel()
        extra = {"warning": self.warnings[0]} if self.warnings else None
        return Result("ok", value, node=node, extra=extra)

    def _run(self, conn: Any, op: Invocation) -> Any:
        if op.f == "txn":
            return self._txn(conn, op.value)
        if op.f == "read" and str(op.key).startswith("set:"):
            rows = conn.execute("SELECT v FROM sets WHERE k = %s", (op.key,)).fetchall()
            return sorted(r[0] for r in rows)
        if op.f == "read":
            row = conn.execute("SELECT v FROM registers WHERE k = %s", (op.key,)).fetchone()
            return None if row is None else row[0]
        if op.f == "add":
            conn.execute("INSERT INTO sets (k, v) VALUES (%s, %s)", (op.key, op.value))
            return None
        if op.f == "write":
            conn.execute(
                "INSERT INTO registers (k, v) VALUES (%s, %s) ON CONFLICT (k) "
                "DO UPDATE SET v = excluded.v",
                (op.key, op.value),
            )
            return None
        raise ValueError(f"unsupported operation {op.f}")

    def _txn(self, conn: Any, mops: list[list[Any]]) -> list[list[Any]]:
        out: list[list[Any]] = []
        conn.execute(f"BEGIN ISOLATION LEVEL {self.isolation}")
        for f, k, v in mops:
            if f == "append":
                conn.execute(
                    "INSERT INTO lists AS t (k, v) VALUES (%s, ARRAY[%s]::bigint[]) "
                    "ON CONFLICT (k) DO UPDATE SET v = t.v || excluded.v",
                    (str(k), v),
                )
                out.append([f, k, v])
            else:
                row = conn.execute("SELECT v FROM lists WHERE k = %s", (str(k),)).fetchone()
                out.append([f, k, [] if row is None else list(row[0])])
        self._committing = True
        conn.execute("COMMIT")
        return out

    def _rollback(self, role: str) -> None:
        conn = self._conns.get(role)
        try:
            if conn is not None and not conn.closed:
                conn.execute("ROLLBACK")
        except self._pg.Error:
            self._drop(role)

    def _drop(self, role: str) -> None:
        conn = self._conns.pop(role, None)
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped anyway
                conn.close()

    def close(self) -> None:
        for role in list(self._conns):
            self._drop(role)


def _cancel(conn: Any) -> None:
    with contextlib.suppress(Exception):  # the server may be gone: nothing to cancel
        conn.cancel()


def _short(e: BaseException) -> str:
    return str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__


TICKETS = ("table", "sequence")


class TicketClient:
    """Ticket servers (Flickr's odd/even scheme): ``servers`` maps a server's name to the nodes
    that may serve it (a primary and its standby: the one that takes writes is found among
    them). ``next`` on key ``name`` takes the next ID there, ``how`` it is made: ``table``, a
    counter row bumped by its step (``UPDATE tickets SET id = id + step RETURNING id``, a
    write transaction, as Flickr's ``REPLACE INTO`` is), or ``sequence`` (``nextval``). Each
    server is a ``PgClient`` of its own, with the same meaning of fail and info."""

    def __init__(self, servers: dict[str, Sequence[str]], how: str = "table", step: int = 2,
                 timeout: float = 2.0):
        if not servers:
            raise ValueError("ticket client: no ticket server given")
        if how not in TICKETS:
            raise ValueError(f"ticket client: how must be one of {TICKETS}, not {how!r}")
        self.servers = {name: _TicketServer(nodes, how, step, timeout=timeout)
                        for name, nodes in servers.items()}

    def invoke(self, op: Invocation) -> Result:
        if op.f != "next":
            raise ValueError(f"ticket client: unsupported operation {op.f}")
        client = self.servers.get(str(op.key))
        if client is None:
            raise ValueError(f"ticket client: no ticket server {op.key!r} "
                             f"(known: {', '.join(self.servers)})")
        return client.invoke(op)

    def close(self) -> None:
        for client in self.servers.values():
            client.close()


class _TicketServer(PgClient):
    def __init__(self, writes: Sequence[str], how: str, step: int, timeout: float):
        super().__init__(writes, timeout=timeout)
        self.sql = ("SELECT nextval('tickets')" if how == "sequence" else
                    f"UPDATE tickets SET id = id + {int(step)} RETURNING id")

    def _run(self, conn: Any, op: Invocation) -> Any:
        row = conn.execute(self.sql).fetchone()
        return int(row[0])


class BookingClient(PgClient):
    """Hotel bookings, the check-then-insert way: ``book`` (key: a room, value: the booking's
    id) counts the room's bookings and inserts one if fewer than ``capacity``, in one
    transaction at the client's isolation level; its value is ``"booked"`` or ``"full"``.
    ``think_s``: the application's work between the check and the insert (``pg_sleep`` in the
    transaction: the time a real booking service spends there). A ``read`` of key
    ``"bookings"`` returns ``[[room, bookings], ...]``."""

    def __init__(self, writes: Sequence[str], capacity: int, isolation: str,
                 timeout: float = 2.0, think_s: float = 0.0):
        if capacity < 1:
            raise ValueError(f"booking client: capacity must be at least 1, not {capacity}")
        super().__init__(writes, timeout=timeout, isolation=isolation)
        self.capacity, self.think_s = capacity, think_s

    def _run(self, conn: Any, op: Invocation) -> Any:
        if op.f == "read" and op.key == "bookings":
            rows = conn.execute("SELECT room, count(*) FROM bookings GROUP BY room "
                                "ORDER BY room").fetchall()
            return [[int(r), int(n)] for r, n in rows]
        if op.f != "book":
            raise ValueError(f"booking client: unsupported operation {op.f}")
        self._committing = False
        conn.execute(f"BEGIN ISOLATION LEVEL {self.isolation}")
        row = conn.execute("SELECT count(*) FROM bookings WHERE room = %s", (op.key,)).fetchone()
        if int(row[0]) >= self.capacity:
            conn.execute("ROLLBACK")
            return "full"
        if self.think_s > 0:
            conn.execute("SELECT pg_sleep(%s)", (self.think_s,))
        conn.execute("INSERT INTO bookings (room, id) VALUES (%s, %s)", (op.key, op.value))
        self._committing = True
        conn.execute("COMMIT")
        return "booked"
