"""Components in parallel (claims.md §1, gen-parallel-availability): "if two components with
99.9% availability are in parallel, their total availability will be 99.9999%", i.e. the
service is down only when every component is, and ``1 - product of unavailabilities``.

Stand-in: nginx in front of two app servers (``backends/nginx``). ``max_fails=0``: nginx never
leaves a server out, so a refused connection is retried at once on the other one and the
service is down exactly while both are (no passive-health-check memory in between). The
``kill-cycles`` fault (``faults/cycles.py``) kills and restarts each app server on its own
random schedule (down with probability ``DOWN`` per slot), or both on one schedule (the
contrast: one cause takes both, as all containers on one machine). ``ParallelAvailability``
compares the measured unavailability with the product of the measured per-server ones, with a
tolerance from the number of slots.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import nginx as nb
from pytest_sdconform.backends.nginx.client import HttpClient, Requests
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.parallel_availability import ParallelAvailability
from pytest_sdconform.faults.cycles import KillCycles
from pytest_sdconform.runner import RunConfig

pytestmark = [pytest.mark.backend("nginx"), pytest.mark.nightly]

BALANCING = nb.Balancing(max_fails=0, connect_timeout=0.5, read_timeout=1.0)
DOWN = 0.25  # each slot, the chance a server is down
SLOT = 0.5  # seconds
# The traffic lasts the session's --sdconform-duration (the nightly workflow's long runs: more
# slots, a tighter tolerance), at least MIN_DURATION_S: about 60 slots (a restart lengthens a
# slot), fewer leave the tolerance too wide to separate anything (inconclusive).
MIN_DURATION_S = 30.0


def run_config(duration_s: float) -> RunConfig:
    """One fault window that outlasts the traffic by 5 s, so the traffic runs on until it
    closes and no second one starts."""
    return RunConfig(duration=duration_s, quiet=0.5, fault_duration=duration_s + 5.0,
                     settle=0.5, op_delay=0.01, op_timeout=4.0)


def _run(sdconform: Case, correlated: bool) -> None:
    duration = max(sdconform.session.options.duration, MIN_DURATION_S)
    cluster = sdconform.start(nb.Topology(apps=2, store="memory", balancing=BALANCING))
    apps = cluster.info.apps
    cycles = KillCycles([cluster.node(a) for a in apps], down=DOWN, slot=SLOT,
                        correlated=correlated, rng=cluster.rng)
    sdconform.run(
        Requests(),
        lambda i: HttpClient(cluster.info.lb, timeout=3.0),
        [cycles],
        judge=ParallelAvailability(apps),
        checkers=[],
        config={"down_per_slot": DOWN, "slot_s": SLOT,
                "kills": "together" if correlated else "independent", "duration_s": duration},
        run=run_config(duration),
    )


@pytest.mark.claim("gen-parallel-availability")
def test_independent_failures_match_the_product_formula(sdconform: Case) -> None:
    """Each app server down on its own schedule: the service is down as often as the product
    of their measured downtimes predicts."""
    _run(sdconform, correlated=False)


@pytest.mark.claim("gen-parallel-availability", config="correlated-kills")
def test_correlated_failures_break_the_product_formula(sdconform: Case) -> None:
    """Both app servers killed together: the service is down whenever one is, far more than
    the product predicts."""
    _run(sdconform, correlated=True)
