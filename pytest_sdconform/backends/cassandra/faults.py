"""The Cassandra backend's own fault: clock skew on the client side. With client-supplied write
timestamps (``USING TIMESTAMP``), a client whose clock runs behind gives its writes older
timestamps; ``ClientClock`` is the clock the clients read, ``ClientClockSkew`` the fault that
moves some of them.
"""

from __future__ import annotations

import time
from typing import Any


class ClientClock:
    """Write timestamps (microseconds) that clients supply with ``USING TIMESTAMP``; a skew
    (per client index) moves some clients' clocks as NTP trouble would."""

    def __init__(self) -> None:
        self.skew_us: dict[int, int] = {}

    def now_us(self, client: int) -> int:
        return time.time_ns() // 1000 + self.skew_us.get(client, 0)


class ClientClockSkew:
    """A nemesis for client clocks: while on, odd-numbered clients run ``ms`` behind."""

    name = "clock-skew"

    def __init__(self, clock: ClientClock, clients: int, ms: int = 2000):
        self.clock, self.clients, self.ms = clock, clients, ms

    def start(self) -> dict[str, Any]:
        self.clock.skew_us = {i: -self.ms * 1000 for i in range(1, self.clients, 2)}
        return {
            "clients_behind": sorted(self.clock.skew_us),
            "skew_ms": -self.ms,
            "where": "client-supplied write timestamps (USING TIMESTAMP)",
        }

    def stop(self) -> dict[str, Any]:
        self.clock.skew_us = {}
        return {}
