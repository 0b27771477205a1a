"""Application patterns built on Redis, as the documents describe them: a lease lock (``SET NX
PX``, released by compare-and-delete), a leaderboard (a sorted set, ``ZINCRBY``), a crawler's
duplicate detection (``SET NX EX`` per URL), a key generation service's pre-loaded ID list
(``LPOP``) and cache entries that expire (``SET PX``). ``AppClient`` runs them on one node per
operation (the primary it is given, or asked of the sentinels); the workloads are below, their
judges in ``app_judges.py`` and the lock's checker in ``checkers/mutex.py``."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...checkers import Checker
from ...checkers.mutex import MutexChecker
from ...nodes.routes import via
from ...workloads import Invocation, Result
from .topology import PORT, admin

# Compare-and-delete: release the lock only while it is still ours (the documented pattern).
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) " \
          "else return 0 end"
BOARD, SEEN, IDS, TTL = "board:", "seen:", "ids", "ttl:"
READS = ("read",)
REFUSALS = ("held", "not held", "lease too short", "lease expired or taken")


class AppClient:
    """One connection per node; writes to ``write_to()``, reads to ``read_from()``.

    A refused connection sent nothing (``fail``); a timeout or reset after the command went out
    is ``info`` for anything that writes. ``lease_ms``: the lock's and cache entries' time to
    live; ``work_s``: how long a holder keeps the lock (its critical section) before releasing;
    ``backoff_s``: the pause after a refused acquire (a polite retry loop, not a spin)."""

    def __init__(self, write_to: Callable[[], str], read_from: Callable[[], str] | None = None,
                 timeout: float = 1.0, lease_ms: int = 2000, work_s: float = 0.2,
                 backoff_s: float = 0.02, port: int = PORT,
                 on_error: Callable[[], None] | None = None):
        import redis

        self._redis = redis
        self.write_to = write_to
        self.read_from = read_from or write_to
        self.timeout, self.port, self.on_error = timeout, port, on_error
        self.lease_ms, self.work_s, self.backoff_s = lease_ms, work_s, backoff_s
        self._conns: dict[str, Any] = {}
        self._held: dict[Any, str] = {}  # lock -> our token, while we believe we hold it
        self._valid: dict[Any, float] = {}  # lock -> when our lease runs out (monotonic)

    def _conn(self, address: str) -> Any:
        c = self._conns.get(address)
        if c is None:
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            c = self._conns[address] = self._redis.Redis(
                *via(address, self.port), socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 0))
        return c

    def invoke(self, op: Invocation) -> Result:
        result = self._invoke(op)
        if result.error not in (None, *REFUSALS) \
                and self.on_error is not None:
            self.on_error()  # an error, not a refusal: ask where the primary is now
        return result

    def _invoke(self, op: Invocation) -> Result:
        if op.f == "work":  # the critical section: client-side only
            if op.key not in self._held:
                return Result("fail", error="not held")
            if time.monotonic() + self.work_s > self._valid[op.key]:
                # A careful client (Redlock's validity rule): a lease that runs out before the
                # work would is not used; the lock is left to expire.
                return Result("fail", error="lease too short")
            time.sleep(self.work_s)
            return Result("ok")
        if op.f == "release" and op.key not in self._held:
            return Result("fail", error="not held")
        redis = self._redis
        node = self.read_from() if op.f in READS else self.write_to()
        try:
            return self._call(self._conn(node), op, node)
        except redis.ConnectionError as e:
            sent = "refused" not in str(e).lower() and op.f not in READS
            return Result("info" if sent else "fail", error=str(e), node=node)
        except redis.TimeoutError as e:
            return Result("fail" if op.f in READS else "info", error=str(e), node=node)
        except redis.ResponseError as e:  # READONLY, NOREPLICAS...: refused, not applied
            return Result("fail", error=str(e), node=node)
        finally:
            if op.f == "release":
                self._held.pop(op.key, None)

    def _call(self, r: Any, op: Invocation, node: str) -> Result:
        f, key = op.f, op.key
        if f == "acquire":
            lease = {"ttl_ms": self.lease_ms}
            asked = time.monotonic()
            if r.set(key, op.value, nx=True, px=self.lease_ms):
                self._held[key] = op.value
                self._valid[key] = asked + self.lease_ms / 1000
                return Result("ok", node=node, extra=lease)
            time.sleep(self.backoff_s)
            return Result("fail", error="held", node=node, extra=lease)
        if f == "release":
            if r.eval(RELEASE, 1, key, self._held[key]):
                return Result("ok", node=node)
            return Result("fail", error="lease expired or taken", node=node)
        if f == "incr":  # a player scores: value [player, points]
            r.zincrby(key, op.value[1], op.value[0])
            return Result("ok", node=node)
        if f == "visit":  # True: first sighting, process the URL; False: a known duplicate
            return Result("ok", bool(r.set(f"{SEEN}{key}", 1, nx=True, ex=3600)), node=node)
        if f == "take":
            raw = r.lpop(key)
            return Result("ok", None if raw is None else int(raw), node=node)
        if f == "setex":
            r.set(key, op.value, px=self.lease_ms)
            return Result("ok", node=node, extra={"ttl_ms": self.lease_ms})
        if f == "read" and str(key).startswith(BOARD):
            ranked = r.zrevrange(key, 0, -1, withscores=True)
            return Result("ok", [[m.decode(), int(s)] for m, s in ranked], node=node)
        if f == "read":
            raw = r.get(key)
            return Result("ok", None if raw is None else int(raw), node=node)
        raise ValueError(f"AppClient: no operation {f!r}")

    def close(self) -> None:
        for c in self._conns.values():
            c.close()


class FollowingRouter:
    """A Sentinel-aware client that follows failovers as they are announced (as Jedis does on
    Sentinel's ``+switch-master``): it asks the sentinels where the primary is at most every
    ``every_s`` seconds, and again after an error. Operations already sent to the old primary
    stay there (a paused primary answers them when it wakes)."""

    def __init__(self, ask: Callable[[], str | None], fallback: str, every_s: float = 1.0):
        self.ask, self.fallback, self.every_s = ask, fallback, every_s
        self._primary: str | None = None
        self._asked = 0.0

    def primary(self) -> str:
        now = time.monotonic()
        if self._primary is None or now - self._asked >= self.every_s:
            self._primary = self.ask() or self._primary or self.fallback
            self._asked = now
        return self._primary

    def forget(self) -> None:
        self._primary = None


def _state(store: dict[int, Any], rng: random.Random, make: Callable[[], Any]) -> Any:
    """Per-worker workload state: each worker thread has a Random of its own."""
    key = id(rng)
    if key not in store:
        store[key] = make()
    return store[key]


@dataclass
class Locks:
    """Each worker loops acquire -> work -> release on one of ``keys`` locks (a refused acquire
    makes the next two calls fail at once with "not held"), each acquire with a new token."""

    keys: int = 1
    name = "locks"
    _tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _steps: dict[int, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        with self._lock:
            mine = _state(self._steps, rng, lambda: [0, None])  # [step, the lock it is on]
            f = ("acquire", "work", "release")[mine[0]]
            mine[0] = (mine[0] + 1) % 3
            if f != "acquire":
                return Invocation(f, mine[1])
            token = next(self._tokens)
        mine[1] = f"lock:{rng.randrange(self.keys)}"
        return Invocation("acquire", mine[1], f"t{token}")

    def final_ops(self) -> list[Invocation]:
        return []

    def checkers(self) -> list[Checker]:
        return [MutexChecker()]


@dataclass
class Leaderboard:
    """Players score one point at a time (``ZINCRBY``) on one board; ``read_ratio`` of the calls
    read the whole ranking; one final read."""

    players: int = 30
    read_ratio: float = 0.3
    key: str = f"{BOARD}0"
    name = "leaderboard"

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < self.read_ratio:
            return Invocation("read", self.key)
        return Invocation("incr", self.key, [f"p{rng.randrange(self.players)}", 1])

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", self.key)]

    def checkers(self) -> list[Checker]:
        return []


@dataclass
class Crawl:
    """A crawler's frontier: half the offers are new URLs; a quarter meet a URL among the last
    ``recent`` offered again (soon), a quarter any URL offered before (later)."""

    recent: int = 300
    name = "crawl"
    _top: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        with self._lock:
            draw = rng.random()
            if self._top == 0 or draw < 0.5:
                self._top += 1
                url = self._top - 1
            elif draw < 0.75:
                url = rng.randrange(max(0, self._top - self.recent), self._top)
            else:
                url = rng.randrange(self._top)
        return Invocation("visit", f"u{url}")

    def final_ops(self) -> list[Invocation]:
        return []

    def checkers(self) -> list[Checker]:
        return []


@dataclass
class TakeIds:
    """Every call takes the next pre-generated ID from the list (``preload_ids``)."""

    key: str = IDS
    name = "take-ids"

    def next_op(self, rng: random.Random) -> Invocation:
        return Invocation("take", self.key)

    def final_ops(self) -> list[Invocation]:
        return []

    def checkers(self) -> list[Checker]:
        return []


@dataclass
class Expiring:
    """Cache entries written with a time to live (``setex``: the client's ``lease_ms``), each
    value unique; ``write_ratio`` of the calls write, the rest read, over ``keys`` keys."""

    keys: int = 20
    write_ratio: float = 0.1
    name = "expiring"
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        key = f"{TTL}{rng.randrange(self.keys)}"
        if rng.random() < self.write_ratio:
            with self._lock:
                return Invocation("setex", key, next(self._values))
        return Invocation("read", key)

    def final_ops(self) -> list[Invocation]:
        return []

    def checkers(self) -> list[Checker]:
        return []


def preload_ids(address: str, count: int, key: str = IDS, replicas: int = 0) -> None:
    """Fill the ID list with 1..count (a key generation service's pre-generated keys), then,
    with ``replicas``, wait until that many replicas have it."""
    r = admin(address, timeout=30)
    try:
        r.delete(key)
        for lo in range(1, count + 1, 10_000):
            r.rpush(key, *range(lo, min(lo + 10_000, count + 1)))
        if replicas and int(r.execute_command("WAIT", replicas, 30_000)) < replicas:
            raise TimeoutError(f"the ID list reached fewer than {replicas} replicas in 30 s")
    finally:
        r.close()
