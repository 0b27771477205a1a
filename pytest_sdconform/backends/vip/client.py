"""Requests to the VIP, each saying where the harness sent it.

Before each request the client reads which MAC the harness's neighbour table holds for the
VIP (``/proc/net/arp``): that machine is where the request goes (its ``routes``), whether it
is answered or not. The answer's ``X-Upstream`` names the machine that served it (``node``).
A request not answered within ``timeout`` is a read that did not happen: ``fail``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from ...workloads import Invocation, Result
from .topology import APP_PORT, VipInfo

ARP = Path("/proc/net/arp")


def resolved(vip: str) -> str | None:
    """The MAC the neighbour table holds for ``vip`` (None: none, or incomplete)."""
    for line in ARP.read_text().splitlines()[1:]:
        words = line.split()
        if len(words) >= 4 and words[0] == vip and words[3] != "00:00:00:00:00:00":
            return words[3]
    return None


class VipClient:
    def __init__(self, info: VipInfo, timeout: float = 0.3) -> None:
        self.info = info
        self.timeout = timeout

    def invoke(self, op: Invocation) -> Result:
        mac = resolved(self.info.vip)
        routes = [self.info.macs.get(mac, mac)] if mac else []
        url = f"http://{self.info.vip}:{APP_PORT}/kv/{op.key}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as r:
                server = r.headers.get("X-Upstream")
                r.read()
        except (urllib.error.URLError, OSError) as e:
            return Result("fail", error=str(getattr(e, "reason", e)), extra={"routes": routes})
        return Result("ok", None, node=server, extra={"routes": routes})

    def close(self) -> None:
        pass
