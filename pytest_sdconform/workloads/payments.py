"""Payments retried after an unknown outcome, the way an application calling a payment API does:
each logical request (its key, the idempotency key) is sent, and sent again with the same key
when its caller gave up on it (a failure, or no answer within ``timeout``), at most
``max_attempts`` times; after the heal every request still unconfirmed is sent once more, then
one final read counts the effects stored per request (``judge: checkers.idempotency``).

``Payments`` keeps the ledger (which requests are unconfirmed, when each was last sent) and
``Confirming`` wraps a backend's client to tell it which attempts were answered ``ok`` in time.
A retry goes out only once the last attempt's caller gave up (``timeout`` after it was sent),
never beside an attempt still awaited, so a request is applied twice only if an attempt whose
outcome was unknown took effect after all.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..checkers import Checker
from . import Client, Invocation, Result

PAY, READ, STORED = "pay", "read", "payments"


@dataclass
class _Request:
    amount: int
    sent_at: float
    attempts: int = 1


@dataclass
class Payments:
    """``pay`` (key: the request id, value: an amount in cents) of new requests, or, with
    probability ``retry_ratio``, again of an unconfirmed request whose last attempt is older
    than ``timeout`` seconds (the runner's ``op_timeout``). ``clock``: for tests."""

    timeout: float
    retry_ratio: float = 0.5
    max_attempts: int = 5
    prefix: str = "p"
    clock: Callable[[], float] = time.monotonic
    name = "payments"
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _open: dict[str, _Request] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"payments: timeout must be positive, not {self.timeout}")
        if not 0 <= self.retry_ratio <= 1:
            raise ValueError(f"payments: retry_ratio must be in [0, 1], not {self.retry_ratio}")
        if self.max_attempts < 1:
            raise ValueError(f"payments: max_attempts must be at least 1, not {self.max_attempts}")

    def next_op(self, rng: random.Random) -> Invocation:
        now = self.clock()
        with self._lock:
            due = sorted(k for k, r in self._open.items()
                         if now - r.sent_at >= self.timeout and r.attempts < self.max_attempts)
            if due and rng.random() < self.retry_ratio:
                key = due[rng.randrange(len(due))]
                request = self._open[key]
                request.sent_at, request.attempts = now, request.attempts + 1
                return Invocation(PAY, key, request.amount)
            key = f"{self.prefix}{next(self._ids)}"
            request = self._open[key] = _Request(rng.randrange(100, 100_000), now)
            return Invocation(PAY, key, request.amount)

    def confirm(self, key: str, elapsed: float) -> None:
        """An attempt of ``key`` was answered ``ok`` after ``elapsed`` seconds: the request is
        done unless its caller had given up by then (the answer came too late to count)."""
        if elapsed < self.timeout:
            with self._lock:
                self._open.pop(key, None)

    def unconfirmed(self) -> list[str]:
        with self._lock:
            return sorted(self._open, key=lambda k: (len(k), k))

    def final_ops(self) -> list[Invocation]:
        with self._lock:
            retries = [Invocation(PAY, k, self._open[k].amount)
                       for k in sorted(self._open, key=lambda k: (len(k), k))]
        return [*retries, Invocation(READ, STORED)]

    def checkers(self) -> list[Checker]:
        return []


class Confirming:
    """A client of ``payments`` that tells the ledger which of its attempts were answered
    ``ok`` in time (the caller's view: it measures from its own call)."""

    def __init__(self, inner: Client, payments: Payments,
                 clock: Callable[[], float] = time.monotonic):
        self.inner, self.payments, self.clock = inner, payments, clock

    def invoke(self, op: Invocation) -> Result:
        began = self.clock()
        result = self.inner.invoke(op)
        if op.f == PAY and result.type == "ok":
            self.payments.confirm(str(op.key), self.clock() - began)
        return result

    def close(self) -> None:
        self.inner.close()
