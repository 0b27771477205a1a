"""pytest-sdconform: check what system-design documents promise against real systems."""

from .checkers.verdict import Anomaly, Verdict
from .history import Completed, History, HistoryError, Operation
from .recorder import Recorder

__all__ = ["Anomaly", "Completed", "History", "HistoryError", "Operation", "Recorder", "Verdict"]
__version__ = "0.1.0"
