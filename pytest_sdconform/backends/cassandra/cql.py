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


def replication(rf: int | dict[str, int]) -> str:
    """The keyspace's replication map: ``rf`` replicas (SimpleStrategy), or a count per data
    centre (NetworkTopologyStrategy, ``{"dc1": 2, "dc2": 2}``)."""
    if isinstance(rf, int):
        if rf < 1:
            raise ValueError(f"a replication factor is at least 1, not {rf}")
        return f"{{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
    if not rf or any(n < 1 for n in rf.values()):
        raise ValueError(f"every data centre needs at least one replica: {rf!r}")
    per_dc = ", ".join(f"'{dc}': {n}" for dc, n in rf.items())
    return f"{{'class': 'NetworkTopologyStrategy', {per_dc}}}"


def create_schema(address: str, rf: int | dict[str, int], keyspace: str = KEYSPACE,
                  gc_grace_s: int | None = None) -> None:
    """The keyspace (``rf``: see ``replication``) and its tables; ``gc_grace_s``: the tables'
    gc_grace_seconds (Cassandra's default, ten days, when None)."""
    grace = "" if gc_grace_s is None else f" AND gc_grace_seconds = {int(gc_grace_s)}"
    cluster, session = connect(address, timeout=20.0, keyspace=None)
    try:
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication(rf)}"
        )
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {keyspace}.registers (k text PRIMARY KEY, v int, w int)"
            + (f" WITH {grace[5:]}" if grace else "")
        )
        # No speculative retry on sets: a final read at ONE through a replica must read that
        # replica's own copy, never another's that answered sooner (which would hide a loss).
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {keyspace}.sets (k text, e int, PRIMARY KEY (k, e)) "
            f"WITH speculative_retry = 'NONE'{grace}"
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
