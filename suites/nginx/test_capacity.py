"""Capacity claims (claims.md §14): N+1. Each app server takes at most ``max_conns`` requests at
once (nginx's ``max_conns``: beyond it, 502 "no live upstreams"); four clients keep four
requests in flight. Two servers of three slots carry them, one does not.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("nginx")

CAPPED = nb.Balancing(max_conns=3)
# One failure at a time: the pause between kills outlasts fail_timeout (2 s, counted in whole
# seconds), so the server restarted after one kill is back in rotation before the next; with a
# shorter pause a second kill would leave one server, which is no longer the N+1 question.
RUN = {"duration": 12.0, "quiet": 4.0, "fault_duration": 2.5, "settle": 1.0, "concurrency": 4}


def missed_until_replacement(spare: bool) -> Any:
    """With a spare server (N+1) no request fails while one is dead; without one, requests are
    missed in every kill until the server is replaced (restarted)."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        windows = [w for w in history.fault_windows() if w.fault == "kill"]
        if not windows:
            return INCONCLUSIVE, "no app server was killed"
        shares = []
        for w in windows:
            end = w.end if w.end is not None else history[len(history) - 1].time
            ops = [
                c
                for c in history.complete()
                if not c.is_final and c.process != "nemesis" and w.start <= c.invoke.time <= end
            ]
            bad = sum(1 for c in ops if c.type != "ok")
            shares.append((bad, len(ops)))
        text = ", ".join(f"{b}/{n} failed" for b, n in shares)
        missed = [b for b, _ in shares if b]
        if spare:
            if missed:
                return REFUTED, f"requests failed although a spare server was left: {text}"
            return UPHELD, f"no request failed while one of N+1 servers was dead: {text}"
        if len(missed) < len(shares):
            return REFUTED, f"a kill without a spare server cost nothing: {text}"
        return UPHELD, f"without a spare server requests were missed in every kill: {text}"

    return judge


def kill_one_of(sdconform: Any, apps: int) -> None:
    """``apps`` capped servers behind nginx, 4 clients, each server killed in turn."""
    cluster = sdconform.start(nb.Topology(apps=apps, balancing=CAPPED))
    sdconform.run(
        Register(keys=2),
        lambda i: HttpClient(cluster.info["lb"]),
        [cluster.kill(cluster.info["apps"])],
        judge=missed_until_replacement(spare=apps > 2),
        checkers=[],
        config={"capacity": f"{apps} x 3 slots for 4 clients"},
        **RUN,
    )


@pytest.mark.claim("lb-n-plus-one")
def test_without_a_spare_server_requests_are_missed(sdconform: Any) -> None:
    kill_one_of(sdconform, apps=2)


@pytest.mark.claim("lb-n-plus-one")
def test_a_spare_server_absorbs_a_kill(sdconform: Any) -> None:
    kill_one_of(sdconform, apps=3)
