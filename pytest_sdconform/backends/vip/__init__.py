"""A floating address over two balancer machines: keepalived's VRRP in network namespaces of
their own (``topology.py``; the namespaces and bridge: ``nodes/netns.py``), and the client
whose requests say which machine the VIP resolved to and which one answered (``client.py``).
The judge of a takeover is ``TakesOver`` (``checkers/reroute.py``'s ``RoutedAround`` with a
bound from keepalived's settings and the takeover the fault watched, ``faults.py``'s
``watched``); of a split brain, ``SingleMaster`` (``judges.py``); the faults themselves are in
``faults/link.py``."""

from .client import VipClient, resolved
from .faults import watched
from .judges import SingleMaster, TakesOver, takeover_bound_s
from .topology import (
    APP_PORT,
    MACHINES,
    PRIORITIES,
    Topology,
    VipInfo,
    holders,
    provision,
    served_by,
)

__all__ = ["APP_PORT", "MACHINES", "PRIORITIES", "SingleMaster", "TakesOver", "Topology",
           "VipClient", "VipInfo", "holders", "provision", "resolved", "served_by",
           "takeover_bound_s", "watched"]
