"""A node's disk, as power loss sees it: what was written but never fsynced can be lost.

A runtime that can cut a node's power gives the node a ``Disk``: its data folder on a
filesystem that keeps apart every write not yet made durable (``fsync``, ``fdatasync``,
``O_SYNC``/``O_DSYNC`` writes), so that a cut can drop it the way a machine's page cache goes
when the power does. The power-loss fault (``faults/power.py``) cuts through it and proves the
cut with two probe files of its own: one written with fsync (it must survive), one without (it
must be gone).
"""

from __future__ import annotations

from typing import Any, Protocol

CUT_MODES = ("all", "prefix", "torn")
"""What a cut drops: ``all`` unsynced writes; a random ``prefix`` of each file's unsynced
writes is kept; ``torn``: each file's unsynced writes are cut at a random 512-byte sector
boundary inside one of them (a writeback stopped mid-way: the write there is torn)."""


class Disk(Protocol):
    """The data folder of one node, on a filesystem that can forget unsynced writes."""

    def write(self, name: str, data: bytes, fsync: bool) -> None:
        """Write a file in the data folder (fsynced or not), as the node would."""
        ...

    def read(self, name: str) -> bytes | None:
        """A file of the data folder (None when it does not exist)."""
        ...

    def remove(self, name: str) -> None: ...

    def cut(self, mode: str, seed: int) -> dict[str, Any]:
        """Drop unsynced writes (the node's processes must be dead); what was dropped."""
        ...

    def sync(self) -> None:
        """Make everything written so far durable (a machine that has been up a while)."""
        ...

    def unsynced(self) -> dict[str, Any]:
        """How much is written but not durable now: files, writes, bytes."""
        ...
