"""The app tier's request handlers: one cache pattern each, over the cache and PostgreSQL.

``CacheClient(info, pattern, ttl_s=..., cache=(host, port))`` turns the register workload's
``write``/``read`` into what an application using that pattern does:

==============  =========================================  =====================================
pattern         write(k, v)                                read(k)
==============  =========================================  =====================================
``aside``       UPDATE the database (lazy loading)         cache, else database then SET
``around``      UPDATE the database only                   as ``aside``
``invalidate``  UPDATE the database, then DEL the key      as ``aside``
``through``     UPDATE the database, then SET the key      as ``aside``
``validate``    UPDATE the database                        cache entry's version checked against
                                                           the database per read (an ETag):
                                                           served only if current, else refilled
``back``        SET the key and push it on the outbox      the database (what survives)
``order-sync``  Redis and PostgreSQL in parallel, acked    the database
                once both are done
``order-async`` Redis, pushed on the outbox, acked         the database
==============  =========================================  =====================================

Every database write returns the row's new ``version`` (its source-of-truth order, for the
staleness checker). A read records where its value came from (``source``: ``hit``, ``miss``,
``validated``, ``refilled``, ``db``) and, on a fill, ``fill_s``: from the start of its
database read to the end of its cache SET, the delay a TTL bound adds. The cache entry is
``[value, version]`` in JSON; ``ttl_s`` sets its expiry (Redis ``PX``; Memcached whole seconds).

A database write that committed is ``ok`` even when the cache step after it failed (the value
is in the source of truth; ``cache_error`` says what the cache missed): that partial failure
is what write-through and invalidation claims are about. A write that may or may not have
committed is ``info``; one refused before anything happened ``fail``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ...workloads import Invocation, Result
from ..postgres import topology as pgb
from .topology import OUTBOX, CachingInfo

PATTERNS = ("aside", "around", "invalidate", "through", "validate", "back", "order-sync",
            "order-async")
UPDATE = ("INSERT INTO items (k, v, version) VALUES (%s, %s, 1) ON CONFLICT (k) DO UPDATE "
          "SET v = EXCLUDED.v, version = items.version + 1 RETURNING version")


class _Redis:
    def __init__(self, host: str, port: int, timeout: float):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.r = redis.Redis(host, port, socket_timeout=timeout, socket_connect_timeout=timeout,
                             retry=Retry(NoBackoff(), 0))

    def get(self, key: str) -> Any:
        raw = self.r.get(key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, entry: Any, ttl_s: float | None) -> None:
        px = None if ttl_s is None else max(1, round(ttl_s * 1000))
        self.r.set(key, json.dumps(entry), px=px)

    def delete(self, key: str) -> None:
        self.r.delete(key)


class _Memcached:
    def __init__(self, host: str, port: int, timeout: float):
        from pymemcache.client.base import Client  # type: ignore[import-untyped]

        self.c = Client((host, port), connect_timeout=timeout, timeout=timeout)

    def get(self, key: str) -> Any:
        raw = self.c.get(key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, entry: Any, ttl_s: float | None) -> None:
        expire = 0 if ttl_s is None else max(1, round(ttl_s))
        self.c.set(key, json.dumps(entry), expire=expire, noreply=False)

    def delete(self, key: str) -> None:
        self.c.delete(key, noreply=False)


def _refused(e: Exception) -> bool:
    """Refused before anything happened (nothing listening): the write surely did not."""
    return "refused" in f"{type(e).__name__}: {e}".lower()


class CacheClient:
    def __init__(self, info: CachingInfo, pattern: str, ttl_s: float | None = None,
                 cache: tuple[str, int] | None = None, timeout: float = 1.0):
        if pattern not in PATTERNS:
            raise ValueError(f"unknown cache pattern {pattern!r}; known: {', '.join(PATTERNS)}")
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0 seconds (or None), not {ttl_s}")
        self.info, self.pattern, self.ttl_s = info, pattern, ttl_s
        host, port = cache or info.cache
        self.cache = (_Redis if info.cache_kind == "redis" else _Memcached)(host, port, timeout)
        self.timeout = timeout
        self._db: Any = None

    def db(self) -> Any:
        if self._db is None:
            self._db = pgb.connect(self.info.db, timeout=self.timeout)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def invoke(self, op: Invocation) -> Result:
        try:
            if op.f == "write":
                return self._write(op.key, op.value)
            if op.f == "read":
                return self._read(op.key)
        except Exception as e:
            self.close()  # a broken connection is not used again
            return Result("fail" if op.f == "read" or _refused(e) else "info",
                          error=f"{type(e).__name__}: {e}"[:300])
        raise ValueError(f"cache client: unknown operation {op.f!r}")

    # --- writes -----------------------------------------------------------------------------

    def _update(self, key: str, value: Any) -> int:
        row = self.db().execute(UPDATE, (key, value)).fetchone()
        return int(row[0])

    def _write(self, key: str, value: Any) -> Result:
        p = self.pattern
        if p == "back":
            return self._outbox(key, value, set_cache=True)
        if p == "order-async":
            return self._outbox(key, value, set_cache=False)
        if p == "order-sync":
            return self._order_sync(key, value)
        version = self._update(key, value)
        extra: dict[str, Any] = {"version": version}
        try:
            if p == "invalidate":
                self.cache.delete(key)
            elif p == "through":
                self.cache.set(key, [value, version], self.ttl_s)
        except Exception as e:  # committed all the same: the source of truth has it
            extra["cache_error"] = f"{type(e).__name__}: {e}"[:200]
        return Result("ok", extra=extra)

    def _outbox(self, key: str, value: Any, set_cache: bool) -> Result:
        entry = json.dumps({"k": key, "v": value})
        c = self.cache
        assert isinstance(c, _Redis), "the outbox is a Redis list"
        pipe = c.r.pipeline(transaction=True)
        if set_cache:
            pipe.set(key, json.dumps([value, None]))
        pipe.rpush(OUTBOX, entry)
        pipe.execute()
        return Result("ok", extra={"acked_by": "redis"})

    def _order_sync(self, key: str, value: Any) -> Result:
        """Executed in Redis and persisted to PostgreSQL in parallel; acked when both are."""
        errors: list[str] = []

        def persist() -> None:
            try:
                with pgb.connect(self.info.db, timeout=self.timeout) as conn:
                    conn.execute("INSERT INTO orders (k, v) VALUES (%s, %s)", (key, value))
            except Exception as e:
                errors.append(f"postgres: {type(e).__name__}: {e}"[:200])

        t = threading.Thread(target=persist, daemon=True)
        t.start()
        redis_error = None
        try:
            self.cache.set(key, [value, None], None)
        except Exception as e:
            redis_error = f"redis: {type(e).__name__}: {e}"[:200]
        t.join(self.timeout + 3)
        if t.is_alive():
            errors.append("postgres: no answer")
        if errors:  # not acknowledged: it may be in PostgreSQL or not
            return Result("info", error="; ".join(errors + ([redis_error] if redis_error
                                                            else [])))
        extra = {"acked_by": "redis+postgres"}
        if redis_error:
            extra["redis_error"] = redis_error
        return Result("ok", extra=extra)

    # --- reads ------------------------------------------------------------------------------

    def _read(self, key: str) -> Result:
        p = self.pattern
        if p in ("back", "order-sync", "order-async"):
            table = "items" if p == "back" else "orders"
            row = self.db().execute(f"SELECT v FROM {table} WHERE k = %s", (key,)).fetchone()
            return Result("ok", None if row is None else row[0], extra={"source": "db"})
        entry = self.cache.get(key)
        if p == "validate":
            return self._validated(key, entry)
        if entry is not None:
            return Result("ok", entry[0], extra={"source": "hit", "cached_version": entry[1]})
        return self._fill(key, "miss")

    def _fill(self, key: str, source: str) -> Result:
        began = time.monotonic()
        row = self.db().execute("SELECT v, version FROM items WHERE k = %s", (key,)).fetchone()
        value, version = (None, 0) if row is None else (row[0], int(row[1]))
        self.cache.set(key, [value, version], self.ttl_s)
        return Result("ok", value, extra={"source": source, "version_read": version,
                                          "fill_s": round(time.monotonic() - began, 6)})

    def _validated(self, key: str, entry: Any) -> Result:
        """The cached entry's version against the database's current one (the primary)."""
        row = self.db().execute("SELECT version FROM items WHERE k = %s", (key,)).fetchone()
        current = 0 if row is None else int(row[0])
        if entry is not None and entry[1] == current:
            return Result("ok", entry[0], extra={"source": "validated", "version_read": current})
        refilled = self._fill(key, "refilled")
        if entry is not None and refilled.extra is not None:
            refilled.extra["rejected_version"] = entry[1]
        return refilled
