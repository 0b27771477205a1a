"""Workloads: which operations clients issue and which checkers judge them. They know nothing of
databases; each backend supplies a Client that turns an Invocation into real calls."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol

from ..checkers import Checker


@dataclass(frozen=True)
class Invocation:
    f: str
    key: Any = None
    value: Any = None


@dataclass
class Result:
    """ok: it happened; fail: it definitely did not; info: unknown (e.g. a timeout)."""

    type: str
    value: Any = None
    error: Any = None
    node: str | None = None
    extra: dict[str, Any] | None = None


class Client(Protocol):
    """One client connection, used by one worker thread at a time."""

    def invoke(self, op: Invocation) -> Result: ...

    def close(self) -> None: ...


class Workload(Protocol):
    name: str

    def next_op(self, rng: random.Random) -> Invocation: ...

    def final_ops(self) -> list[Invocation]:
        """Reads to run after heal and settle (recorded with ``final: true``)."""
        ...

    def checkers(self) -> list[Checker]: ...
