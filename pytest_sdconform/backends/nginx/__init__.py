"""nginx in front of an app tier: balancer, app servers, and their store (Redis or memory).

- ``topology.py``: the three tiers' ``Topology`` and its ``NginxInfo``; the balancer's config
  written, ``nginx -t``-checked and reloaded (``reload``, ``begin_reload``, ``wait_drained``).
- ``conf.py``: nginx.conf itself and its knobs (``Balancing``: health checks, retries,
  timeouts, how an upstream is chosen).
- ``appserver.py``: the stdlib HTTP app server each app node runs.
- ``client.py``: the HTTP client through the balancer and the request workload.
- ``faults.py``: reconfiguration as faults (``Reload``, ``ScaleIn``).
- ``judges/``: the judges only the nginx suite needs.
"""

from .client import HttpClient, Requests, probe
from .conf import PORT, Balancing
from .faults import Reload, ScaleIn
from .topology import (
    APP_PORT,
    NginxInfo,
    Topology,
    begin_reload,
    nginx_accepts,
    provision,
    reload,
    wait_drained,
    worker_generations,
    write_conf,
)

__all__ = [
    "APP_PORT",
    "PORT",
    "Balancing",
    "HttpClient",
    "NginxInfo",
    "Reload",
    "Requests",
    "ScaleIn",
    "Topology",
    "begin_reload",
    "nginx_accepts",
    "probe",
    "provision",
    "reload",
    "wait_drained",
    "worker_generations",
    "write_conf",
]
