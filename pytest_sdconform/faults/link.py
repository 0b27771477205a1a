"""A machine dropped off its network: the bridge end of its veth set down, then up again.

For nodes in network namespaces of their own (``backends/vip``): everything the machine sends
or receives crosses that one link, so a link down is the machine's cable pulled, while its
processes go on running (a VRRP master that hears nobody stays master, unseen). ``start``
and ``stop`` read the link's state back from the kernel as their proof.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import FaultNotEffective


def _set(link: str, state: str) -> None:
    proc = subprocess.run(["ip", "link", "set", link, state], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise FaultNotEffective(f"ip link set {link} {state}: {proc.stderr.strip()}")


def is_up(link: str) -> bool:
    """The kernel's administrative state of ``link`` (its IFF_UP flag)."""
    flags = Path(f"/sys/class/net/{link}/flags").read_text().strip()
    return bool(int(flags, 16) & 0x1)


class LinkDown:
    """Set ``links[node]`` down for each victim node (default: all of ``links``)."""

    name = "link-down"

    def __init__(self, links: Mapping[str, str], victims: list[str] | None = None) -> None:
        if not links:
            raise ValueError("link-down: no links")
        unknown = sorted(set(victims or []) - set(links))
        if unknown:
            raise ValueError(f"link-down: no link for {unknown}; known: {sorted(links)}")
        self.links = dict(links)
        self.victims = list(victims or links)
        self.down: list[str] = []

    def start(self) -> dict[str, Any]:
        for node in self.victims:
            self.down.append(node)
            _set(self.links[node], "down")
        still = [n for n in self.victims if is_up(self.links[n])]
        if still:
            raise FaultNotEffective(f"link-down: {still} still up")
        return {"nodes": list(self.victims), "links": [self.links[n] for n in self.victims]}

    def stop(self) -> dict[str, Any]:
        healed = []
        for node in self.down:
            _set(self.links[node], "up")
            healed.append(node)
        self.down = []
        still = [n for n in healed if not is_up(self.links[n])]
        if still:
            raise FaultNotEffective(f"link-down: {still} did not come back up")
        return {"up": healed}
