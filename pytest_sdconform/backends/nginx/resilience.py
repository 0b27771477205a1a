"""A front service with a client-side resilience layer (gen-resilience-patterns).

The layer (``Resilient``, settings ``Patterns``) wraps each call to a dependency: a circuit
breaker (``threshold`` consecutive failures open it; after ``open_for`` s one half-open probe
is let through, its success closes it, its failure opens it again), a token bucket (``burst``
tokens, refilled at ``rate`` per second; a call finding none fails at once: the dependency's
load is at most ``burst + rate * t``), and retries (at most ``attempts`` calls per request, the
``i``-th retry after a random wait in ``[0, backoff * 2**(i-1)]``: exponential backoff, full
jitter). Every call that reaches the network takes a token, retries and probes included.

``FrontService`` is the service in front: a bounded worker pool (``capacity`` slots shared by
every client, as a web server's threads are; a request waits at most ``queue_wait`` s for one,
else fails "front overloaded"). A request is ``home`` (served by the healthy app server: the
part of the system that does not need the dependency) or ``dep`` (served by the dependency's
app server). With ``patterns=None`` (the control) a ``dep`` request is a plain call retried at
once up to ``naive_attempts`` times, holding its slot throughout.

Each result's ``extra``: ``tier``, ``attempts`` (calls that reached the network),
``rejected`` (``pool``, ``breaker``, ``limit`` or None) and ``retries``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...checkers import Checker
from ...workloads import Invocation, Result
from .client import HttpClient
from .topology import APP_PORT

TIERS = ("home", "dep")


@dataclass(frozen=True)
class Patterns:
    attempts: int = 2  # calls per request at most, retries included
    backoff: float = 0.1  # s: the first retry's wait ceiling, doubled each retry (full jitter)
    threshold: int = 2  # consecutive failures that open the breaker
    open_for: float = 1.0  # s the breaker stays open before one half-open probe
    burst: int = 5  # token bucket size
    rate: float = 10.0  # tokens per second

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.threshold < 1 or self.burst < 1:
            raise ValueError("attempts, threshold and burst must be at least 1")
        if self.backoff < 0 or self.open_for <= 0 or self.rate <= 0:
            raise ValueError("backoff must be >= 0, open_for and rate > 0")

    def max_backoff(self) -> float:
        """The longest total wait between one request's attempts."""
        return sum(self.backoff * 2 ** i for i in range(self.attempts - 1))

    def describe(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "backoff_s": self.backoff,
                "breaker_threshold": self.threshold, "breaker_open_s": self.open_for,
                "limit_burst": self.burst, "limit_rate": self.rate}


class TokenBucket:
    def __init__(self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic):
        self.burst, self.rate, self.clock = burst, rate, clock
        self.tokens = float(burst)
        self.at = clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class CircuitBreaker:
    def __init__(self, threshold: int, open_for: float,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold, self.open_for, self.clock = threshold, open_for, clock
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.probing = False
        self.opens = 0
        self.lock = threading.Lock()

    def allow(self) -> bool:
        with self.lock:
            if self.state == "closed":
                return True
            if self.state == "open" and self.clock() - self.opened_at >= self.open_for:
                self.state = "half-open"
            if self.state == "half-open" and not self.probing:
                self.probing = True
                return True
            return False

    def cancel(self) -> None:
        """An allowed call was not made (no token): free the probe."""
        with self.lock:
            self.probing = False

    def success(self) -> None:
        with self.lock:
            self.state, self.failures, self.probing = "closed", 0, False

    def failure(self) -> None:
        with self.lock:
            self.failures += 1
            if self.state == "half-open" or (self.state == "closed"
                                             and self.failures >= self.threshold):
                self.state, self.opened_at, self.probing = "open", self.clock(), False
                self.opens += 1


class Resilient:
    """The layer: ``call(fn)`` runs ``fn`` (one network call) under breaker, limit and
    retries; returns the result, the calls made and what rejected it (or None)."""

    def __init__(self, p: Patterns, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.p, self.rng, self.sleep = p, rng or random.Random(), sleep
        self.breaker = CircuitBreaker(p.threshold, p.open_for, clock)
        self.bucket = TokenBucket(p.burst, p.rate, clock)

    def call(self, fn: Callable[[], Result]) -> tuple[Result, int, str | None]:
        made = 0
        result = Result("fail", error="not called")
        for i in range(self.p.attempts):
            if i:
                self.sleep(self.rng.uniform(0, self.p.backoff * 2 ** (i - 1)))
            if not self.breaker.allow():
                return Result("fail", error="circuit open"), made, "breaker"
            if not self.bucket.take():
                self.breaker.cancel()
                return Result("fail", error="rate limited"), made, "limit"
            made += 1
            result = fn()
            if result.type == "ok":
                self.breaker.success()
                return result, made, None
            self.breaker.failure()
        return result, made, None


class FrontService:
    """The front service all clients share (its pool, its layer)."""

    def __init__(self, home: str, dep: str, patterns: Patterns | None, capacity: int = 2,
                 queue_wait: float = 0.3, timeout: float = 0.5, naive_attempts: int = 2,
                 port: int = APP_PORT, dep_port: int | None = None,
                 rng: random.Random | None = None):
        if capacity < 1 or naive_attempts < 1 or queue_wait < 0 or timeout <= 0:
            raise ValueError("capacity, naive_attempts >= 1; queue_wait >= 0; timeout > 0")
        self.addresses = {"home": (home, port), "dep": (dep, port if dep_port is None
                                                         else dep_port)}
        self.patterns, self.capacity, self.queue_wait = patterns, capacity, queue_wait
        self.timeout, self.naive_attempts = timeout, naive_attempts
        self.slots = threading.BoundedSemaphore(capacity)
        self.layer = Resilient(patterns, rng) if patterns else None

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"pool": self.capacity, "queue_wait_s": self.queue_wait,
                             "call_timeout_s": self.timeout}
        if self.patterns:
            return {**d, "layer": "breaker+backoff+limit", **self.patterns.describe()}
        return {**d, "layer": "none", "attempts": self.naive_attempts}

    def serve(self, op: Invocation) -> Result:
        if op.f not in TIERS:
            raise ValueError(f"front service: unknown request {op.f!r} (one of {TIERS})")
        if not self.slots.acquire(timeout=self.queue_wait):
            return Result("fail", error="front overloaded: no worker free",
                          extra={"tier": op.f, "attempts": 0, "rejected": "pool", "retries": 0})
        try:
            client = HttpClient(*self.addresses[op.f], timeout=self.timeout)

            def once() -> Result:
                return client.invoke(Invocation("read", op.key))

            rejected = None
            if op.f == "dep" and self.layer is not None:
                result, made, rejected = self.layer.call(once)
            else:
                made = 0
                for _ in range(self.naive_attempts if op.f == "dep" else 1):
                    made += 1
                    result = once()
                    if result.type == "ok":
                        break
        finally:
            self.slots.release()
        extra = {"tier": op.f, "attempts": made, "rejected": rejected,
                 "retries": max(0, made - 1)}
        return Result(result.type, result.value, result.error, result.node, extra)


class FrontClient:
    """One worker's handle on the shared front service."""

    def __init__(self, service: FrontService):
        self.service = service

    def invoke(self, op: Invocation) -> Result:
        return self.service.serve(op)

    def close(self) -> None:
        pass


@dataclass
class FrontRequests:
    """``home`` and ``dep`` requests (reads), a ``dep`` with probability ``dep_share``."""

    name = "front-requests"
    dep_share: float = 0.5

    def next_op(self, rng: random.Random) -> Invocation:
        return Invocation("dep" if rng.random() < self.dep_share else "home", "k")

    def final_ops(self) -> list[Invocation]:
        return []

    def checkers(self) -> list[Checker]:
        return []


__all__ = ["CircuitBreaker", "FrontClient", "FrontRequests", "FrontService", "Patterns",
           "Resilient", "TokenBucket"]
