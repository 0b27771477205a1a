"""Idempotency keys (gen-idempotency-key) on PostgreSQL 15: payments retried after an unknown
outcome are applied once when the server deduplicates them by key.

Clients reach a single PostgreSQL through a toxiproxy whose answers (downstream) are delayed
past the clients' timeout for a while: a payment sent then is committed by the server, but its
caller gives up (``info``) and, as a payment client does, sends it again with the same
idempotency key (``workloads.payments``). The server applies each key at most once (``INSERT
... ON CONFLICT (request) DO NOTHING`` on a primary key); the contrast configuration stores
payments without the key (a plain ``INSERT``), so a retry of a payment that went through is a
second payment. The table, read at the end, is the judge's evidence (``checkers.idempotency``).

Run: ``pytest --sdconform suites/generic/test_idempotency.py``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from pytest_sdconform.backends import postgres as pg
from pytest_sdconform.backends.postgres.topology import USER
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.idempotency import ALREADY, AppliedOnce
from pytest_sdconform.faults.latency import Latency, RoundTrip
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation, Result
from pytest_sdconform.workloads.payments import PAY, READ, Confirming, Payments

pytestmark = [pytest.mark.backend("postgres"), pytest.mark.nightly]

OP_TIMEOUT = 1.0  # the caller gives up after this long and sends the payment again
DELAY_MS = 1500  # the proxy's answers are this late during the fault: past the timeout
RUN = RunConfig(op_timeout=OP_TIMEOUT, quiet=1.0, fault_duration=2.5, settle=2.0,
                op_delay=0.05)

SCHEMA = {
    True: "CREATE TABLE payments (request text PRIMARY KEY, amount bigint NOT NULL)",
    False: "CREATE TABLE payments (id bigserial PRIMARY KEY, request text NOT NULL, "
           "amount bigint NOT NULL)",
}


class PaymentClient:
    """``pay`` inserts the payment (``keyed``: at most once per request, answering
    ``applied`` or ``already-applied``; otherwise always a new row); ``read`` of
    ``payments`` counts the rows per request. Nothing is retried here: the workload retries.
    A connection that could not be opened sent nothing (``fail``); an SQL error rolled the
    statement back (``fail``); a connection lost or abandoned after sending may have
    committed (``info``)."""

    def __init__(self, host: str, port: int, keyed: bool, timeout: float) -> None:
        import psycopg

        self._pg, self.host, self.port = psycopg, host, port
        self.keyed, self.timeout = keyed, timeout
        self._conn: Any = None

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._pg.connect(host=self.host, port=self.port, user=USER,
                                          dbname="postgres", autocommit=True,
                                          connect_timeout=pg.connect_timeout(self.timeout))
        return self._conn

    def invoke(self, op: Invocation) -> Result:
        if op.f not in (PAY, READ):
            raise ValueError(f"payment client: unsupported operation {op.f}")
        try:
            conn = self._connect()
        except self._pg.OperationalError as e:
            return Result("fail", error=str(e).strip()[:200])
        try:
            if op.f == READ:
                rows = conn.execute("SELECT request, count(*) FROM payments GROUP BY request "
                                    "ORDER BY request").fetchall()
                return Result("ok", [[str(r), int(n)] for r, n in rows])
            if self.keyed:
                cur = conn.execute("INSERT INTO payments (request, amount) VALUES (%s, %s) "
                                   "ON CONFLICT (request) DO NOTHING", (op.key, op.value))
                return Result("ok", "applied" if cur.rowcount == 1 else ALREADY)
            conn.execute("INSERT INTO payments (request, amount) VALUES (%s, %s)",
                         (op.key, op.value))
            return Result("ok", "applied")
        except self._pg.Error as e:
            error = str(e).strip()[:200] or type(e).__name__
            if getattr(e, "sqlstate", None) and not conn.broken:
                return Result("fail", error=error)
            self.close()
            return Result("fail" if op.f == READ else "info", error=error)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped anyway
                conn.close()


def payments_case(sdconform: Case, keyed: bool) -> None:
    cluster = sdconform.start(pg.Topology())
    primary = cluster.info.addresses["n1"]
    with pg.connect(primary, timeout=5) as conn:
        conn.execute(SCHEMA[keyed])
    proxies = cluster.toxiproxy()
    proxy = proxies.proxy("pg", f"{primary}:{pg.PORT}")
    slow = Latency(proxies.client, [proxy], ms=DELAY_MS, stream="downstream",
                   probe=RoundTrip(payload=pg.SSL_REQUEST, timeout=2 * DELAY_MS / 1000 + 2))
    ledger = Payments(timeout=OP_TIMEOUT)

    def client(i: int) -> Confirming:
        return Confirming(PaymentClient(proxy.host, proxy.port, keyed, OP_TIMEOUT), ledger)

    sdconform.run(ledger, client, [slow], judge=AppliedOnce(), checkers=[], run=RUN,
                  config={"path": "client -> toxiproxy -> postgres",
                          "idempotency_key": "request PRIMARY KEY, ON CONFLICT DO NOTHING"
                          if keyed else "none (plain INSERT)",
                          "client_timeout_s": OP_TIMEOUT, "answer_delay_ms": DELAY_MS})


@pytest.mark.claim("gen-idempotency-key")
def test_payments_retried_with_their_key_are_applied_once(sdconform: Case) -> None:
    """Payments whose answers came too late are sent again with the same key: the server
    finds the key applied and does nothing, so each payment is stored exactly once."""
    payments_case(sdconform, keyed=True)


@pytest.mark.claim("gen-idempotency-key", config="no-idempotency-key")
def test_payments_retried_without_a_key_are_applied_twice(sdconform: Case) -> None:
    """The same retries against a table without the key: a payment committed while its
    answer was late is stored again by its retry."""
    payments_case(sdconform, keyed=False)
