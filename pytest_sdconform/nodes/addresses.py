"""Loopback address blocks: each run (and each pytest-xdist worker) gets its own 127.A.B.0/24.

All of 127.0.0.0/8 is local on Linux, so no interface alias is needed. A block is held with an
exclusive flock on a file for as long as the run lives, so concurrent runs never share addresses,
and a killed run's block frees itself when its process dies. The lock files are machine-wide
(``$SDCONFORM_ADDRESS_LOCKS``, default ``<tmp>/sdconform-addresses``), not in the state folder:
two runs with different state folders (the harness's own tests use private ones) still share
the machine's loopback addresses.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..runs import machine_folder

FIRST_BLOCK = 64 * 256  # 127.64.0.0/24: well clear of 127.0.0.1 and 127.0.0.53
LAST_BLOCK = 128 * 256


def lock_dir() -> Path:
    return machine_folder(Path(
        os.environ.get("SDCONFORM_ADDRESS_LOCKS")
        or Path(tempfile.gettempdir()) / "sdconform-addresses"
    ))


@dataclass
class AddressBlock:
    """127.A.B.0/24: ``.1`` is the harness's own (clients, proxies); nodes get ``.2`` upwards."""

    prefix: str  # "127.A.B"
    _lock: IO[str] | None = field(default=None, repr=False)
    _next: int = 2

    def harness(self) -> str:
        return f"{self.prefix}.1"

    def node(self, n: int) -> str:
        """The address of the n-th node (1-based)."""
        if not 1 <= n <= 253:
            raise ValueError("a block has room for 253 nodes")
        return f"{self.prefix}.{n + 1}"

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def free_port(address: str) -> int:
    """A port free on ``address`` now. Safe to close and reuse: the address belongs to this
    run's own loopback block, so only processes of this run bind there."""
    with socket.socket() as s:
        s.bind((address, 0))
        port: int = s.getsockname()[1]
        return port


def allocate(start: int | None = None) -> AddressBlock:
    """Take the first free block (or the first free one from ``start``)."""
    locks = lock_dir()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    first = start if start is not None else FIRST_BLOCK + 16 * int(worker.lstrip("gw") or 0)
    for block in range(first, LAST_BLOCK):
        prefix = f"127.{block // 256}.{block % 256}"
        try:  # held open: the lock lives with the run; another user's lock is not ours to take
            fh = open(locks / prefix, "w")  # noqa: SIM115
        except PermissionError:
            continue
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        return AddressBlock(prefix, fh)
    raise RuntimeError("no free loopback address block")
