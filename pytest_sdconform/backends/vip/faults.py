"""A fault on the master that also watches the takeover it causes.

``watched`` wraps any fault that takes the master off (its link down, its keepalived killed)
in two ``faults.watch.Watch``es: until the heal, one asks whether the backup's interface
carries the VIP (``takeover``), the other whether the harness's neighbour table names the
backup's MAC for it (``arp``: its gratuitous ARP arrived). The heal's record then says, under
``observed``, when each was first seen (``after_s``) and last not (``not_before_s``), in
seconds from the moment the fault was proven; ``judges.TakesOver`` reads them.
"""

from __future__ import annotations

from ...faults import Fault
from ...faults.watch import Watch
from ...nodes.netns import ip
from .client import resolved
from .topology import VipInfo

TAKEOVER, ARP = "takeover", "arp"


def holds(info: VipInfo, machine: str) -> bool:
    """Whether ``machine``'s interface carries the VIP now (read in its namespace)."""
    out = ip("-n", info.network.machines[machine], "-o", "addr", "show", "eth0").stdout
    return f" {info.vip}/" in out


def watched(fault: Fault, info: VipInfo, backup: str = "lb2", every_s: float = 0.05) -> Watch:
    """``fault``, with the backup's takeover and the harness's ARP entry watched."""
    if backup not in info.network.machines:
        raise ValueError(f"vip watch: no machine {backup!r}; known: "
                         f"{sorted(info.network.machines)}")
    macs = {m for m, name in info.macs.items() if name == backup}
    takeover = Watch(fault, TAKEOVER, lambda: holds(info, backup), every_s)
    return Watch(takeover, ARP, lambda: resolved(info.vip) in macs, every_s)
