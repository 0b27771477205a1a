"""PostgreSQL: topologies (a primary, with an async or sync streaming standby), the psycopg 3
client, and the faults that need PostgreSQL's own controls (failover, replay pause)."""

from .client import PgClient, connect_timeout
from .faults import Crash, Failover, ReplayPause
from .topology import PORT, Settings, Topology, caught_up, connect, provision, reconnect_s

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
    "connect_timeout",
    "provision",
    "reconnect_s",
]
