"""The harness's CQL connections: where clients connect (``PORT``, ``KEYSPACE``), a driver
session that never retries (``connect``), the keyspace's tables (``create_schema``), and the
wait until every node sees its peers up (``wait_healthy``).

Both the topology (schema and health at start-up) and the clients import from here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

PORT = 9042  # native_transport_port
KEYSPACE = "sdconform"


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
    import cassandra.cluster
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
    from cassandra.policies import ConstantReconnectionPolicy, WhiteListRoundRobinPolicy

    profile = ExecutionProfile(
        load_balancing_policy=WhiteListRoundRobinPolicy(addresses),
        retry_policy=never_retry(),
        request_timeout=timeout,
    )
    cluster = cassandra.cluster.Cluster(
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
