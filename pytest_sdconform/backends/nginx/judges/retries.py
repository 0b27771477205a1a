"""Judge of the HTTP idempotent-methods claim: nginx retries a failed request on the next
upstream only for idempotent methods, so a POST sent to a paused server is applied at most once
(``PostAtMostOnce``, decided by the delivery checker over the app servers' final logs, with the
retries per method recorded for the case's config).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    in_window,
    windows_of,
)
from ....checkers.reroute import victims_named
from ....history import History
from .routes import Routes

# --- http-idempotent-methods ---------------------------------------------------------------------


def method(f: str) -> str:
    return {"read": "GET", "write": "PUT", "send": "POST", "poll": "GET"}.get(f, f)


@dataclass
class PostAtMostOnce:
    """Decided by the delivery checker's at-most-once over the final logs: refuted by a POST
    applied twice, upheld otherwise. Exercised when a POST was sent to the paused server in
    every pause (where a retry on the next upstream would apply it a second time)."""

    routes: Routes
    fault: str = "pause"
    checker: str = "delivery"
    seen: dict[str, Any] = field(default_factory=dict)  # figures for the case's config
    name: str = "post-at-most-once"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = f"a POST sent to the paused server during every {self.fault}"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        ops = [c for c in client_ops(history) if c.f == "send"]
        counts = [sum(1 for c in ops if in_window(c, w) and set(self.routes(c)) & victims_named(w))
                  for w in windows]
        if not all(counts):
            return Exercise(False, f"no POST was sent to the paused server during "
                                   f"{counts.count(0)} of {len(windows)} {self.fault}s")
        return Exercise(True, f"{sum(counts)} POSTs sent to the paused server during "
                              f"{len(windows)} {self.fault}s")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        delivery = verdicts[self.checker]
        retried: dict[str, int] = {}
        unretried_504 = 0
        for c in client_ops(history):
            routes = self.routes(c)
            if len(routes) > 1:
                retried[method(c.f)] = retried.get(method(c.f), 0) + 1
            status = c.completion.get("status") if c.completion is not None else None
            if c.f == "send" and status == 504 and len(routes) <= 1:
                unretried_504 += 1
        d = delivery.details
        self.seen.update(retried_by_method=retried, post_504_not_retried=unretried_504,
                         duplicates=d.get("duplicates"), lost=d.get("lost"))
        counts = (f"{unretried_504} POSTs got 504 without a retry; retried on the next "
                  f"upstream: {retried or 'none'}")
        if delivery.result == "invalid":
            return Ruling(REFUTED, f"POSTs applied more than once: {d.get('duplicates')} "
                                   f"duplicates, {d.get('lost')} lost; {counts}",
                          list(delivery.anomalies))
        if delivery.result == "unknown":
            return Ruling(INCONCLUSIVE, f"{self.checker}: {delivery.reason}")
        return Ruling(UPHELD, f"every POST applied at most once; {counts}")
