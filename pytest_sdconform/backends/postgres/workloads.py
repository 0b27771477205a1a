"""Workloads of PostgreSQL's application claims, for ``client.TicketClient`` and
``client.BookingClient``: ticket servers handing out IDs, and rooms booked until sold out.
Their judges (``judges.apps``) decide the cases; they need no checker of their own."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...checkers import Checker
from ...workloads import Invocation


@dataclass
class Tickets:
    """``next`` on a random ticket server of ``servers``: each call asks for a new ID."""

    servers: Sequence[str] = ("odd", "even")
    name = "tickets"

    def __post_init__(self) -> None:
        if not self.servers:
            raise ValueError("tickets: no ticket server")

    def next_op(self, rng: random.Random) -> Invocation:
        return Invocation("next", self.servers[rng.randrange(len(self.servers))])

    def final_ops(self) -> list[Invocation]:
        return []

    def checkers(self) -> list[Checker]:
        return []


@dataclass
class Bookings:
    """``book`` a room, each booking with a unique id. Clients crowd a few rooms at a time
    (``window``), and the window moves on every ``per_room`` bookings, so rooms keep selling
    out (their last places fought over) for the whole run. One final read counts each room's
    bookings."""

    window: int = 2
    per_room: int = 6
    name = "bookings"
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.window < 1 or self.per_room < 1:
            raise ValueError(f"bookings: window ({self.window}) and per_room "
                             f"({self.per_room}) must be at least 1")

    def next_op(self, rng: random.Random) -> Invocation:
        with self._lock:
            n = next(self._ids)
        return Invocation("book", n // self.per_room + rng.randrange(self.window), n)

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", "bookings")]

    def checkers(self) -> list[Checker]:
        return []
