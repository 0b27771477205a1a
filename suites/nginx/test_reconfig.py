"""Reconfiguration claims (claims.md §14): graceful reloads of nginx and scaling the app tier in
and out by reload, under constant traffic. Every request must succeed.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient, Requests
from pytest_sdconform.backends.nginx.reconfig import Reload, ScaleIn
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD

pytestmark = pytest.mark.backend("nginx")


def no_failed_requests(fault: str) -> Any:
    """Upheld when at least one ``fault`` happened and no request of the whole run failed or
    ended unknown; refuted with the count otherwise."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        events = [w for w in history.fault_windows() if w.fault == fault]
        if not events:
            return INCONCLUSIVE, f"no {fault} happened"
        calls = [c for c in history.complete() if c.process != "nemesis" and not c.is_final]
        bad = [c for c in calls if c.type != "ok"]
        if bad:
            errors = sorted(
                {str(c.completion.error if c.completion else "no answer") for c in bad}
            )[:3]
            return REFUTED, (
                f"{len(bad)} of {len(calls)} requests failed across {len(events)} "
                f"{fault}s: {', '.join(errors)}"
            )
        return UPHELD, f"all {len(calls)} requests succeeded across {len(events)} {fault}s"

    return judge


@pytest.mark.claim("nginx-dynamic-reconfig")
def test_graceful_reloads_fail_no_request(sdconform: Any) -> None:
    """SIGHUP to the master (``nginx -s reload``) with the config rewritten, every second: new
    workers take new connections, old ones finish theirs."""
    cluster = sdconform.start(nb.Topology(apps=2))
    sdconform.run(
        Requests(),
        lambda i: HttpClient(cluster.info["lb"]),
        [Reload(cluster)],
        judge=no_failed_requests("reload"),
        checkers=[],
        duration=8.0,
        quiet=0.7,
        fault_duration=0.3,
        op_delay=0.005,
        config={"reload": "SIGHUP to master"},
    )


@pytest.mark.claim("lb-add-remove-no-disruption")
def test_an_app_server_drained_by_reload_then_stopped_fails_no_request(sdconform: Any) -> None:
    """Scale in: a reload takes a2 out of the upstream, the old workers finish their requests,
    then a2 is stopped; scale out: a2 starts and a reload puts it back."""
    cluster = sdconform.start(nb.Topology(apps=3))
    sdconform.run(
        Requests(),
        lambda i: HttpClient(cluster.info["lb"]),
        [ScaleIn(cluster, "a2")],
        judge=no_failed_requests("scale-in"),
        checkers=[],
        duration=10.0,
        quiet=1.0,
        fault_duration=2.0,
        op_delay=0.005,
        config={"drain": "reload without it, old workers exit, then stop"},
    )
