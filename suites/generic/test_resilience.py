"""Resilience patterns (claims.md §1, gen-resilience-patterns): "These patterns work together to
prevent cascading failures in distributed systems, ensuring that failures in one part of the
system do not lead to widespread outages."

Stand-in: two app servers of ``backends/nginx`` called directly by a front service of ours
(``backends/nginx/resilience.py``): a worker pool of ``POOL`` slots shared by all clients;
``home`` requests go to a1 (the healthy part), ``dep`` requests to a2 (the dependency). The
fault pauses a2 (SIGSTOP: a hung, overloaded tier: its calls time out). With the layer (circuit
breaker, token-bucket limit, retry with exponential backoff and jitter) around the dep calls,
``ContainedFailure`` judges home availability after a grace derived from the settings, the
calls sent to a2 during the pause against ``burst + rate * t``, and a2's calls succeeding after
the heal. The control is the same front service without the layer (two immediate attempts per
dep call): hung dep calls hold the pool and home requests fail with them (the cascade).

Measured (4 runs): with the layer home requests 100 % ok in the pause, 6-8 calls reached a2
(bound ~85), failed dep calls fail in ~0 s; without it home requests 52-68 % ok, failed dep
calls wait the pool (0.3 s) or two timeouts (1 s). The control shows the cascade through the
shared pool, not a retry storm past the limiter's bound: its pool caps the calls a2 receives
(32, under the bound), so the load bound separates nothing here and is a check of the limiter
only. The limiter also sheds healthy dep calls (offered above its rate); recovery counts only
the dep calls that reached a2.

What is decided: containment of a hung dependency in a client-side front service, and the load
bound the limiter sets. Not decided: nginx's own ``limit_req``/``proxy_next_upstream`` (not in
this path), other failure shapes (slow but answering, errors), or "ensuring" in general: the
bounds hold for these settings only (retries without budgets can themselves overload).
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.resilience import (
    FrontClient,
    FrontRequests,
    FrontService,
    Patterns,
)
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.resilience import ContainedFailure
from pytest_sdconform.faults.process import Pause
from pytest_sdconform.faults.schedule import Schedule, Step
from pytest_sdconform.runner import RunConfig

pytestmark = [pytest.mark.backend("nginx"), pytest.mark.nightly]

PATTERNS = Patterns(attempts=2, backoff=0.1, threshold=3, open_for=1.0, burst=5, rate=10.0)
POOL, QUEUE_WAIT, TIMEOUT = 2, 0.3, 0.5
# The breaker opens after `threshold` failed calls; calls in flight then end within
# `attempts` timeouts plus the backoff waits, each of the first `threshold` calls too:
GRACE = (PATTERNS.threshold + PATTERNS.attempts) * TIMEOUT + PATTERNS.max_backoff()
# After the heal: the breaker lets a probe through `open_for` s after it last opened (a probe
# in flight at the heal ends within one timeout).
RECOVER = PATTERNS.open_for + TIMEOUT + PATTERNS.max_backoff()
# The pause lasts the session's --sdconform-duration (the nightly workflow's long runs: more
# breaker cycles, a longer span for the limiter's bound), at least MIN_PAUSE_S: the grace, then
# several of the breaker's open/half-open cycles inside the pause.
MIN_PAUSE_S = 8.0
assert MIN_PAUSE_S > GRACE + 2 * RECOVER


def run_config(pause: float) -> RunConfig:
    """One pause of ``pause`` seconds after 2 s of quiet, then 4 s of traffic after the heal
    (recovery)."""
    return RunConfig(duration=2.0 + pause + 4.0, concurrency=4, op_delay=0.1, op_timeout=4.0,
                     settle=0.5, schedule=Schedule((Step(((0, "pause"),), 2.0, pause),)))


def _run(sdconform: Case, patterns: Patterns | None) -> None:
    pause = max(sdconform.session.options.duration, MIN_PAUSE_S)
    cluster = sdconform.start(nb.Topology(apps=2, store="memory"))
    addr = cluster.info.addresses
    service = FrontService(addr["a1"], addr["a2"], patterns, capacity=POOL,
                           queue_wait=QUEUE_WAIT, timeout=TIMEOUT, rng=cluster.rng)
    sdconform.run(
        FrontRequests(dep_share=0.5),
        lambda i: FrontClient(service),
        [Pause([cluster.node("a2")])],
        judge=ContainedFailure(grace=GRACE, recover=RECOVER, burst=PATTERNS.burst,
                               rate=PATTERNS.rate),
        checkers=[],
        config={**service.describe(), "pause_s": pause},
        run=run_config(pause),
    )


@pytest.mark.claim("gen-resilience-patterns")
def test_patterns_contain_a_hung_dependency(sdconform: Case) -> None:
    """With breaker, limit and backoff, dep calls fail fast while a2 hangs: home requests stay
    served, a2's load stays within the limit, and a2's calls succeed again after the heal."""
    _run(sdconform, PATTERNS)


@pytest.mark.claim("gen-resilience-patterns", config="no-patterns")
def test_without_patterns_the_failure_cascades(sdconform: Case) -> None:
    """The same front service without the layer: hung dep calls hold the pool, home requests
    find no worker and fail."""
    _run(sdconform, None)
