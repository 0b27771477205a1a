"""Reconfiguration claims (claims.md §14): graceful reloads of nginx and scaling the app tier in
and out by reload, under constant traffic. Every request must succeed.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient, Requests
from pytest_sdconform.backends.nginx.faults import Reload, ScaleIn
from pytest_sdconform.backends.nginx.judges import NoFailedRequests
from pytest_sdconform.case import Case
from pytest_sdconform.runner import RunConfig

pytestmark = pytest.mark.backend("nginx")


@pytest.mark.claim("nginx-dynamic-reconfig")
def test_graceful_reloads_fail_no_request(sdconform: Case) -> None:
    """SIGHUP to the master (``nginx -s reload``) with the config rewritten, every second: new
    workers take new connections, old ones finish theirs (each reload's window lasts from the
    new workers' start until the old ones are gone)."""
    cluster = sdconform.start(nb.Topology(apps=2))
    sdconform.run(
        Requests(),
        lambda i: HttpClient(cluster.info.lb),
        [Reload(cluster)],
        judge=NoFailedRequests("reload"),
        checkers=[],
        run=RunConfig(duration=8.0, quiet=0.7, fault_duration=0.3, op_delay=0.005),
        config={"reload": "SIGHUP to master"},
    )


@pytest.mark.claim("lb-add-remove-no-disruption")
def test_an_app_server_drained_by_reload_then_stopped_fails_no_request(sdconform: Case) -> None:
    """Scale in: a reload takes a2 out of the upstream, the old workers finish their requests,
    then a2 is stopped; scale out: a2 starts and a reload puts it back."""
    cluster = sdconform.start(nb.Topology(apps=3))
    sdconform.run(
        Requests(),
        lambda i: HttpClient(cluster.info.lb),
        [ScaleIn(cluster, "a2")],
        judge=NoFailedRequests("scale-in"),
        checkers=[],
        run=RunConfig(duration=10.0, quiet=1.0, fault_duration=2.0, op_delay=0.005),
        config={"drain": "reload without it, old workers exit, then stop"},
    )
