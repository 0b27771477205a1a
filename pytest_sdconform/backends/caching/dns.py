"""DNS-based discovery: dnsmasq answering for instances, clients that cache its answers.

``DnsTopology(ttl_s=2, instances=2)``: node ``dns`` (Debian's ``dnsmasq``, on its own loopback
address, port 53, answering only from a hosts file in its conf folder: ``svc.sdc.test`` has
an A record per instance, each with TTL ``--local-ttl``) and nodes ``i1``... (``origin.py``
HTTP servers).

``DnsClient``: one app instance's client. It resolves the name with dnspython (straight to the
dnsmasq node) and keeps the answer in dnspython's cache for the TTL the answer gave, as a
stub resolver does; each request goes to one of the cached addresses (in turn). A read records
the instance it called (``node``) and, when it had to resolve, how long that took
(``resolve_s``).

``DeadInstance``: an instance is gone: its process is killed and its record removed (hosts
file rewritten, SIGHUP), proven by asking dnsmasq until its answer no longer has it; the heal
restarts the instance and puts the record back, proven the same way.

``TtlExpiry`` judges "if one instance is gone, the client app will see it down until TTL
expires": requests still reach the dead instance after its record went (exercised), and none
begins later than the record's removal plus the TTL plus the longest resolution measured.
"""

from __future__ import annotations

import http.client
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    in_window,
    windows_of,
)
from ...checkers.verdict import Anomaly
from ...cluster import Cluster
from ...faults import FaultNotEffective
from ...history import History
from ...nodes import NodeSpec
from ...nodes.readiness import TcpPort
from ...provision import apt_install
from ...workloads import Invocation, Result
from .. import base
from ..own_server import python_node
from .cdn import PORT

NAME = "svc.sdc.test"
HOSTS = "hosts"  # in the dns node's conf folder


def hosts_file(addresses: dict[str, str], instances: list[str]) -> str:
    return "".join(f"{addresses[i]} {NAME}\n" for i in instances)


def resolve(server: str, timeout: float = 1.0) -> list[str]:
    """The addresses dnsmasq answers now (no cache)."""
    import dns.resolver

    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [server]
    r.lifetime = timeout
    try:
        return sorted(a.address for a in r.resolve(NAME, "A"))
    except dns.resolver.NoAnswer:
        return []


@dataclass(frozen=True)
class DnsInfo:
    addresses: dict[str, str]  # dns, i1, i2...
    instances: list[str]
    ttl_s: int

    @property
    def server(self) -> str:
        return self.addresses["dns"]


@dataclass
class DnsTopology(base.Topology[DnsInfo]):
    backend: ClassVar[str] = "caching"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)

    ttl_s: int = 2
    instances: int = 2

    def __post_init__(self) -> None:
        if self.ttl_s < 1 or self.instances < 2:
            raise ValueError("dns: need a TTL of at least 1 s and at least two instances")

    def describe(self) -> dict[str, Any]:
        return {"dns": "dnsmasq (hosts file, --local-ttl)", "ttl_s": self.ttl_s,
                "instances": self.instances, "client": "dnspython resolver cache"}

    def provision(self) -> None:
        apt_install(["dnsmasq-base"], ["dnsmasq"])

    def names(self) -> list[str]:
        return [f"i{n}" for n in range(1, self.instances + 1)]

    def node_names(self, runtime: str) -> list[str]:
        return ["dns", *self.names()]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        a = start.addresses
        folder = start.paths("dns").conf
        dnsmasq = NodeSpec(
            "dns", a["dns"],
            ["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
             f"--addn-hosts={folder / HOSTS}", f"--local-ttl={self.ttl_s}",
             f"--listen-address={a['dns']}", "--bind-interfaces", "--port=53",
             "--user=root", f"--pid-file={folder / 'dnsmasq.pid'}", "--log-facility=-"],
            ready=TcpPort(a["dns"], 53), ready_timeout=20,
            files={HOSTS: hosts_file(a, self.names())})
        apps = [python_node(i, a[i], "pytest_sdconform.backends.caching.origin",
                            ["--bind", a[i], "--port", str(PORT)], ready=TcpPort(a[i], PORT))
                for i in self.names()]
        return [dnsmasq, *apps]

    def ready(self, start: base.Start) -> DnsInfo:
        return DnsInfo(dict(start.addresses), self.names(), self.ttl_s)


class DeadInstance:
    """Kill ``instance`` and remove its record; the heal restarts it and puts it back."""

    name = "dead-instance"

    def __init__(self, cluster: Cluster[DnsInfo], instance: str = "i1", timeout: float = 10.0):
        self.cluster, self.instance, self.timeout = cluster, instance, timeout

    def _records(self, instances: list[str], want: bool) -> float:
        info = self.cluster.info
        dns = self.cluster.node("dns")
        dns.write_file(HOSTS, hosts_file(info.addresses, instances))
        if not dns.signal(signal.SIGHUP):
            raise FaultNotEffective("dead-instance: dnsmasq is not running")
        began = time.monotonic()
        target = info.addresses[self.instance]
        while time.monotonic() - began < self.timeout:
            if (target in resolve(info.server)) == want:
                return round(time.monotonic() - began, 4)
            time.sleep(0.01)
        raise FaultNotEffective(f"dead-instance: dnsmasq still {'lacks' if want else 'has'} "
                                f"{target} after {self.timeout}s")

    def start(self) -> dict[str, Any]:
        node = self.cluster.node(self.instance)
        node.kill()
        if node.is_running():
            raise FaultNotEffective(f"dead-instance: {self.instance} is still running")
        rest = [i for i in self.cluster.info.instances if i != self.instance]
        took = self._records(rest, want=False)
        return {"instance": self.instance, "record_removed_in_s": took}

    def stop(self) -> dict[str, Any]:
        node = self.cluster.node(self.instance)
        if not node.is_running():
            node.start()
        took = self._records(self.cluster.info.instances, want=True)
        return {"restarted": self.instance, "record_back_in_s": took}


class DnsClient:
    def __init__(self, info: DnsInfo, timeout: float = 1.0):
        import dns.resolver

        self.info, self.timeout = info, timeout
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = [info.server]
        self.resolver.lifetime = timeout
        self.resolver.cache = dns.resolver.Cache()  # honours each answer's TTL
        self.by_address = {info.addresses[i]: i for i in info.instances}
        self.turn = 0
        self.lock = threading.Lock()

    def invoke(self, op: Invocation) -> Result:
        if op.f != "read":
            raise ValueError(f"dns client: only reads, not {op.f!r}")
        began = time.monotonic()
        try:
            cached = self.resolver.cache.get((dns_name(), 1, 1)) is not None
            answer = self.resolver.resolve(NAME, "A")
        except Exception as e:
            return Result("fail", error=f"resolve: {type(e).__name__}: {e}"[:200])
        extra: dict[str, Any] = {}
        if not cached:
            extra["resolve_s"] = round(time.monotonic() - began, 6)
        addresses = sorted(a.address for a in answer)
        self.turn += 1
        address = addresses[self.turn % len(addresses)]
        node = self.by_address.get(address, address)
        extra["addresses"] = len(addresses)
        conn = http.client.HTTPConnection(address, PORT, timeout=self.timeout)
        try:
            conn.request("GET", f"/obj/{op.key}")
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                return Result("fail", error=f"{node} answered {resp.status}", node=node,
                              extra=extra)
            return Result("ok", body.decode()[:80], node=node, extra=extra)
        except (OSError, http.client.HTTPException) as e:
            return Result("fail", error=f"{type(e).__name__}: {e}"[:200], node=node,
                          extra=extra)
        finally:
            conn.close()

    def close(self) -> None:
        pass


def dns_name() -> Any:
    import dns.name

    return dns.name.from_text(NAME)


@dataclass
class TtlExpiry:
    """See the module docstring. ``dead``: the instance ``DeadInstance`` removes."""

    ttl_s: float
    dead: str = "i1"
    fault: str = "dead-instance"
    name: str = "dns-ttl-expiry"
    exercises: str = field(default="requests that still reached the dead instance after its "
                                   "record was removed (the client saw it down)")

    def _bound(self, history: History) -> tuple[float, str]:
        resolve_s = max((float(c.completion.get("resolve_s") or 0) for c in history.complete()
                         if c.completion is not None), default=0.0)
        return self.ttl_s + resolve_s, (f"TTL {self.ttl_s}s + longest resolution "
                                        f"{resolve_s:.3f}s")

    def _seen(self, history: History) -> list[tuple[Any, float]]:
        """(request, seconds after the record's removal) of each request to the dead
        instance that began while it was gone."""
        out = []
        for w in windows_of(history, self.fault):
            for c in client_ops(history):
                if c.completion is not None and c.completion.node == self.dead \
                        and in_window(c, w):
                    out.append((c, (c.start - w.start) / NS))
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        if not windows_of(history, self.fault):
            return Exercise(False, f"no {self.fault} window")
        seen = self._seen(history)
        if not seen:
            return Exercise(False, "no request reached the dead instance after its record "
                                   "was removed (every client had resolved again already)")
        return Exercise(True, f"{len(seen)} requests reached the dead instance after its "
                              f"record was removed, the last {max(s for _, s in seen):.3f}s "
                              "after")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        seen = self._seen(history)
        if not seen:
            return Ruling(INCONCLUSIVE, "no request reached the dead instance while it was gone")
        bound, why = self._bound(history)
        late = [(c, s) for c, s in seen if s > bound]
        if late:
            last = max(s for _, s in late)
            return Ruling(REFUTED, f"{len(late)} requests went to the dead instance later than "
                                   f"the TTL allows ({why}); the last {last:.3f}s after the "
                                   "record's removal", [
                Anomaly("dead-endpoint-after-ttl", c.indices,
                        f"request to {self.dead} began {s:.3f}s after its record was removed",
                        key=c.key) for c, s in late[:20]])
        worst = max(s for _, s in seen)
        return Ruling(UPHELD, f"{len(seen)} requests saw the dead instance, the last "
                              f"{worst:.3f}s after its record was removed, within {why}")
