"""Reads balanced over PostgreSQL servers by libpq itself: ``load_balance_hosts=random``.

Since PostgreSQL 16, libpq picks the host of a multi-host connection string at random
(``load_balance_hosts=random``), the client-side balancing a read pool over standbys uses.
``BalancedReadClient`` writes through one connection to the primary (``PgClient``) and opens a
new balanced connection for each read, as an application behind a per-request balancer does;
the read's ``node`` is the server libpq chose. Nothing is retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...nodes.routes import origin, via
from ...workloads import Invocation, Result
from .client import PgClient, _short, connect_timeout
from .topology import PORT, USER


class BalancedReadClient:
    def __init__(self, primary: str, reads: Sequence[str], timeout: float = 2.0) -> None:
        import psycopg

        if len(reads) < 2:
            raise ValueError(f"balanced reads need at least two servers, not {list(reads)}")
        self._pg = psycopg
        self.writer = PgClient([primary], timeout=timeout)
        self.hosts = [via(h, PORT) for h in reads]
        self.timeout = timeout

    def _connect(self) -> Any:
        return self._pg.connect(
            host=",".join(h for h, _ in self.hosts),
            port=",".join(str(p) for _, p in self.hosts),
            user=USER, dbname="postgres", autocommit=True,
            load_balance_hosts="random", target_session_attrs="any",
            connect_timeout=connect_timeout(self.timeout),
            options=f"-c statement_timeout={int(self.timeout * 1000)}")

    def invoke(self, op: Invocation) -> Result:
        if op.f != "read":
            return self.writer.invoke(op)
        try:
            conn = self._connect()
        except self._pg.OperationalError as e:  # never connected: nothing was read
            return Result("fail", error=_short(e))
        with conn:
            node = origin(str(conn.info.host), int(conn.info.port))
            try:
                row = conn.execute("SELECT v FROM registers WHERE k = %s", (op.key,)).fetchone()
            except self._pg.Error as e:  # a read that did not complete read nothing
                return Result("fail", error=_short(e), node=node)
        return Result("ok", None if row is None else row[0], node=node)

    def close(self) -> None:
        self.writer.close()
