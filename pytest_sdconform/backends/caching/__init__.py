"""Caching patterns over real parts: a Redis (or Memcached) cache in front of PostgreSQL, an
nginx ``proxy_cache`` in front of an origin (a CDN), and a DNS server whose answers clients
cache for their TTL.

- ``topology.py``: the cache, the database and the flusher node (``Topology``, ``CachingInfo``);
  ``flusher.py``: the flusher process (the Redis outbox into PostgreSQL every interval);
- ``client.py``: the app tier's handlers, one cache pattern each (``CacheClient``);
- ``judges.py``: TTL bounds from the history, write-around, write-back loss;
- ``cdn.py``: nginx ``proxy_cache`` before an origin (``origin.py``: versioned objects over
  HTTP) (``CdnTopology``), its client;
- ``dns.py``: dnsmasq on a loopback address before instances (``DnsTopology``), a client that
  caches answers for their TTL, the instance kill that also removes its record, the judge.

The staleness checker itself is generic: ``checkers/staleness.py``.
"""

from .cdn import EXPIRY_GRANULARITY_S, CdnClient, CdnInfo, CdnTopology
from .client import PATTERNS, CacheClient
from .dns import DeadInstance, DnsClient, DnsInfo, DnsTopology, TtlExpiry
from .judges import FlushLoss, StaleWhileDown, WriteAround, longest_fill_s, ttl_bound
from .topology import CachingInfo, Topology, flush_window, provision_all

provision = provision_all

__all__ = [
    "EXPIRY_GRANULARITY_S",
    "PATTERNS",
    "CacheClient",
    "CachingInfo",
    "CdnClient",
    "CdnInfo",
    "CdnTopology",
    "DeadInstance",
    "DnsClient",
    "DnsInfo",
    "DnsTopology",
    "FlushLoss",
    "StaleWhileDown",
    "Topology",
    "TtlExpiry",
    "WriteAround",
    "flush_window",
    "longest_fill_s",
    "provision",
    "ttl_bound",
]
