"""A floating address over two balancer machines: keepalived's VRRP in network namespaces of
their own (``topology.py``; the namespaces and bridge: ``nodes/netns.py``), and the client
whose requests say which machine the VIP resolved to and which one answered (``client.py``).
The judge is ``checkers/reroute.py``'s ``RoutedAround``; the fault, ``faults/link.py``."""

from .client import VipClient, resolved
from .topology import APP_PORT, MACHINES, PRIORITIES, Topology, VipInfo, provision, served_by

__all__ = ["APP_PORT", "MACHINES", "PRIORITIES", "Topology", "VipClient", "VipInfo",
           "provision", "resolved", "served_by"]
