"""The transport layer as a system under test: one sink node that takes numbered messages
over TCP and UDP (``sink.py``, ``topology.py``), senders that acknowledge a send as the
socket API does (``client.py``), and the judge of what arrived (``judges.py``)."""

from .client import TcpSender, UdpSender, drain
from .judges import TransportDelivery
from .topology import PORT, Topology, TransportInfo, provision

__all__ = ["PORT", "TcpSender", "Topology", "TransportDelivery", "TransportInfo", "UdpSender",
           "drain", "provision"]
