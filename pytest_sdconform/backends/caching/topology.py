"""A cache in front of a database: Redis (or Memcached) before PostgreSQL, and the app tier's
background flusher where a pattern has one.

Nodes: ``cache`` (redis-server without persistence, or memcached), ``db`` (a PostgreSQL primary
with the ``items``, ``orders`` and ``flushes`` tables) and, with ``flusher`` set, ``flusher``:
our own process (``flusher.py``) that drains the Redis outbox into PostgreSQL every
``flush_interval_s`` (write-back, or orders persisted beside their execution). It is a node
like the others: killable, its log in the case folder.

The cache patterns themselves run in the harness's clients (``client.py``): each client is an
app-tier request handler, so a fault on its path (toxiproxy between it and the cache) is a
fault of that handler.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from ...cluster import Cluster
from ...nodes import NodeSpec
from ...nodes.readiness import Command
from ...nodes.routes import via
from ...provision import apt_install
from .. import base
from ..memcached import topology as mcb
from ..own_server import python_node
from ..postgres import topology as pgb
from ..redis import topology as rb

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (k text PRIMARY KEY, v bigint, version bigint NOT NULL);
CREATE TABLE IF NOT EXISTS orders (k text PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE IF NOT EXISTS flushes (took_s double precision NOT NULL,
                                    gap_s double precision NOT NULL, rows int NOT NULL);
"""
OUTBOX = "outbox"  # the Redis list the flusher drains


def provision(cache: str = "redis") -> None:
    rb.provision()
    pgb.provision()
    if cache == "memcached":
        mcb.provision()


def provision_all() -> None:
    """Everything the caching suite's nodes need: Redis, Memcached, PostgreSQL, nginx and
    dnsmasq (Debian's ``dnsmasq-base``: the server alone, no system service)."""
    provision("memcached")
    apt_install(["nginx-light"], ["nginx"])
    apt_install(["dnsmasq-base"], ["dnsmasq"])


def flusher_spec(name: str, address: str, redis: str, db: str, interval_s: float,
                 table: str) -> NodeSpec:
    return python_node(name, address, "pytest_sdconform.backends.caching.flusher",
                       ["--redis", f"{redis}:{rb.PORT}", "--db", db, "--interval",
                        str(interval_s), "--table", table],
                       ready=Command(["true"]), ready_timeout=10)


def wait_first_flush(db: str, timeout: float = 30.0) -> None:
    """Until the flusher has flushed once: from then on, every flush records its gap, so no
    write a case makes waits longer than the flushes measured (a flusher slow to start, on a
    loaded machine, would otherwise hold the first writes unseen)."""
    deadline = time.monotonic() + timeout
    with pgb.connect(db) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM flushes").fetchone()[0]:
                return
            time.sleep(0.05)
    raise TimeoutError(f"the flusher has not flushed once after {timeout:.0f}s")


@dataclass(frozen=True)
class CachingInfo:
    """Where the cache and the database are, and the settings the judges bound by."""

    addresses: dict[str, str]  # cache, db (and flusher)
    cache_kind: str  # redis | memcached
    flush_interval_s: float | None

    @property
    def cache(self) -> tuple[str, int]:
        port = rb.PORT if self.cache_kind == "redis" else mcb.PORT
        return via(self.addresses["cache"], port)

    @property
    def db(self) -> str:
        return self.addresses["db"]


@dataclass
class Topology(base.Topology[CachingInfo]):
    """A ``cache`` (redis | memcached) in front of a PostgreSQL ``db``; with ``flusher`` (the
    table it fills: ``items`` for write-back, ``orders`` for orders), the flusher node."""

    backend: ClassVar[str] = "caching"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)

    cache: str = "redis"
    flusher: str | None = None
    flush_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if self.cache not in ("redis", "memcached"):
            raise ValueError(f"caching: cache must be redis or memcached, not {self.cache!r}")
        if self.flusher not in (None, "items", "orders"):
            raise ValueError(f"caching: flusher fills items or orders, not {self.flusher!r}")
        if self.flusher and self.cache != "redis":
            raise ValueError("caching: the flusher drains a Redis list; use cache='redis'")
        if self.flush_interval_s <= 0:
            raise ValueError(f"caching: flush_interval_s must be > 0, not "
                             f"{self.flush_interval_s}")

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"cache": self.cache, "source_of_truth": "postgresql"}
        version = rb.server_version() if self.cache == "redis" else mcb.server_version()
        if version:
            d["cache_version"] = version
        if pg := pgb.server_version():
            d["postgres_version"] = pg
        if self.cache == "redis":
            d["cache_persistence"] = "none"
        if self.flusher:
            d["flusher"] = f"redis outbox -> {self.flusher} every {self.flush_interval_s}s"
        return d

    def provision(self) -> None:
        provision(self.cache)

    def node_names(self, runtime: str) -> list[str]:
        return ["cache", "db", *(["flusher"] if self.flusher else [])]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        a = start.addresses
        cache = (rb.server_spec("cache", a["cache"], rb.Persistence())
                 if self.cache == "redis" else mcb.server_spec("cache", a["cache"]))
        return [cache, pgb.primary_spec("db", a["db"], start.paths("db", pgb.USER),
                                        pgb.Settings(), sync=False)]

    def ready(self, start: base.Start) -> CachingInfo:
        a = dict(start.addresses)
        with pgb.connect(a["db"]) as conn:
            conn.execute(SCHEMA)
        if self.flusher:
            start.add([flusher_spec("flusher", a["flusher"], a["cache"], a["db"],
                                    self.flush_interval_s, self.flusher)])
            wait_first_flush(a["db"])
        return CachingInfo(a, self.cache, self.flush_interval_s if self.flusher else None)


def flush_window(cluster: Cluster[CachingInfo]) -> tuple[float, str]:
    """How long an acknowledged write may wait before it is in the database, as the flusher
    measured it (PostgreSQL's ``flushes`` table): the longest gap between two flushes' reads of
    the outbox plus the longest flush from its read to its commit. The configured interval is
    what the gaps should be; a loaded machine makes them longer, and the bound says so."""
    with pgb.connect(cluster.info.db) as conn:
        row = conn.execute("SELECT coalesce(max(gap_s), 0), coalesce(max(took_s), 0), "
                           "count(*) FROM flushes").fetchone()
    gap, took, n = (float(row[0]), float(row[1]), int(row[2])) if row else (0.0, 0.0, 0)
    interval = cluster.info.flush_interval_s
    return gap + took, (f"longest gap between flushes {gap:.3f}s (interval {interval}s) + "
                        f"longest flush {took:.3f}s, over {n} flushes")
