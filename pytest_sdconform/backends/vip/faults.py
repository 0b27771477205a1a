"""A fault on the master that also watches the takeover it causes.

``Watched`` wraps any fault that takes the master off (its link down, its keepalived killed).
Once the wrapped fault's start has proven itself, a thread polls, until the heal, whether the
backup's interface carries the VIP and which machine's MAC the harness's neighbour table holds
for it. The heal's record (``<fault>-healed``) then says what the system did, in seconds from
the moment the fault was proven (the window's start, give or take the recorder's stamp):

- ``not_taken_s``: when the last poll that did *not* see the VIP on the backup began (the
  takeover came after it);
- ``takeover_s``: when the first poll that saw it ended (the takeover came before it);
- ``arp_s``: when the harness's neighbour table first named the backup (its gratuitous ARP
  had arrived);
- ``polls``: how many polls were made (a thread starved by a busy machine polls rarely, and
  the interval between the two times above says how precisely the takeover is known).

A time stays ``None`` when the event was not seen before the heal.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ...faults import Fault
from ...nodes.netns import ip
from .client import resolved
from .topology import VipInfo


def holds(info: VipInfo, machine: str) -> bool:
    """Whether ``machine``'s interface carries the VIP now (read in its namespace)."""
    out = ip("-n", info.network.machines[machine], "-o", "addr", "show", "eth0").stdout
    return f" {info.vip}/" in out


class Watched:
    def __init__(self, fault: Fault, info: VipInfo, backup: str = "lb2",
                 every_s: float = 0.05) -> None:
        if backup not in info.network.machines:
            raise ValueError(f"vip watch: no machine {backup!r}; known: "
                             f"{sorted(info.network.machines)}")
        self.fault = fault
        self.name = fault.name
        self.info = info
        self.backup = backup
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, Any] = {}

    def _watch(self, t0: float) -> None:
        seen: dict[str, Any] = {"not_taken_s": None, "takeover_s": None, "arp_s": None,
                                "polls": 0}
        self._seen = seen
        backup_macs = {m for m, name in self.info.macs.items() if name == self.backup}
        while not self._stop.is_set():
            began = time.monotonic() - t0
            held = holds(self.info, self.backup)
            ended = time.monotonic() - t0
            seen["polls"] += 1
            if seen["takeover_s"] is None:
                if held:
                    seen["takeover_s"] = round(ended, 4)
                else:
                    seen["not_taken_s"] = round(began, 4)
            if seen["arp_s"] is None and resolved(self.info.vip) in backup_macs:
                seen["arp_s"] = round(time.monotonic() - t0, 4)
            if seen["takeover_s"] is not None and seen["arp_s"] is not None:
                return
            self._stop.wait(self.every_s)

    def start(self) -> Any:
        value = self.fault.start()
        t0 = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, args=(t0,), daemon=True,
                                        name=f"vip-watch-{self.name}")
        self._thread.start()
        return value

    def stop(self) -> Any:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        proof = self.fault.stop()
        seen, self._seen = self._seen, {}
        out = dict(proof) if isinstance(proof, dict) else {"proof": proof}
        out["observed"] = {**(out.get("observed") or {}), **seen}
        return out
