"""Capacity claims (claims.md §14): N+1. Each app server takes at most ``max_conns`` requests at
once (nginx's ``max_conns``: beyond it, 502 "no live upstreams"); four clients keep four
requests in flight. Two servers of three slots carry them, one does not.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.capacity import NPlusOne
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("nginx")

CAPPED = nb.Balancing(max_conns=3)
# One failure at a time: the pause between kills outlasts fail_timeout (2 s, counted in whole
# seconds, so up to 3 s), so the server restarted after one kill is back in rotation before the
# next; with a shorter pause a second kill would leave one server, which is no longer the N+1
# question. Two kills, and the run ends before a third could start.
RUN = RunConfig(duration=16.0, quiet=CAPPED.fail_timeout + 1.5, fault_duration=3.0, settle=1.0,
                concurrency=4)


def kill_one_of(sdconform: Case, apps: int) -> None:
    """``apps`` capped servers behind nginx, 4 clients, a server killed twice (at random)."""
    cluster = sdconform.start(nb.Topology(apps=apps, balancing=CAPPED))
    sdconform.run(
        Register(keys=2),
        lambda i: HttpClient(cluster.info.lb),
        [cluster.kill(cluster.info.apps)],
        judge=NPlusOne(spare=apps > 2, fault="kill", min_requests=10),
        checkers=[],
        config={"capacity": f"{apps} x 3 slots for 4 clients"},
        run=RUN,
    )


@pytest.mark.claim("lb-n-plus-one")
def test_without_a_spare_server_requests_are_missed(sdconform: Case) -> None:
    kill_one_of(sdconform, apps=2)


@pytest.mark.claim("lb-n-plus-one")
def test_a_spare_server_absorbs_a_kill(sdconform: Case) -> None:
    kill_one_of(sdconform, apps=3)
