"""MQTT: Debian's mosquitto broker and a subscriber process with a persistent session
(``topology.py``, ``subscriber.py``), paho-mqtt publishers and the reader of what the
subscriber received (``client.py``), and what a case must show before its delivery verdict
(``checkers/delivery.py``) counts (``judges.py``)."""

from .client import MqttClient, Received
from .judges import reconnected
from .topology import PORT, TOPIC, MqttInfo, Topology, broker_version, provision

__all__ = ["PORT", "TOPIC", "MqttClient", "MqttInfo", "Received", "Topology", "broker_version",
           "provision", "reconnected"]
