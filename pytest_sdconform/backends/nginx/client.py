"""HTTP clients through the balancer, and the request workload.

Operations map to methods: ``read`` is ``GET /kv/<key>``, ``write`` is ``PUT`` (idempotent),
``send`` is ``POST`` (append to the key's log: not idempotent), ``poll`` is ``GET ?log=1``
(the whole log, as ``[key, offset, value]`` triples for the delivery checker).

Outcomes: 2xx is ``ok``. A refused connection to the balancer, any failed read, and a 4xx or
503 are ``fail`` (nothing was applied). A 502/504 is ``fail`` only when nginx never connected
to an upstream (``X-Upstream-Connect`` is ``-`` for every attempt); once a request reached an
app server it may have been applied, so a write is ``info``, as is a timeout or a reset after
sending. ``Result.node`` is the app server that answered (its ``X-Upstream``) and ``extra``
holds the HTTP status and nginx's ``$upstream_addr`` (every attempt, retries included).
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...checkers import Checker
from ...checkers.delivery import DeliveryChecker
from ...nodes.routes import via
from ...workloads import Invocation, Result
from .conf import PORT

METHODS = {"read": "GET", "write": "PUT", "send": "POST", "poll": "GET"}
READS = ("read", "poll")


class HttpClient:
    """One client: a new connection to the balancer per request (no keep-alive, no retries);
    with ``session``, every request carries the cookie ``sid=<session>``.

    ``fallback``: more balancers (two nginx behind one name, as a managed balancer is): when
    the connection to one is refused or unreachable, nothing was sent, so the client connects
    to the next, as a browser does with a name's several addresses. ``extra["balancer"]`` is
    the one that answered."""

    def __init__(
        self,
        address: str,
        port: int = PORT,
        timeout: float = 3.0,
        session: str | None = None,
        namespace: bool = False,
        fallback: Sequence[str] = (),
    ):
        self.address, self.port, self.timeout, self.session = address, port, timeout, session
        self.fallback = list(fallback)
        # With ``namespace`` a session's keys are its own (a cart): ``/kv/<session>.<key>``.
        self.prefix = f"{session}." if namespace and session else ""

    def invoke(self, op: Invocation) -> Result:
        method = METHODS[op.f]
        path = f"/kv/{self.prefix}{op.key}" + ("?log=1" if op.f == "poll" else "")
        body = None if method == "GET" else json.dumps(op.value).encode()
        headers = {"Connection": "close"}
        if self.session:
            headers["Cookie"] = f"sid={self.session}"
        conn, balancer, refused = None, self.address, []
        for balancer in [self.address, *self.fallback]:
            conn = http.client.HTTPConnection(*via(balancer, self.port), timeout=self.timeout)
            try:
                conn.connect()
                break
            except OSError as e:  # refused or unreachable: nothing was sent
                conn.close()
                conn = None
                refused.append(f"{balancer}: {e}")
        if conn is None:
            return Result("fail", error=f"connect: {'; '.join(refused)}")
        sent = False
        try:
            conn.request(method, path, body=body, headers=headers)
            sent = True
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            kind = "fail" if op.f in READS or not sent else "info"
            return Result(kind, error=f"{type(e).__name__}: {e}")
        finally:
            conn.close()
        return self._result(op, resp, data, balancer)

    def _result(self, op: Invocation, resp: http.client.HTTPResponse, data: bytes,
                balancer: str) -> Result:
        status = resp.status
        node = resp.getheader("X-Upstream")
        extra = {"status": status, "upstream": resp.getheader("X-Upstream-Addr")}
        if self.fallback:
            extra["balancer"] = balancer
        if 200 <= status < 300:
            doc = json.loads(data or b"{}")
            if op.f == "read":
                return Result("ok", doc.get("value"), node=node, extra=extra)
            if op.f == "poll":
                log = [[op.key, i, v] for i, v in enumerate(doc.get("log", []))]
                return Result("ok", log, node=node, extra=extra)
            return Result("ok", node=node, extra=extra)
        error = f"HTTP {status}"
        connects = (resp.getheader("X-Upstream-Connect") or "-").replace(" ", "").split(",")
        reached = any(c not in ("-", "") for c in connects)
        if op.f in READS or status < 500 or status == 503 or not reached:
            return Result("fail", error=error, node=node, extra=extra)
        return Result("info", error=error, node=node, extra=extra)

    def close(self) -> None:
        pass


@dataclass
class Requests:
    """GETs, PUTs and POSTs on a few keys; every written or appended value is unique.

    Final operations read each key and each key's log. Checked for at-most-once and
    at-least-once delivery of the POSTs: each acknowledged append is in the log exactly once.
    """

    name = "requests"
    keys: int = 2
    get: float = 0.4
    put: float = 0.3  # the rest are POSTs
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        key = f"k{rng.randrange(self.keys)}"
        r = rng.random()
        if r < self.get:
            return Invocation("read", key)
        with self._lock:
            value = next(self._values)
        return Invocation("write" if r < self.get + self.put else "send", key, value)

    def final_ops(self) -> list[Invocation]:
        return [Invocation(f, f"k{i}") for i in range(self.keys) for f in ("read", "poll")]

    def checkers(self) -> list[Checker]:
        return [DeliveryChecker(("at-least-once", "at-most-once"))]


def probe(address: str, session: str | None = None) -> str | None:
    """Which app server answers a GET through the balancer now (its name), or None."""
    r = HttpClient(address, timeout=3.0, session=session).invoke(Invocation("read", "probe"))
    return r.node if r.type == "ok" else None


__all__ = ["HttpClient", "Requests", "probe"]
