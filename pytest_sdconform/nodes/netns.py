"""Machines of their own on one host: a bridge in the harness's namespace and one network
namespace per machine, each joined to the bridge by a veth pair.

``python -m pytest_sdconform.nodes.netns SPEC_JSON`` (a node of the cluster) creates them,
prints ``ready``, and removes them when it is stopped (SIGTERM, SIGINT): the cluster's own
stop takes them away. The harness records every name in the run's ledger before the node
starts, so ``sdconform cleanup`` removes what a killed run left (``remove``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass


class NetnsError(RuntimeError):
    """An ``ip`` command failed; the message has its error output."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


@dataclass(frozen=True)
class Network:
    """Names and addresses: ``machines`` namespaces on ``prefix``.0/24 behind ``bridge``."""

    bridge: str
    machines: dict[str, str]  # machine name -> namespace
    veths: dict[str, str]  # machine name -> the veth end on the bridge
    prefix: str  # e.g. "10.213.7": the bridge is .1, machine i is .(10+i), the VIP .100

    @classmethod
    def for_run(cls, short: str, names: list[str], third_octet: int) -> Network:
        return cls(bridge=f"sdcb{short}",
                   machines={n: f"sdc-{short}-{n}" for n in names},
                   veths={n: f"sdv{short}{i}" for i, n in enumerate(names, 1)},
                   prefix=f"10.213.{third_octet}")

    @property
    def gateway(self) -> str:
        return f"{self.prefix}.1"

    @property
    def vip(self) -> str:
        return f"{self.prefix}.100"

    def address(self, machine: str) -> str:
        return f"{self.prefix}.{10 + list(self.machines).index(machine) + 1}"


def create(net: Network) -> None:
    ip("link", "add", net.bridge, "type", "bridge")
    ip("addr", "add", f"{net.gateway}/24", "dev", net.bridge)
    ip("link", "set", net.bridge, "up")
    for machine, ns in net.machines.items():
        veth = net.veths[machine]
        ip("netns", "add", ns)
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("link", "set", veth, "master", net.bridge, "up")
        ip("-n", ns, "addr", "add", f"{net.address(machine)}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")


def remove(namespaces: list[str], links: list[str]) -> list[str]:
    """Delete the namespaces (their veths go with them) and the links; returns what went."""
    gone = [f"netns {ns}" for ns in namespaces if ip("netns", "delete", ns, check=False)
            .returncode == 0]
    return gone + [f"link {link}" for link in links
                   if ip("link", "delete", link, check=False).returncode == 0]


def free_third_octet(seed: int) -> int:
    """An octet whose 10.213.N.0/24 no interface here uses yet (from ``seed`` on)."""
    used = ip("-o", "addr", "show").stdout
    for i in range(254):
        n = (seed + i) % 254 + 1
        if f" 10.213.{n}." not in used:
            return n
    raise NetnsError("no free 10.213.N.0/24 subnet for a VIP cluster")


def main() -> None:
    net = Network(**json.loads(sys.argv[1]))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        create(net)
        print("ready", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        remove(list(net.machines.values()), [net.bridge])


def spec_json(net: Network) -> str:
    return json.dumps(asdict(net))


if __name__ == "__main__":
    main()
