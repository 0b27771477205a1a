"""Checkers: each reads a History and returns a Verdict; they know nothing of databases."""

from __future__ import annotations

from typing import Protocol

from ..history import History
from .verdict import Anomaly, Verdict

__all__ = ["Anomaly", "Checker", "Verdict"]


class Checker(Protocol):
    """A property of a history: linearizability, a session guarantee, no lost writes..."""

    name: str

    def check(self, history: History) -> Verdict: ...
