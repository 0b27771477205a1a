"""PostgreSQL: topologies (a primary, with an async or sync streaming standby), the psycopg 3
client, and the faults that need PostgreSQL's own controls (failover, replay pause)."""

from .client import PgClient
from .faults import Crash, Failover, ReplayPause
from .topology import PORT, Settings, Topology, caught_up, connect, provision

__all__ = [
    "PORT",
    "Crash",
    "Failover",
    "PgClient",
    "ReplayPause",
    "Settings",
    "Topology",
    "caught_up",
    "connect",
    "provision",
]
