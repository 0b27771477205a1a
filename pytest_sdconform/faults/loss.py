"""Random packet loss to and from nodes: iptables ``statistic --mode random`` DROP rules.

netem is not available here (no ``sch_netem``), so loss is made where partitions are made:
in the raw table. The fault has a chain of its own (``sdc-<run>-l``, in the run's ledger),
jumped to from raw PREROUTING only: every loopback packet passes it once, on its way in, so a
rule there drops it with the probability asked, after the sender's kernel let it go, as a
wire would. (A drop in OUTPUT is not a loss: the sending call gets EPERM, and TCP knows at
once.) Each rule
matches one protocol and one direction of one node's address, so the heal can say how many
TCP and UDP packets were dropped (the kernel's counters, read before the rules go).

``start`` proves the loss: it sends a burst of UDP datagrams to the node's discard port and
reads the counter back (with p = 0.1 and 200 datagrams, none dropped has a chance of 1e-9);
``stop`` removes the rules and the chain and reads them back to prove they are gone. A
killed run's rules and chain carry its tag: ``sdconform cleanup`` removes them.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping
from typing import Any

from . import FaultNotEffective
from .netfilter import Netfilter, iptables

PROTOCOLS = ("tcp", "udp")
PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp"}
PROBE_PORT = 9  # discard: the probe datagrams need no listener, only to pass PREROUTING
PROBE_DATAGRAMS = 200


class PacketLoss:
    """Drop each packet to or from ``addresses`` (node -> address) with ``probability``."""

    def __init__(self, netfilter: Netfilter, addresses: Mapping[str, str],
                 probability: float, name: str = "packet-loss") -> None:
        if not 0.0 < probability < 1.0:
            raise ValueError(f"packet loss: probability must be in (0, 1), not {probability}")
        if not addresses:
            raise ValueError("packet loss: no node to drop packets of")
        self.netfilter = netfilter
        self.addresses = dict(addresses)
        self.probability = probability
        self.name = name
        self.chain = f"{netfilter.drop_chain}-l"
        self.active = False

    def _rules(self) -> list[list[str]]:
        rules = []
        for address in sorted(self.addresses.values()):
            for proto in PROTOCOLS:
                for side in ("-d", "-s"):
                    rules.append(["-p", proto, side, address, "-m", "statistic", "--mode",
                                  "random", "--probability", f"{self.probability:.4f}",
                                  "-m", "comment", "--comment", self.netfilter.run.tag,
                                  "-j", "DROP"])
        return rules

    def _jump(self) -> list[str]:
        return ["PREROUTING", "-m", "comment", "--comment", self.netfilter.run.tag,
                "-j", self.chain]

    def dropped(self) -> dict[str, int]:
        """Packets dropped so far by protocol, from the chain's counters (0 when it is gone)."""
        out = iptables("-t", "raw", "-L", self.chain, "-v", "-x", "-n", check=False).stdout
        counts = dict.fromkeys(PROTOCOLS, 0)
        for line in out.splitlines():
            words = line.split()
            if len(words) > 3 and words[2] == "DROP":
                proto = PROTOCOL_NUMBERS.get(words[3], words[3])  # -n prints numbers
                if proto in counts:
                    counts[proto] += int(words[0])
        return counts

    def start(self) -> dict[str, Any]:
        self.netfilter.run.record("chains", table="raw", chain=self.chain)
        iptables("-t", "raw", "-N", self.chain)
        self.active = True
        for rule in self._rules():
            iptables("-t", "raw", "-A", self.chain, *rule)
        iptables("-t", "raw", "-I", *self._jump())
        before = self.dropped()["udp"]
        address = next(iter(sorted(self.addresses.values())))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(PROBE_DATAGRAMS):
                # An ICMP port-unreachable answer to an earlier datagram may fail a send.
                with contextlib.suppress(OSError):
                    sock.sendto(b"sdconform-loss-probe %d" % i, (address, PROBE_PORT))
        probed = self.dropped()["udp"] - before
        if probed == 0:
            raise FaultNotEffective(f"{self.name}: none of {PROBE_DATAGRAMS} probe datagrams to "
                                    f"{address} was dropped at p={self.probability}")
        return {"probability": self.probability, "nodes": sorted(self.addresses),
                "probe": {"sent": PROBE_DATAGRAMS, "dropped": probed}}

    def stop(self) -> dict[str, Any]:
        if not self.active:
            return {"dropped": dict.fromkeys(PROTOCOLS, 0)}
        counts = self.dropped()
        iptables("-t", "raw", "-D", *self._jump(), check=False)
        iptables("-t", "raw", "-F", self.chain, check=False)
        iptables("-t", "raw", "-X", self.chain, check=False)
        if iptables("-t", "raw", "-S", self.chain, check=False).returncode == 0:
            raise FaultNotEffective(f"{self.name}: chain {self.chain} is still there")
        self.active = False
        return {"dropped": counts}
