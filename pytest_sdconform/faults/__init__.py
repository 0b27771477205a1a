"""Faults (the nemesis): each breaks something real, proves it took effect, and always heals.

A fault's ``start`` returns what is recorded as the value of its ``<name>-start`` operation in
the history; ``stop`` heals, is idempotent, and proves the heal. A fault that needs something
the machine or cluster lacks raises ``FaultUnavailable`` with the reason, and the harness skips.
"""

from __future__ import annotations

from typing import Any, Protocol


class FaultUnavailable(RuntimeError):
    """This fault cannot run here; the message says why (e.g. no root for iptables)."""


class FaultNotEffective(RuntimeError):
    """A fault was applied but a probe shows it did not take effect, or did not heal."""


class Fault(Protocol):
    name: str

    def start(self) -> Any: ...

    def stop(self) -> Any: ...
