"""The containers that hold the docker runtime's network namespaces, one per host node.

A node's container joins its holder's namespace, so the namespace (and the node's address)
outlives the node's kills and restarts, as a machine's network does. The holder, in our small
``net`` image with NET_ADMIN over its own namespace only, is where a partition's DROP rules live
(one chain, ``CUT_CHAIN``, rewritten whole at each change) and where probes run from, so that
they see the network as the node's own traffic does. Everything goes through ``docker exec``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CUT_CHAIN = "sdc-cut"


def in_holder(holder: Any, host: str, script: str, *args: str) -> str:
    """Run a shell script in ``host``'s holder (its network namespace); its output, or
    RuntimeError naming the host and what the script said."""
    code, output = holder.exec_run(["bash", "-c", script, "sdconform", *args])
    text = output.decode(errors="replace")
    if code != 0:
        raise RuntimeError(f"in {host}'s network namespace: {text.strip()[-500:]}")
    return text


class HolderProbe:
    """Probes as a node's own traffic does: from its holder's network namespace, with bash's
    /dev/tcp (a refused connection proves packets flow; a timeout or a refusal by the local
    rules means they are dropped), every address at once, twice before saying blocked."""

    def __init__(self, holder: Any, host: str):
        self.holder, self.host = holder, host

    def __call__(self, addresses: Sequence[str], port: int, timeout: float) -> dict[str, str]:
        out = in_holder(self.holder, self.host, PROBE_SCRIPT, str(port), str(timeout),
                        *addresses)
        found = dict(line.split() for line in out.splitlines() if line.strip())
        return {a: found.get(a, "blocked") for a in addresses}


CUT_SCRIPT = r"""
chain=$1; shift
iptables -w 5 -N "$chain" 2>/dev/null || true
iptables -w 5 -C OUTPUT -j "$chain" 2>/dev/null || iptables -w 5 -I OUTPUT -j "$chain"
iptables -w 5 -F "$chain"
for dst in "$@"; do iptables -w 5 -A "$chain" -d "$dst" -j DROP; done
"""

PROBE_SCRIPT = r"""
port=$1; limit=$2; shift 2
probe() {
  for attempt in 1 2; do
    said=$(timeout "$limit" bash -c ": >/dev/tcp/$1/$port" 2>&1) && { echo "$1 open"; return; }
    case "$said" in *refused*) echo "$1 open"; return;; esac
  done
  echo "$1 blocked"
}
for address in "$@"; do probe "$address" & done
wait
"""
