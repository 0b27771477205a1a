"""Judges and exercise rules of the Cassandra claims (suites/cassandra). Each judge says what the
history must show before "no violation" may count as upheld, and refutes with the operations that
prove it. One module per family of claims: ``hints`` (hinted handoff and repair:
``ReplicaHasEveryWrite``), ``consistency`` (consistency levels: ``StaleWhileCut`` for R + W <= N,
and the exercise rules ``paxos_in_every_window`` and ``written_then_read_after``), ``durability``
(``acked_while_down``, ``with_final_read_from``), ``timestamps`` (``LastWriteWins`` under clock
skew), ``conflicts`` (``AckedWithoutReplica`` for consistency level ANY, ``SiblingsKept`` for
concurrent writes across a partition, ``AvailableThenConverges`` for Dynamo's promise) and
``datacenters`` (``QuorumIsWeak``, ``SurvivesDcLoss``, ``RefusesOnlyWhenCut``), ``tombstones``
(``DeletesStayDeleted``), with the window and final-read helpers they share in ``common``. Every
public name is re-exported here, so callers import them from ``backends.cassandra.judges``.
"""

from .common import WRITES, acked_in, final_reads_from, inside
from .conflicts import AckedWithoutReplica, AvailableThenConverges, SiblingsKept
from .consistency import STALE, StaleWhileCut, paxos_in_every_window, written_then_read_after
from .datacenters import QuorumIsWeak, RefusesOnlyWhenCut, SurvivesDcLoss
from .durability import acked_while_down, with_final_read_from
from .hints import ReplicaHasEveryWrite, Settled, split_by_view
from .timestamps import LastWriteWins
from .tombstones import DeletesStayDeleted

__all__ = [
    "STALE",
    "WRITES",
    "AckedWithoutReplica",
    "AvailableThenConverges",
    "DeletesStayDeleted",
    "LastWriteWins",
    "QuorumIsWeak",
    "RefusesOnlyWhenCut",
    "ReplicaHasEveryWrite",
    "Settled",
    "SiblingsKept",
    "StaleWhileCut",
    "SurvivesDcLoss",
    "acked_in",
    "acked_while_down",
    "final_reads_from",
    "inside",
    "paxos_in_every_window",
    "split_by_view",
    "with_final_read_from",
    "written_then_read_after",
]
