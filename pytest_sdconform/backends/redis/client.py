"""The redis-py client of the register and set workloads, one node per operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...nodes.routes import via
from ...workloads import Invocation, Result
from .topology import PORT

# What a write records of INFO persistence: how many background saves began in this server's
# lifetime (``rdb_saves`` counts a save when it forks), whether one is running, and how the
# last one ended. ``backends/redis/judges.rdb_snapshots`` turns them into completed snapshots.
PERSISTENCE_FIELDS = ("rdb_saves", "rdb_bgsave_in_progress", "rdb_last_bgsave_status")


class RedisClient:
    """Register (GET/SET) and set (SADD/SMEMBERS) operations on one Redis node.

    Writes go to ``write_to()`` (the primary: fixed, or asked of the sentinels), reads to
    ``read_from()``. A connection that was refused sent nothing: ``fail``. A timeout or a reset
    after the command was sent is ``info``: it may have happened.

    ``persistence_info``: every write is pipelined with ``INFO persistence``, and its
    completion records what that answered (``PERSISTENCE_FIELDS``), so the history shows which
    snapshots had started and completed when the server applied the write (Redis runs the two
    commands in turn; a snapshot that begins between them only makes the record more cautious).
    """

    def __init__(self, write_to: Callable[[], str], read_from: Callable[[], str],
                 timeout: float = 1.0, wait: tuple[int, int] | None = None, port: int = PORT,
                 on_error: Callable[[], None] | None = None, persistence_info: bool = False):
        import redis

        self._redis = redis
        self.persistence_info = persistence_info
        self.write_to, self.read_from = write_to, read_from
        self.on_error = on_error  # e.g. SentinelRouter.forget: look the primary up again
        self.timeout = timeout
        self.port = port
        self.wait = wait
        self._conns: dict[str, Any] = {}

    def _conn(self, address: str) -> Any:
        c = self._conns.get(address)
        if c is None:
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # No retries of our own: redis-py's default retries with backoff would ride out an
            # outage and hide it; the harness wants to see each call's real outcome.
            c = self._conns[address] = self._redis.Redis(
                *via(address, self.port), socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 0))
        return c

    def invoke(self, op: Invocation) -> Result:
        result = self._invoke(op)
        if result.type != "ok" and self.on_error is not None:
            self.on_error()
        return result

    def _invoke(self, op: Invocation) -> Result:
        redis = self._redis
        target = self.read_from() if op.f == "read" else self.write_to()
        node = target
        try:
            r = self._conn(target)
            if op.f == "read" and isinstance(op.key, str) and op.key.startswith("set:"):
                members = r.smembers(op.key)
                return Result("ok", sorted(int(m) for m in members), node=node)
            if op.f == "read":
                raw = r.get(op.key)
                return Result("ok", None if raw is None else int(raw), node=node)
            extra = None
            if self.persistence_info:
                pipe = r.pipeline(transaction=False)
                if op.f == "add":
                    pipe.sadd(op.key, op.value)
                else:
                    pipe.set(op.key, op.value)
                pipe.info("persistence")
                _, info = pipe.execute()
                extra = {k: info.get(k) for k in PERSISTENCE_FIELDS}
            elif op.f == "add":
                r.sadd(op.key, op.value)
            else:
                r.set(op.key, op.value)
            if self.wait is not None:
                acked = r.execute_command("WAIT", *self.wait)
                extra = {**(extra or {}), "replicas_acked": int(acked)}
            return Result("ok", node=node, extra=extra)
        except redis.ConnectionError as e:
            if "refused" in str(e).lower() or op.f == "read":
                return Result("fail", error=str(e), node=node)
            return Result("info", error=str(e), node=node)
        except redis.TimeoutError as e:
            return Result("fail" if op.f == "read" else "info", error=str(e), node=node)
        except redis.ResponseError as e:  # NOREPLICAS, READONLY...: refused, not applied
            return Result("fail", error=str(e), node=node)

    def close(self) -> None:
        for c in self._conns.values():
            c.close()
