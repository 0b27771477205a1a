"""HTTP method semantics through nginx (claims.md §15): which requests the balancer retries on
the next upstream, and what a retry of a non-idempotent POST does to the data.

Each POST appends a unique value to a Redis list; the final read of the list shows every
application, so a POST applied twice is a duplicate (the delivery checker's at-most-once).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient, Requests
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD

pytestmark = pytest.mark.backend("nginx")

RUN = {
    "duration": 8.0,
    "quiet": 1.0,
    "fault_duration": 2.5,
    "settle": 2.5,
    "op_timeout": 4.0,
    "op_delay": 0.01,
}


def post_at_most_once(seen: dict[str, Any]) -> Any:
    """Upheld when no POST was applied twice (at-most-once over the final lists) and at least
    one POST timed out on a paused server (504, one upstream tried: not retried); refuted on a
    duplicate. Also counts the PUTs and GETs nginx did retry on the next upstream."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        delivery = verdicts["delivery"]
        retried: dict[str, int] = {}
        unretried_504 = 0
        for op in history:
            if op.process == "nemesis" or op.type == "invoke" or op.get("final"):
                continue
            upstream = str(op.get("upstream") or "")
            if "," in upstream:
                retried[op.f] = retried.get(op.f, 0) + 1
            if op.f == "send" and op.get("status") == 504 and "," not in upstream:
                unretried_504 += 1
        details = delivery.details
        seen.update(
            retried_by_method={nb_method(f): n for f, n in retried.items()},
            post_504_not_retried=unretried_504,
            duplicates=details.get("duplicates"),
            lost=details.get("lost"),
        )
        counts = (
            f"{unretried_504} POSTs got 504 without a retry; retried on the next "
            f"upstream: {seen['retried_by_method'] or 'none'}"
        )
        if delivery.result == "invalid":
            return REFUTED, (
                f"POSTs applied more than once: {details.get('duplicates')} "
                f"duplicates, {details.get('lost')} lost; {counts}"
            )
        if delivery.result == "unknown":
            return INCONCLUSIVE, delivery.reason
        if unretried_504 == 0 and "send" not in retried:
            return INCONCLUSIVE, "no POST timed out on the paused server"
        return UPHELD, f"every POST applied at most once; {counts}"

    return judge


def nb_method(f: str) -> str:
    return {"read": "GET", "write": "PUT", "send": "POST"}.get(f, f)


@pytest.mark.claim("http-idempotent-methods")
def test_nginx_does_not_retry_a_post_that_reached_a_paused_server(sdconform: Any) -> None:
    """Default proxy_next_upstream: a GET/PUT that timed out on the paused server is retried
    on the other; a POST gets 504 and is applied once, when the paused server wakes."""
    cluster = sdconform.start(nb.Topology(apps=2))
    seen: dict[str, Any] = {}
    sdconform.run(
        Requests(get=0.2, put=0.2),
        lambda i: HttpClient(cluster.info["lb"]),
        [cluster.pause(cluster.info["apps"])],
        judge=post_at_most_once(seen),
        config={"measured": seen},
        **RUN,
    )


NON_IDEMPOTENT = nb.Balancing(next_upstream="error timeout http_502 non_idempotent")


@pytest.mark.claim("http-idempotent-methods", expected="refuted")
def test_retrying_non_idempotent_posts_applies_them_twice(sdconform: Any) -> None:
    """``proxy_next_upstream ... non_idempotent``: the POST that timed out on the paused server
    is sent to the other one too; both apply it."""
    cluster = sdconform.start(nb.Topology(apps=2, balancing=NON_IDEMPOTENT))
    seen: dict[str, Any] = {}
    sdconform.run(
        Requests(get=0.2, put=0.2),
        lambda i: HttpClient(cluster.info["lb"]),
        [cluster.pause(cluster.info["apps"])],
        judge=post_at_most_once(seen),
        config={"measured": seen},
        **RUN,
    )
