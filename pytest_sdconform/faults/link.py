"""A machine dropped off its network: the bridge end of its veth set down, then up again.

For nodes in network namespaces of their own (``backends/vip``): everything the machine sends
or receives crosses that one link, so a link down is the machine's cable pulled, while its
processes go on running (a VRRP master that hears nobody stays master, unseen). ``start``
and ``stop`` read the link's state back from the kernel as their proof. ``ProtocolCut``
drops one protocol only (VRRP's adverts between the machines, while clients still reach
them), by a rule in each machine's namespace, read back the same way.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
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


def _netns_iptables(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, "iptables", "-w", "5", *args],
                          capture_output=True, text=True, check=False)


class ProtocolCut:
    """Drop every packet of one IP ``protocol`` (``vrrp``...) arriving in each machine's
    namespace, the rest of the traffic untouched; the rules live and die with the namespaces.
    ``observe`` is called just before the heal and its answer recorded (what the cut did)."""

    def __init__(self, namespaces: Mapping[str, str], protocol: str,
                 observe: Callable[[], dict[str, Any]] | None = None) -> None:
        if not namespaces:
            raise ValueError("protocol cut: no namespaces")
        self.namespaces = dict(namespaces)
        self.protocol = protocol
        self.observe = observe
        self.name = f"{protocol}-cut"
        self.cut: list[str] = []

    def _rule(self) -> list[str]:
        return ["INPUT", "-p", self.protocol, "-j", "DROP"]

    def _present(self, ns: str) -> bool:
        return _netns_iptables(ns, "-C", *self._rule()).returncode == 0

    def start(self) -> dict[str, Any]:
        for node, ns in self.namespaces.items():
            self.cut.append(node)
            done = _netns_iptables(ns, "-I", *self._rule())
            if done.returncode != 0:
                raise FaultNotEffective(f"{self.name} in {ns}: {done.stderr.strip()}")
        missing = [n for n, ns in self.namespaces.items() if not self._present(ns)]
        if missing:
            raise FaultNotEffective(f"{self.name}: no rule in {missing}")
        return {"nodes": sorted(self.namespaces), "protocol": self.protocol}

    def stop(self) -> dict[str, Any]:
        if not self.cut:
            return {}
        seen = self.observe() if self.observe is not None else {}
        for node in self.cut:
            _netns_iptables(self.namespaces[node], "-D", *self._rule())
        still = [n for n in self.cut if self._present(self.namespaces[n])]
        if still:
            raise FaultNotEffective(f"{self.name}: rule still in {still}")
        self.cut = []
        return {"observed": seen}
