"""Caching claims at the edges: a CDN (nginx ``proxy_cache`` before an origin) and DNS
(dnsmasq answering for instances, clients caching its answers for their TTL).

Run: ``pytest --sdconform suites/caching``. The origin numbers its updates, so the staleness
checker measures each object the edge served against them; the DNS case kills an instance and
removes its record, and measures how long clients keep calling it.
"""

from __future__ import annotations

import pytest

from pytest_sdconform.backends import caching as cb
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.staleness import StalenessBound, StalenessChecker
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("caching")

VALID_S = 1  # proxy_cache_valid 200 1s
DNS_TTL_S = 2  # dnsmasq --local-ttl


@pytest.mark.claim("cdn-ttl-stale")
def test_cdn_serves_outdated_content_until_its_ttl_expires(sdconform: Case) -> None:
    """"If updates are made before the TTL expires ... content may be outdated until it is
    refreshed": objects are updated at the origin while clients read through the edge. Reads
    must be stale after updates (the possibility), and none staler than proxy_cache_valid
    plus nginx's one-second cache clock plus the longest origin fetch measured."""
    cluster = sdconform.start(cb.CdnTopology(valid_s=VALID_S))
    bound = cb.ttl_bound(float(VALID_S), cb.EXPIRY_GRANULARITY_S)
    sdconform.run(Register(keys=3, read_ratio=0.8, prefix="cdn"),
                  lambda i: cb.CdnClient(cluster.info), checkers=[StalenessChecker()],
                  judge=StalenessBound(bound, stale_expected=True),
                  config={"updates": "PUT at the origin", "reads": "through the edge"})


@pytest.mark.claim("cdn-ttl-stale")
def test_cdn_serves_stale_content_while_the_origin_is_down(sdconform: Case) -> None:
    """With ``proxy_cache_use_stale error timeout``: the origin is paused (it answers
    nothing), and the edge keeps answering for what it had cached, expired entries served as
    STALE: availability over freshness. A failed read of a cached object, or a read staler
    than the TTL bound not marked STALE, refutes it."""
    cluster = sdconform.start(cb.CdnTopology(valid_s=VALID_S, use_stale="error timeout"))
    bound = cb.ttl_bound(float(VALID_S), cb.EXPIRY_GRANULARITY_S)
    sdconform.run(Register(keys=3, read_ratio=0.8, prefix="cdnd"),
                  lambda i: cb.CdnClient(cluster.info), [cluster.pause(["origin"])],
                  checkers=[StalenessChecker()], judge=cb.StaleWhileDown(bound),
                  run=RunConfig(quiet=1.0, fault_duration=3.0, op_delay=0.005),
                  config={"fault": "origin paused (SIGSTOP)"})


@pytest.mark.claim("dns-ttl-stale-endpoint")
def test_a_dead_instance_is_called_until_the_dns_ttl_expires(sdconform: Case) -> None:
    """"If one instance is gone, the client app will see it down until TTL expires": an
    instance is killed and its A record removed. Clients that resolved before keep calling it
    (errors) from their cached answer, and none after the record's removal plus the TTL plus
    the longest resolution measured."""
    cluster = sdconform.start(cb.DnsTopology(ttl_s=DNS_TTL_S))
    sdconform.run(Register(keys=2, read_ratio=1.0, prefix="dns"),
                  lambda i: cb.DnsClient(cluster.info), [cb.DeadInstance(cluster)],
                  checkers=[], judge=cb.TtlExpiry(float(DNS_TTL_S)),
                  run=RunConfig(quiet=1.0, fault_duration=2 * DNS_TTL_S + 1, op_delay=0.01),
                  config={"name": cb.dns.NAME, "ttl_s": DNS_TTL_S})
