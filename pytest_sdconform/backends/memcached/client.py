"""The pymemcache ``HashClient`` of the register workloads: the client-side hash that is all a
memcached cluster has, one server per key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...workloads import Invocation, Result

UNREACHABLE = "unreachable"  # a survey's answer for a server that could not be asked

# pymemcache's HashClient puts a failed server back into its ring once ``dead_timeout`` has
# passed since it failed, checked at every call: a negative one puts it back at the next call.
STAY_IN_RING = -1.0


class MemcachedClient:
    """Reads (``get``) and writes (``set``, acknowledged: ``noreply`` off) through one
    ``pymemcache.HashClient`` over ``servers`` (name -> (host, port)); its default hash,
    rendezvous (highest random weight), picks each key's one server.

    No retries: ``retry_attempts=0``, so a server that fails one call is at once marked dead.
    ``drop_failed_s``: how long the HashClient then leaves it out of its ring, its keys hashed
    over the rest meanwhile (what pymemcache calls ``dead_timeout``); ``None`` keeps every
    server in the ring, so a dead server's keys fail instead of moving.

    Each completion names the server the ring chose (``node``). A connection refused sent
    nothing: ``fail``; a timeout or a broken connection after a ``set`` was sent is ``info``;
    reads change nothing, so a read that did not answer is ``fail``. ``survey``: every read
    also asks every server of ``servers`` directly for the key, recorded as ``copies`` (name ->
    the value it holds, ``None``, or ``"unreachable"``): where the key lives, whatever the
    ring says. ``ring``: the servers (names) this client hashes over, all of them by default:
    clients configured with different server lists.
    """

    def __init__(self, servers: Mapping[str, tuple[str, int]], timeout: float = 0.5,
                 drop_failed_s: float | None = None, survey: bool = False,
                 ring: Sequence[str] | None = None):
        from pymemcache.client.hash import HashClient  # type: ignore[import-untyped]

        if not servers:
            raise ValueError("memcached client: no servers to hash keys over")
        ring = list(servers) if ring is None else list(ring)
        unknown = sorted(set(ring) - set(servers))
        if not ring or unknown:
            raise ValueError(f"memcached client: the ring {ring} must name some of the servers "
                             f"{sorted(servers)}" + (f" (unknown: {unknown})" if unknown else ""))
        if drop_failed_s is not None and drop_failed_s < 0:
            raise ValueError(f"memcached client: drop_failed_s must be >= 0, not {drop_failed_s}")
        self.servers = dict(servers)
        self.timeout = timeout
        self.survey = survey
        self._names = {_server_key(s): name for name, s in servers.items()}
        self._hash = HashClient(
            [servers[n] for n in ring], connect_timeout=timeout, timeout=timeout,
            retry_attempts=0, dead_timeout=STAY_IN_RING if drop_failed_s is None
            else drop_failed_s, default_noreply=False, ignore_exc=False)
        self._direct: dict[str, Any] = {}  # the survey's own connections, one per server

    def invoke(self, op: Invocation) -> Result:
        from pymemcache.exceptions import (  # type: ignore[import-untyped]
            MemcacheError,
            MemcacheServerError,
            MemcacheUnexpectedCloseError,
        )

        key = str(op.key)
        try:  # the server the ring names now (the call below asks the ring the same question)
            server = self._hash._get_client(key)
        except MemcacheError as e:  # every server out of the ring: nothing was sent
            return Result("fail", error=str(e))
        node = self._names.get(_server_key(server.server), str(server.server))
        sent = False
        try:
            if op.f == "read":
                raw = self._hash.get(key)
                value = None if raw is None else int(raw)
                extra = {"copies": self.copies(key)} if self.survey else None
                return Result("ok", value, node=node, extra=extra)
            if op.f != "write":
                raise ValueError(f"memcached client: no operation {op.f!r} (read, write)")
            sent = True
            if not self._hash.set(key, str(op.value).encode(), noreply=False):
                return Result("fail", error="NOT_STORED", node=node)
            return Result("ok", node=node)
        except ConnectionRefusedError as e:
            return Result("fail", error=f"refused: {e}", node=node)
        except (OSError, MemcacheUnexpectedCloseError) as e:
            return Result("info" if sent else "fail", error=f"{type(e).__name__}: {e}",
                          node=node)
        except MemcacheServerError as e:  # SERVER_ERROR: the server refused it, nothing stored
            return Result("fail", error=str(e), node=node)

    def copies(self, key: str) -> dict[str, Any]:
        """What each server holds for ``key``, asked directly (not through the ring), every
        server of ``servers`` whether the ring has it or not."""
        from pymemcache.client.base import Client  # type: ignore[import-untyped]
        from pymemcache.exceptions import MemcacheError

        out: dict[str, Any] = {}
        for name, server in self.servers.items():
            direct = self._direct.get(name)
            if direct is None:
                direct = self._direct[name] = Client(server, connect_timeout=self.timeout,
                                                     timeout=self.timeout)
            try:
                raw = direct.get(key)
            except (OSError, MemcacheError):
                out[name] = UNREACHABLE
                continue
            out[name] = None if raw is None else int(raw)
        return out

    def close(self) -> None:
        for direct in self._direct.values():
            direct.close()
        self._hash.close()


def _server_key(server: Any) -> str:
    """The HashClient's name of a (host, port) server: ``host:port``."""
    if isinstance(server, tuple) and len(server) == 2:
        return f"{server[0]}:{server[1]}"
    return str(server)

