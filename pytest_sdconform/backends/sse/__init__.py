"""Server-sent events: our SSE server with its event log (``server.py``, ``topology.py``), an
EventSource that reconnects with ``Last-Event-ID`` as the HTML standard says, publishers and
the workers' client (``client.py``), and the judge of missed events (``judges.py``)."""

from .client import EventSource, SseClient, Subscribers
from .judges import EventsRecovered
from .topology import PORT, SseInfo, Topology, provision

__all__ = ["PORT", "EventSource", "EventsRecovered", "SseClient", "SseInfo", "Subscribers",
           "Topology", "provision"]
