"""A floating address (VIP) over two balancer machines: keepalived (Debian's) runs VRRP in
each machine's network namespace, beside a small HTTP server (the nginx backend's app
server) that says which machine answered.

The machines are network namespaces behind a bridge in the harness's namespace
(``nodes/netns.py``, made and removed by the ``net`` node, every name in the run's ledger first).
``lb1`` has the higher priority and starts as MASTER; ``lb2`` is the BACKUP. VRRPv2's bound
on a takeover is the backup's ``master_down_interval``: three advertisement intervals plus its
skew, ``(256 - priority) / 256`` of one (RFC 3768 §6.1); the new master then sends gratuitous
ARPs for the VIP, which the harness's neighbour table takes at once.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass
from typing import Any, ClassVar

from ...nodes import NodeSpec
from ...nodes.netns import Network, free_third_octet, ip, spec_json
from ...nodes.readiness import HttpGet, LogLine
from ...provision import apt_install
from .. import base
from ..own_server import python_node

APP_PORT = 8080
MACHINES = ("lb1", "lb2")
PRIORITIES = {"lb1": 150, "lb2": 100}


def provision() -> None:
    apt_install(["keepalived"], ["keepalived"])


def keepalived_conf(machine: str, vip: str, advert_int: int, preempt: bool) -> str:
    return f"""global_defs {{
  router_id {machine}
  enable_script_security
}}
vrrp_instance VI_1 {{
  state {"MASTER" if machine == "lb1" else "BACKUP"}
  interface eth0
  virtual_router_id 51
  priority {PRIORITIES[machine]}
  advert_int {advert_int}
  {"" if preempt else "nopreempt"}
  virtual_ipaddress {{
    {vip}/24
  }}
}}
"""


@dataclass(frozen=True)
class VipInfo:
    vip: str
    network: Network
    macs: dict[str, str]  # the MAC of each machine's interface -> machine
    advert_int: int

    def master_down_s(self, machine: str = "lb2") -> float:
        """RFC 3768: 3 x Advertisement_Interval + Skew_Time, Skew = (256 - Priority) / 256."""
        return 3 * self.advert_int + (256 - PRIORITIES[machine]) / 256 * self.advert_int


@dataclass
class Topology(base.Topology[VipInfo]):
    """Two machines with keepalived; ``advert_int`` in whole seconds (keepalived's VRRPv2)."""

    backend: ClassVar[str] = "vip"
    runtimes: ClassVar[tuple[str, ...]] = ("local",)
    partitions: ClassVar[bool] = False  # the machines' traffic is in their own namespaces

    advert_int: int = 1
    preempt: bool = True

    def describe(self) -> dict[str, Any]:
        return {"vrrp": "keepalived, VRRPv2", "advert_int_s": self.advert_int,
                "priorities": PRIORITIES, "preempt": self.preempt,
                "servers": "the nginx backend's app server, one per machine"}

    def provision(self) -> None:
        provision()

    def node_names(self, runtime: str) -> list[str]:
        return ["net"]

    def specs(self, start: base.Start) -> list[NodeSpec]:
        short = start.run.id.replace("-", "")[-8:]
        net = Network.for_run(short, list(MACHINES), free_third_octet(start.seed % 254))
        for ns in net.machines.values():
            start.run.record("netns", name=ns)
        start.run.record("link", name=net.bridge)
        self._net = net
        return [python_node("net", start.addresses["net"], "pytest_sdconform.nodes.netns",
                            [spec_json(net)], ready=LogLine("ready"))]

    def _machine_specs(self, start: base.Start, machine: str) -> list[NodeSpec]:
        net = self._net
        ns = net.machines[machine]
        conf = start.paths(f"{machine}-vrrp").conf / "keepalived.conf"
        data = start.paths(f"{machine}-vrrp").data
        inside = ["ip", "netns", "exec", ns]
        vrrp = NodeSpec(
            f"{machine}-vrrp", net.address(machine),
            [*inside, "keepalived", "--dont-fork", "--log-console", "--vrrp",
             "--use-file", str(conf), "--pid", str(data / "keepalived.pid"),
             "--vrrp_pid", str(data / "vrrp.pid")],
            ready=LogLine("Entering MASTER STATE" if machine == "lb1" else "Entering BACKUP STATE"),
            ready_timeout=30, kill_tree=True,
            files={"keepalived.conf": keepalived_conf(machine, net.vip, self.advert_int,
                                                      self.preempt)})
        app = python_node(
            f"{machine}-app", net.address(machine), "pytest_sdconform.backends.nginx.appserver",
            ["--bind", "0.0.0.0", "--port", str(APP_PORT), "--name", machine, "--store", "memory"],
            ready=HttpGet(f"http://{net.address(machine)}:{APP_PORT}/kv/ready"), prefix=inside)
        return [app, vrrp]

    def ready(self, start: base.Start) -> VipInfo:
        net = self._net
        start.add([s for m in MACHINES for s in self._machine_specs(start, m)])
        macs = {}
        for machine, ns in net.machines.items():
            out = ip("-n", ns, "-o", "link", "show", "eth0").stdout
            macs[out.split("link/ether ")[1].split()[0]] = machine
        deadline = time.monotonic() + 30
        while served_by(net.vip) != "lb1":
            if time.monotonic() > deadline:
                raise RuntimeError(f"vip: {net.vip} was not answered by lb1 within 30 s")
            time.sleep(0.1)
        return VipInfo(net.vip, net, macs, self.advert_int)


def holders(info: VipInfo) -> dict[str, list[str]]:
    """The machines whose interface carries the VIP now (read from each namespace)."""
    return {"holders": [m for m, ns in info.network.machines.items()
                        if f" {info.vip}/" in ip("-n", ns, "-o", "addr", "show", "eth0").stdout]}


def served_by(vip: str, timeout: float = 0.5) -> str | None:
    try:
        with urllib.request.urlopen(f"http://{vip}:{APP_PORT}/kv/ready", timeout=timeout) as r:
            return str(r.headers.get("X-Upstream"))
    except OSError:
        return None
