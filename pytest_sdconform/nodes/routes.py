"""Where the harness connects to reach a node's port.

Usually at the node's own address and port: local nodes are on loopback addresses, and a
container's address is routed to the harness when the engine runs on the same Linux machine.
Docker Desktop's VM or an engine on another machine publishes ports instead: the docker runtime
then forwards each node port the harness needs through a port published on the engine's host,
and says so here. Every connection the harness makes to a node goes through ``via``; the nodes
themselves keep talking to each other's real addresses (their processes do not see this table).

The table is the harness process's own, like its resolver: one entry per node address and port
(addresses are unique to a run), removed when the run's runtime closes.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_table: dict[tuple[str, int], tuple[str, int]] = {}


def via(address: str, port: int) -> tuple[str, int]:
    """The host and port the harness connects to for ``address:port``."""
    return _table.get((address, port), (address, port))


def origin(host: str, port: int) -> str:
    """The node address a connection to ``host:port`` reaches (what a client records as the
    node that served it): the reverse of ``via``."""
    with _lock:
        for (address, _), where in _table.items():
            if where == (host, port):
                return address
    return host


def url(scheme: str, address: str, port: int, path: str = "") -> str:
    host, at = via(address, port)
    return f"{scheme}://{host}:{at}{path}"


def publish(address: str, port: int, host: str, host_port: int) -> None:
    with _lock:
        _table[(address, port)] = (host, host_port)


def forget(addresses: set[str]) -> None:
    """Drop the routes of these node addresses (their run is over)."""
    with _lock:
        for key in [k for k in _table if k[0] in addresses]:
            del _table[key]


def published() -> dict[tuple[str, int], tuple[str, int]]:
    with _lock:
        return dict(_table)
