"""Judges and exercise rules of the PostgreSQL claims (suites/postgres). Each judge says what
the history must show before "no violation" may count as upheld, and refutes with the
operations that prove it. ``failover``: standbys and failover (``StaleThenConverged``,
``LossWithinLag``, ``FailoverResumes``, ``NoDowntimeNoLoss``, ``writes_during_lag`` and the
failover ``timeline``); ``downtime``: the unavailability clients see through a failover, held
to its own settings (``DowntimeWithinDetection``); ``apps``: ticket servers and bookings
(``UniqueIds``, ``NoOversell``); ``recovery``: a point-in-time restore from the WAL archive
(``RestoredToTarget``), and what a power cut leaves of the data files while WAL redo brings
every commit back (``RedoNotFlush``); ``regions``: a primary's region lost while its standby
lags behind a slow link (``RpoWithinLag``). Every public name is re-exported here."""

from .apps import NoOversell, UniqueIds
from .downtime import DowntimeWithinDetection
from .failover import (
    FAILOVER,
    FailoverResumes,
    LossWithinLag,
    NoDowntimeNoLoss,
    StaleThenConverged,
    Timeline,
    final_reads_ok,
    timeline,
    timelines,
    writes_during_lag,
)
from .recovery import PITR, RedoNotFlush, RestoredToTarget
from .regions import REGION, RpoWithinLag

__all__ = [
    "FAILOVER",
    "PITR",
    "REGION",
    "DowntimeWithinDetection",
    "FailoverResumes",
    "LossWithinLag",
    "NoDowntimeNoLoss",
    "NoOversell",
    "RedoNotFlush",
    "RestoredToTarget",
    "RpoWithinLag",
    "StaleThenConverged",
    "Timeline",
    "UniqueIds",
    "final_reads_ok",
    "timeline",
    "timelines",
    "writes_during_lag",
]
