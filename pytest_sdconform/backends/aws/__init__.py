"""AWS services (DynamoDB, S3, SQS, SNS, Kinesis): where they run, and boto3 sessions to them.

Two runtimes, chosen by ``SDCONFORM_AWS_RUNTIME``:

- ``local`` (the default): moto's server (``moto[server]``, pinned in the ``aws`` extra) as a
  node of the local runtime, so it is in the run's ledger and stopped by pid; it serves one
  request at a time (see ``SERIAL_SERVER``: threaded moto races its conditional writes). moto is one
  strongly consistent Python process that keeps everything in memory: it cannot show
  replication lag, eventual consistency or the loss of an availability zone, and a kill loses
  all its state (tables, buckets, queues and their contents), so a restart is a new, empty
  AWS. A case about such a claim passes ``emulator_limit=`` (why moto cannot exhibit it) on
  this runtime, so that it comes out ``inconclusive (emulator)``; the catalogue's expected
  outcome stays what real AWS does. LocalStack is not used: without
  Docker it needs Python 3.13, and its DynamoDB downloads Java on first use and fails offline.
- ``external``: real AWS (``SDCONFORM_AWS_ENDPOINT`` unset: the default endpoints and the
  default credential chain) or any endpoint it names; ``SDCONFORM_AWS_REGION`` (default
  us-east-1). Node faults (kill, latency through toxiproxy) are unavailable there, and every
  resource a case creates is tagged ``sdconform-run=<run id>``: deletes and purges refuse a
  resource without that tag (``resources.py``).
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...cluster import Cluster, start_cluster
from ...faults import Fault, FaultUnavailable
from ...faults.latency import Latency, RoundTrip, Timeout
from ...provision import ProvisionError, progress
from ...runs import Run
from ...runtimes.addresses import AddressBlock
from ...runtimes.local import NodeSpec
from ...runtimes.readiness import TcpPort

PORT = 5000
LOCAL, EXTERNAL = "local", "external"
DEFAULT_REGION = "us-east-1"
HTTP_PING = b"HEAD /moto-api/ HTTP/1.0\r\n\r\n"


def runtime() -> str:
    value = os.environ.get("SDCONFORM_AWS_RUNTIME", LOCAL)
    if value not in (LOCAL, EXTERNAL):
        raise ValueError(f"SDCONFORM_AWS_RUNTIME must be {LOCAL} or {EXTERNAL}, not {value!r}")
    return value


def provision() -> None:
    """moto and boto3 are Python packages of the ``aws`` extra: nothing to build."""
    try:
        import boto3
        import moto
    except ImportError as e:
        raise ProvisionError(
            f"{e}: install the aws extra (pip install 'pytest-sdconform[aws]')"
        ) from e
    progress(f"aws: moto {moto.__version__}, boto3 {boto3.__version__}")


# moto's own ``moto_server`` serves each request on a thread of its own, and moto takes no
# lock around a conditional write or a transaction: two concurrent attribute_not_exists puts
# both succeeded, and concurrent TransactWriteItems lost updates (observed here). DynamoDB
# does neither. So the node runs the same WSGI app on werkzeug's single-threaded server
# (HTTP/1.0, one request at a time): one process applying requests in turn, the strongest
# a single node can be, and what the claims assume. Long polls (WaitTimeSeconds) would hold
# the server: the clients never ask for them.
SERIAL_SERVER = """
import os, sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)
os.environ.setdefault("MOTO_PORT", sys.argv[2])
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app),
           threaded=False, request_handler=MotoRequestHandler)
"""


def moto_spec(address: str) -> NodeSpec:
    return NodeSpec(
        "moto",
        address,
        [sys.executable, "-c", SERIAL_SERVER, address, str(PORT)],
        ready=TcpPort(address, PORT),
        ready_timeout=60,
    )


def reset(endpoint: str) -> None:
    """Wipe a moto server's state (every service, every region)."""
    req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=5) as answer:
        if answer.status != 200:
            raise RuntimeError(f"moto reset answered {answer.status}")


@dataclass
class Topology:
    """One moto server (local), or the endpoints of the environment (external)."""

    def describe(self) -> dict[str, Any]:
        if runtime() == EXTERNAL:
            return {
                "aws": "external",
                "endpoint": os.environ.get("SDCONFORM_AWS_ENDPOINT") or "aws default",
                "region": region(),
            }
        return {"aws": "moto server, one request at a time (emulator)", "emulator": True}

    def start(self, run: Run, block: AddressBlock, seed: int = 0) -> Cluster:
        if runtime() == EXTERNAL:
            cluster = start_cluster(run, block, [], partitions=False, seed=seed)
            cluster.info.update(
                runtime=EXTERNAL,
                run_id=run.id,
                endpoint=os.environ.get("SDCONFORM_AWS_ENDPOINT") or None,
            )
            return cluster
        provision()
        address = block.node(1)
        cluster = start_cluster(run, block, [moto_spec(address)], partitions=False, seed=seed)
        endpoint = f"http://{address}:{PORT}"
        cluster.info.update(
            runtime=LOCAL, run_id=run.id, endpoint=endpoint, moto=f"{address}:{PORT}"
        )
        try:
            reset(endpoint)  # a case never shares a server; this proves the API answers
        except BaseException:
            cluster.stop()
            raise
        return cluster


def region() -> str:
    return os.environ.get("SDCONFORM_AWS_REGION") or DEFAULT_REGION


def is_emulator(cluster: Cluster) -> bool:
    return bool(cluster.info.get("runtime") == LOCAL)


@dataclass(frozen=True)
class Endpoint:
    """Where clients connect: ``url`` None is real AWS's own endpoints."""

    url: str | None
    region: str
    emulator: bool


def endpoint(cluster: Cluster, through: str | None = None) -> Endpoint:
    """The cluster's endpoint, or ``through`` (e.g. a toxiproxy proxy in front of it)."""
    return Endpoint(through or cluster.info.get("endpoint"), region(), is_emulator(cluster))


class Proxied:
    """moto behind a toxiproxy proxy, for client latency and timeouts."""

    def __init__(self, cluster: Cluster):
        if not is_emulator(cluster):
            raise FaultUnavailable("toxiproxy faults need the local moto server")
        self.server = cluster.toxiproxy()
        self.proxy = self.server.proxy("moto", cluster.info["moto"])
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

    def latency_then_timeouts(self) -> Alternating:
        return Alternating([self.latency(), self.timeouts()])


class Alternating:
    """Its faults in turn, the first first: latency, then timeouts, then latency... so that a
    short case surely has both (the nemesis's random pick might give timeouts only, and
    nothing succeeds during those). Each window carries the name of the fault then on."""

    def __init__(self, faults: Sequence[Fault]):
        self.faults = list(faults)
        self.turn = 0
        self.current = self.faults[0]
        self.name = str(self.current.name)

    def start(self) -> dict[str, Any]:
        self.current = self.faults[self.turn % len(self.faults)]
        self.name = str(self.current.name)
        self.turn += 1
        return self.current.start()

    def stop(self) -> dict[str, Any]:
        return self.current.stop()


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


def client_path(cluster: Cluster) -> ClientPath:
    """Through toxiproxy in front of moto, where client latency and timeouts are injected; on
    the external runtime straight to the service with nothing injected (no proxy can stand in
    an HTTPS path to AWS): such a case checks the API under its clients' concurrency alone, and
    its record lists no fault."""
    if not is_emulator(cluster):
        return ClientPath(endpoint(cluster), None)
    proxy = Proxied(cluster)
    return ClientPath(endpoint(cluster, proxy.endpoint), proxy)

