"""The faults on the clients' path: toxiproxy in front of moto (latency, timeouts), and nothing
on the external runtime, where no proxy can stand in an HTTPS path to AWS."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...cluster import Cluster
from ...faults import Fault, FaultUnavailable
from ...faults.composite import InTurn
from ...faults.latency import Latency, RoundTrip, Timeout
from .topology import HTTP_PING, AwsInfo, Endpoint, endpoint, is_emulator


class Proxied:
    """moto behind a toxiproxy proxy, for client latency and timeouts."""

    def __init__(self, cluster: Cluster[AwsInfo]):
        if not is_emulator(cluster) or cluster.info.moto is None:
            raise FaultUnavailable("toxiproxy faults need the local moto server")
        self.server = cluster.toxiproxy()
        self.proxy = self.server.proxy("moto", cluster.info.moto)
        self.endpoint = f"http://{self.proxy.host}:{self.proxy.port}"

    def latency(self, ms: int = 400, jitter_ms: int = 40) -> Latency:
        # The probe's round trip goes through moto, which serves one request at a time: under
        # the clients' load it waits its turn, so round trips vary by 100 ms and more. A large
        # delay, proven at half of itself, keeps start and heal proofs above that noise.
        return Latency(
            self.server.client,
            [self.proxy],
            ms=ms,
            jitter_ms=jitter_ms,
            probe=RoundTrip(payload=HTTP_PING, timeout=4),
            min_delay_s=0.5 * ms / 1000,
            samples=2,  # each probe waits its turn in moto: proofs take seconds under load
        )

    def timeouts(self, ms: int = 0) -> Timeout:
        """Data stops flowing: calls through the proxy time out (their outcome unknown)."""
        return Timeout(
            self.server.client, [self.proxy], ms=ms, probe=RoundTrip(payload=HTTP_PING, timeout=1)
        )

    def latency_then_timeouts(self) -> InTurn:
        """Latency, then timeouts, then latency... so that a short case surely has both (the
        nemesis's random pick might give timeouts only, and nothing succeeds during those).
        Each window carries the name of the fault then on."""
        return InTurn([self.latency(), self.timeouts()])


@dataclass
class ClientPath:
    """Where clients send their requests, and the faults that can be put on that path."""

    endpoint: Endpoint
    proxy: Proxied | None

    def describe(self) -> str:
        if self.proxy is not None:
            return "boto3 -> toxiproxy -> moto"
        return f"boto3 -> {self.endpoint.url or 'AWS'} (no fault on the path)"

    def latency(self) -> list[Fault]:
        return [self.proxy.latency()] if self.proxy else []

    def timeouts(self) -> list[Fault]:
        return [self.proxy.timeouts()] if self.proxy else []

    def latency_then_timeouts(self) -> list[Fault]:
        return [self.proxy.latency_then_timeouts()] if self.proxy else []


def client_path(cluster: Cluster[AwsInfo]) -> ClientPath:
    """Through toxiproxy in front of moto, where client latency and timeouts are injected; on
    the external runtime straight to the service with nothing injected (no proxy can stand in
    an HTTPS path to AWS): such a case checks the API under its clients' concurrency alone, and
    its record lists no fault."""
    if not is_emulator(cluster):
        return ClientPath(endpoint(cluster), None)
    proxy = Proxied(cluster)
    return ClientPath(endpoint(cluster, proxy.endpoint), proxy)


class ConsumerOutage:
    """The consuming service is down: while on, every consumer sharing ``down`` stops asking
    for messages (its polls fail at once, ``consumer down``, sending nothing) and producers go
    on. The fault is the harness's own consumers, so it is proven by the flag they read, and
    it runs on every runtime (real AWS too: the queue itself is not touched)."""

    name = "consumer-down"

    def __init__(self) -> None:
        self.down = threading.Event()

    def start(self) -> dict[str, bool]:
        self.down.set()
        return {"consumers_down": self.down.is_set()}

    def stop(self) -> dict[str, bool]:
        self.down.clear()
        return {"consumers_down": self.down.is_set()}
