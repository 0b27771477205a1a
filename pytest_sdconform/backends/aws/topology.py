"""Where the AWS services run: moto's server as a node of the local runtime, or nothing of ours
on the external runtime (real AWS, or the endpoint ``SDCONFORM_AWS_ENDPOINT`` names).

moto is one strongly consistent Python process that keeps everything in memory: it cannot show
replication lag, eventual consistency or the loss of an availability zone, and a kill loses all
its state (tables, buckets, queues and their contents), so a restart is a new, empty AWS.
LocalStack is not used: without Docker it needs Python 3.13, and its DynamoDB downloads Java on
first use and fails offline.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from dataclasses import dataclass
from typing import Any, ClassVar

from ...cluster import Cluster
from ...nodes import NodeSpec
from ...nodes.readiness import TcpPort
from ...provision import ProvisionError, progress
from .. import base

PORT = 5000
LOCAL, EXTERNAL = "local", "external"
DEFAULT_REGION = "us-east-1"
HTTP_PING = b"HEAD /moto-api/ HTTP/1.0\r\n\r\n"
EMULATOR = "moto server, one request at a time (emulator)"


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


def region() -> str:
    return os.environ.get("SDCONFORM_AWS_REGION") or DEFAULT_REGION


@dataclass(frozen=True)
class AwsInfo:
    """What the harness knows of the services once they answer."""

    runtime: str  # LOCAL (moto) or EXTERNAL
    run_id: str  # the tag every resource of the case carries (``resources.py``)
    endpoint: str | None  # moto's URL; external: SDCONFORM_AWS_ENDPOINT, None for AWS's own
    moto: str | None = None  # moto's address:port (local), where a proxy can stand in front

    @property
    def emulator(self) -> bool:
        return self.runtime == LOCAL

    def describe(self) -> dict[str, Any]:
        """What a case's report shows of where the services ran (the topology's ``describe``
        cannot say: the runtime is chosen by the session, known only once started)."""
        if self.emulator:
            return {"aws": EMULATOR, "emulator": True}
        return {"aws": EXTERNAL, "endpoint": self.endpoint or "aws default", "region": region()}


@dataclass
class Topology(base.Topology[AwsInfo]):
    """One moto server (local runtime), or the endpoints of the environment (external)."""

    backend: ClassVar[str] = "aws"
    runtimes: ClassVar[tuple[str, ...]] = (LOCAL, EXTERNAL)
    partitions: ClassVar[bool] = False

    def describe(self) -> dict[str, Any]:
        # No setting of its own; where it runs is the runtime's (``AwsInfo.describe``).
        return {}

    def provision(self) -> None:
        provision()

    def node_names(self, runtime: str) -> list[str]:
        return ["moto"] if runtime == LOCAL else []

    def specs(self, start: base.Start) -> list[NodeSpec]:
        return [moto_spec(a) for a in start.addresses.values()]

    def ready(self, start: base.Start) -> AwsInfo:
        if start.runtime.name == EXTERNAL:
            return AwsInfo(EXTERNAL, start.run.id, os.environ.get("SDCONFORM_AWS_ENDPOINT") or None)
        address = start.addresses["moto"]
        url = f"http://{address}:{PORT}"
        reset(url)  # a case never shares a server; this proves the API answers
        return AwsInfo(LOCAL, start.run.id, url, f"{address}:{PORT}")


def is_emulator(cluster: Cluster[AwsInfo]) -> bool:
    return cluster.info.emulator


@dataclass(frozen=True)
class Endpoint:
    """Where clients connect: ``url`` None is real AWS's own endpoints."""

    url: str | None
    region: str
    emulator: bool


def endpoint(cluster: Cluster[AwsInfo], through: str | None = None) -> Endpoint:
    """The cluster's endpoint, or ``through`` (e.g. a toxiproxy proxy in front of it)."""
    return Endpoint(through or cluster.info.endpoint, region(), is_emulator(cluster))
