"""HTTP method semantics through nginx (claims.md §15): which requests the balancer retries on
the next upstream, and what a retry of a non-idempotent POST does to the data.

Each POST appends a unique value to a Redis list; the final read of the list shows every
application, so a POST applied twice is a duplicate (the delivery checker's at-most-once).
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient, Requests
from pytest_sdconform.backends.nginx.judges import PostAtMostOnce, upstream_routes
from pytest_sdconform.case import Case
from pytest_sdconform.runner import RunConfig

pytestmark = pytest.mark.backend("nginx")

# One pause, long enough for nginx to try the paused server again after fail_timeout (whole
# seconds, so up to 3 s after its first read timeout) twice; eight clients, so that several
# requests, most of them POSTs, are stuck on it when it is first found out. The run ends
# before a second pause could start.
RUN = RunConfig(duration=8.5, quiet=1.0, fault_duration=7.0, settle=2.5, op_timeout=4.0,
                op_delay=0.01, concurrency=8)


@pytest.mark.claim("http-idempotent-methods")
def test_nginx_does_not_retry_a_post_that_reached_a_paused_server(sdconform: Case) -> None:
    """Default proxy_next_upstream: a GET/PUT that timed out on the paused server is retried
    on the other; a POST gets 504 and is applied once, when the paused server wakes."""
    cluster = sdconform.start(nb.Topology(apps=2))
    judge = PostAtMostOnce(upstream_routes(cluster.info.addresses))
    sdconform.run(
        Requests(get=0.2, put=0.2),
        lambda i: HttpClient(cluster.info.lb),
        [cluster.pause(cluster.info.apps)],
        judge=judge,
        config={"measured": judge.seen},
        run=RUN,
    )


NON_IDEMPOTENT = nb.Balancing(next_upstream="error timeout http_502 non_idempotent")


@pytest.mark.claim("http-idempotent-methods", config="non-idempotent-retry")
def test_retrying_non_idempotent_posts_applies_them_twice(sdconform: Case) -> None:
    """``proxy_next_upstream ... non_idempotent``: the POST that timed out on the paused server
    is sent to the other one too; both apply it."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=NON_IDEMPOTENT))
    judge = PostAtMostOnce(upstream_routes(cluster.info.addresses))
    sdconform.run(
        Requests(get=0.2, put=0.2),
        lambda i: HttpClient(cluster.info.lb),
        [cluster.pause(cluster.info.apps)],
        judge=judge,
        config={"measured": judge.seen},
        run=RUN,
    )
