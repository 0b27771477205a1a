"""Memcached claims (claims.md, the Memcached rows) against three real memcached servers and
pymemcache's HashClient, the client-side hash that is all the "cluster" there is.

Run: ``pytest --sdconform suites/memcached``. Every write is acknowledged (``noreply`` off)
and every completion names the server the client's hash chose, so each case can say which
server held what when one was killed, restarted or cut off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pytest_sdconform.backends import memcached as mc
from pytest_sdconform.case import Case
from pytest_sdconform.faults.composite import InTurn
from pytest_sdconform.faults.latency import RoundTrip, Timeout
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.keys import FreshKeys
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("memcached")

# pymemcache's own default: a server that failed stays out of the HashClient's ring for 60 s,
# its keys hashed over the others meanwhile (longer than a case: it never comes back in).
PYMEMCACHE_DEAD_TIMEOUT_S = 60.0
# One kill a case: writes before it, a second or two down, writes after the restart.
KILL_RUN = RunConfig(quiet=2.0, fault_duration=1.5, op_delay=0.005)


def clients(servers: Mapping[str, tuple[str, int]], **kw: Any
            ) -> Callable[[int], mc.MemcachedClient]:
    return lambda i: mc.MemcachedClient(servers, **kw)


@pytest.mark.claim("memcached-ha")
def test_a_killed_servers_keys_are_gone_and_no_other_server_holds_them(sdconform: Case
                                                                        ) -> None:
    """"This distributed approach ensures high availability, fault tolerance": a server is
    killed. The clients route around it as pymemcache does (out of the ring for its
    dead_timeout, its keys hashed over the others), so they stay available, but what the dead
    server held is nowhere: reads of its keys miss on the server they now hash to, and every
    read also asks each server directly (a survey), which finds no copy. After the restart
    the server is empty too. No replication, no failover of data."""
    cluster = sdconform.start(mc.Topology())
    sdconform.run(FreshKeys(read_ratio=0.5),
                  clients(cluster.info.servers(), drop_failed_s=PYMEMCACHE_DEAD_TIMEOUT_S,
                          survey=True),
                  [cluster.kill()], judge=mc.NoReplica(), run=KILL_RUN,
                  config={"client": "pymemcache HashClient (rendezvous hash)",
                          "dead_timeout_s": PYMEMCACHE_DEAD_TIMEOUT_S, "retries": 0,
                          "reads": "ring, and every server surveyed"})


@pytest.mark.claim("memcached-no-persistence")
def test_a_restarted_server_comes_back_empty_and_only_it_loses_data(sdconform: Case) -> None:
    """"No persistence": a server is killed and restarted. Every write it acknowledged before
    the kill is gone from it (counted), every write on the other servers, and on it after
    the restart, is kept (sharding: the loss is that one server's). The clients keep every
    server in their ring, so a key is read back from the server that took its write."""
    cluster = sdconform.start(mc.Topology())
    sdconform.run(FreshKeys(read_ratio=0.2), clients(cluster.info.servers()),
                  [cluster.kill()], judge=mc.RestartEmpties(), run=KILL_RUN,
                  config={"client": "pymemcache HashClient (rendezvous hash)",
                          "ring": "fixed (a dead server's keys fail, never move)"})


@pytest.mark.claim("memcached-centralized")
def test_clients_with_different_server_lists_leave_servers_disagreeing(sdconform: Case
                                                                        ) -> None:
    """"A centralized server coordinates the storage and retrieval": half the clients hash
    over all three servers, half over n1 and n2 only, and all write the same keys. A key the
    two lists place on different servers is written to both, and the survey after the run
    finds the two servers holding different values for it: nothing coordinates them, and
    each key lives only where a client's hash put it."""
    cluster = sdconform.start(mc.Topology())
    servers = cluster.info.servers()
    lists = [list(servers), [n for n in servers if n != "n3"]]

    def client(i: int) -> mc.MemcachedClient:
        return mc.MemcachedClient(servers, ring=lists[i % 2], survey=True)

    sdconform.run(Register(keys=30, read_ratio=0.3, prefix="split:"), client, checkers=[],
                  judge=mc.ServersDisagree(),
                  config={"server_lists": [" ".join(ring) for ring in lists],
                          "survey": "every server, after the run"})


@pytest.mark.claim("memcached-centralized")
def test_a_client_cut_from_one_server_still_serves_the_other_servers_keys(sdconform: Case
                                                                          ) -> None:
    """The clients reach each server through a toxiproxy of its own; each server in turn is
    cut off (the timeout toxic: data dropped, connections held). Meanwhile the keys of the
    other two are served, and only the cut server's keys fail: no server is central, and
    no other server takes over its keys. The clients keep every server in their ring."""
    cluster = sdconform.start(mc.Topology())
    proxies = cluster.toxiproxy()
    through = {n: proxies.proxy(n, f"{a}:{mc.PORT}") for n, a in cluster.info.addresses.items()}
    probe = RoundTrip(payload=b"version\r\n", timeout=0.5)
    cuts = InTurn([Timeout(proxies.client, [p], ms=0, probe=probe, samples=2)
                   for p in through.values()], name="client-cut")
    servers = {n: (p.host, p.port) for n, p in through.items()}
    sdconform.run(Register(keys=12, read_ratio=0.5, prefix="cut:"),
                  clients(servers, timeout=0.3), [cuts], checkers=[],
                  judge=mc.OthersServeWhileCut("client-cut"),
                  run=RunConfig(duration=11.0, quiet=1.0, fault_duration=1.5, op_timeout=2.0),
                  config={"path": "client -> toxiproxy per server -> memcached",
                          "cut": "each server in turn (toxiproxy timeout, 0 ms)"})
