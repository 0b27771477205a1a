"""What the harness knows of a MongoDB deployment once it answers, and where its members
listen (shared by the topology, the administration and the clients)."""

from __future__ import annotations

from dataclasses import dataclass

from ...nodes.routes import via

PORT = 27017
REPLICA_SET = "rs0"


@dataclass(frozen=True)
class MongoInfo:
    """What the harness knows of the deployment once it answers."""

    addresses: dict[str, str]  # member name -> address (empty on the external runtime)
    database: str  # the run's own database
    uri: str | None = None  # the external runtime's deployment (SDCONFORM_MONGODB_URI)
    replica_set: str = REPLICA_SET

    def hosts(self) -> list[tuple[str, int]]:
        """Where the harness reaches each member (``nodes/routes.py``)."""
        return [via(a, PORT) for a in self.addresses.values()]
