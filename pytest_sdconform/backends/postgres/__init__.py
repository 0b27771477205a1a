"""PostgreSQL: a primary, with an async or sync streaming standby, and its ``PgInfo``
(``topology.py``); the psycopg 3 clients (``client.py``: registers, sets and transactions;
ticket servers; bookings) and their workloads (``workloads.py``); the faults that need
PostgreSQL's own controls: failover, replay pause, a point-in-time restore and a power
loss that reads a heap file either side of the cut, a region lost behind a slow link
(``faults.py``, ``heap.py``;
a crash is the generic kill, which takes the whole process tree); the judges only PostgreSQL
needs (``judges/``)."""

from .client import BookingClient, PgClient, TicketClient, connect_timeout
from .faults import (
    ARCHIVING,
    SSL_REQUEST,
    Failover,
    InspectedPowerLoss,
    PointInTimeRestore,
    RegionLoss,
    ReplayPause,
    stream_through,
)
from .topology import (
    PORT,
    PgInfo,
    Settings,
    Topology,
    caught_up,
    connect,
    primary_spec,
    provision,
    reconnect_s,
    standby_spec,
)

__all__ = [
    "ARCHIVING",
    "PORT",
    "SSL_REQUEST",
    "BookingClient",
    "Failover",
    "InspectedPowerLoss",
    "PgClient",
    "PgInfo",
    "PointInTimeRestore",
    "RegionLoss",
    "ReplayPause",
    "Settings",
    "TicketClient",
    "Topology",
    "caught_up",
    "connect",
    "connect_timeout",
    "primary_spec",
    "provision",
    "reconnect_s",
    "standby_spec",
    "stream_through",
]
