"""Generic claim gen-consistent-hashing (claims.md §1) on three real memcached servers, the
simplest store whose only "cluster" is the clients' hash: which keys move when a server leaves.

Run: ``pytest --sdconform suites/generic``. Keys are written while all three servers are up;
one server is killed, and each client drops it from its ring at its first failed call. Every
completion names the server that served it, so the history shows, key by key, whether a key
written to a surviving server is still read there (``checkers/remap.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import pytest

from pytest_sdconform.backends import memcached as mc
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.remap import KeysStay
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation, Result
from pytest_sdconform.workloads.keys import FreshKeys

pytestmark = pytest.mark.backend("memcached")

# Longer than a case: a server a client dropped stays out of its ring to the end.
DROP_FAILED_S = 60.0
# Keys written for 2 s with every server up, then one killed for 2 s (the window measured).
RUN = RunConfig(quiet=2.0, fault_duration=2.0, op_delay=0.005)


class ModuloClient:
    """The naive sharding of 003:439: a key's server is ``crc32(key) mod`` the number of servers
    still up (in name order); a server that fails a call is dropped, and the count changes.
    No retries; a refused connection sent nothing (``fail``), a broken ``set`` may have happened
    (``info``)."""

    def __init__(self, servers: Mapping[str, tuple[str, int]], timeout: float = 0.5) -> None:
        from pymemcache.client.base import Client  # type: ignore[import-untyped]

        self.up = sorted(servers)
        self.clients = {n: Client(servers[n], connect_timeout=timeout, timeout=timeout,
                                  default_noreply=False) for n in servers}

    def invoke(self, op: Invocation) -> Result:
        from pymemcache.exceptions import MemcacheError  # type: ignore[import-untyped]

        if not self.up:
            return Result("fail", error="no server left in the ring")
        key = str(op.key)
        node = self.up[zlib.crc32(key.encode()) % len(self.up)]
        client: Any = self.clients[node]
        try:
            if op.f == "read":
                raw = client.get(key)
                return Result("ok", None if raw is None else int(raw), node=node)
            client.set(key, str(op.value).encode())
            return Result("ok", node=node)
        except ConnectionRefusedError as e:
            self.up.remove(node)
            return Result("fail", error=f"refused: {e}", node=node)
        except (OSError, MemcacheError) as e:
            self.up.remove(node)
            return Result("info" if op.f == "write" else "fail", error=str(e), node=node)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


@pytest.mark.claim("gen-consistent-hashing")
def test_a_lost_server_moves_only_its_own_keys_on_a_hash_ring(sdconform: Case) -> None:
    """pymemcache's HashClient (rendezvous hashing, a consistent hash): once a client drops
    the killed server, only that server's keys hash elsewhere; every other key is still read
    from the server it was written to."""
    cluster = sdconform.start(mc.Topology())
    servers = cluster.info.servers()
    sdconform.run(FreshKeys(prefix="ring:", read_ratio=0.6),
                  lambda i: mc.MemcachedClient(servers, drop_failed_s=DROP_FAILED_S),
                  [cluster.kill()], judge=KeysStay(), run=RUN,
                  config={"client": "pymemcache HashClient (rendezvous hash)",
                          "dead_timeout_s": DROP_FAILED_S, "servers": len(servers)})


@pytest.mark.claim("gen-consistent-hashing", config="modulo-n")
def test_a_lost_server_moves_most_keys_with_modulo_hashing(sdconform: Case) -> None:
    """The contrast the claim's sources draw (003:439): ``hash mod N`` over the servers still
    up; when one leaves, N changes and keys of the surviving servers move too."""
    cluster = sdconform.start(mc.Topology())
    servers = cluster.info.servers()
    sdconform.run(FreshKeys(prefix="mod:", read_ratio=0.6), lambda i: ModuloClient(servers),
                  [cluster.kill()], judge=KeysStay(), run=RUN,
                  config={"client": "crc32(key) mod (servers up)", "servers": len(servers)})
