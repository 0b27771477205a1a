"""Load balancing between database servers (claims.md, lb-db-read-routing): reads spread over a
PostgreSQL primary and its asynchronous standby by libpq's own balancer.

Run: ``pytest --sdconform suites/network``. Writes go to the primary; each read opens a new
connection that libpq places on a random server of the pool (``load_balance_hosts=random``),
as behind a per-request balancer. The standby replays WAL ``recovery_min_apply_delay`` after
the commit, the lag the catalogue's test gives one standby.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import postgres as pg
from pytest_sdconform.backends.postgres.balanced import BalancedReadClient
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.balanced_reads import BalancedReads
from pytest_sdconform.checkers.sessions import SessionsChecker
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("postgres")

APPLY_DELAY = "200ms"  # the standby's recovery_min_apply_delay (the primary ignores it)


@pytest.mark.claim("lb-db-read-routing")
def test_reads_balanced_over_primary_and_lagging_standby_break_session_guarantees(
        sdconform: Case) -> None:
    """Each client writes to the primary and reads through the balanced pool: a read that
    lands on the standby before it replayed the client's write misses it (read-your-writes),
    and one after a read on the primary goes back in time (monotonic reads). Balanced reads
    that kept every session's guarantees would refute the caution."""
    settings = pg.Settings(extra=(f"recovery_min_apply_delay={APPLY_DELAY}",))
    cluster = sdconform.start(pg.Topology(standby=True, settings=settings))
    a = cluster.info.addresses
    sdconform.run(Register(keys=3, read_ratio=0.6, prefix="lb:"),
                  lambda i: BalancedReadClient(a["n1"], [a["n1"], a["n2"]], timeout=1.0),
                  checkers=[SessionsChecker()], judge=BalancedReads(),
                  config={"balancer": "libpq load_balance_hosts=random, a connection a read",
                          "pool": "primary n1 + async standby n2", "writes": "primary",
                          "standby_apply_delay": APPLY_DELAY})
