"""Exercise rules and history helpers shared by the AWS judges. ``path_faults`` is what a case
must show for the path faults of the local runtime: client latency (operations still succeed,
slowly, during every latency window) and timeouts (calls in flight during every timeout window,
their outcome unknown); the external runtime injects no fault, so there it asks nothing.
``all_of`` combines rules, ``ok_count`` and ``final_ok`` count acknowledged and final
operations, and ``receipts`` and ``acked`` read what the messaging histories (SQS, SNS,
Kinesis) received and had acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ....checkers.judge import (
    Exercise,
    ExerciseRule,
    Verdicts,
    described,
    ok_in_every_window,
    ops_in_every_window,
)
from ....history import Completed, History

# --- exercise rules ----------------------------------------------------------------------------


def all_of(*rules: ExerciseRule) -> ExerciseRule:
    """Exercised when every rule is; the first that is not says why."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        whys = []
        for r in rules:
            e = r(history, verdicts)
            if not e.done:
                return e
            whys.append(e.why)
        return Exercise(True, "; ".join(whys))

    return described(rule, "; ".join((r.__doc__ or "").strip() for r in rules))


def path_faults(f: str | None = None) -> ExerciseRule:
    """Operations (``f``) succeeded during every latency window, and calls were in flight
    during every timeout window (their outcome unknown: what a lost answer does). A history
    without fault windows (the external runtime injects none) asks nothing here: whether the
    case's faults were started at all is ``outcome.decide``'s check."""
    ok_latency = ok_in_every_window("latency")
    calls_timeout = ops_in_every_window("timeout", f)

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        names = {w.fault for w in history.fault_windows()}
        if not names:
            return Exercise(True, "no fault injected (none on this runtime)")
        parts = []
        if "latency" in names:
            parts.append(ok_latency(history, verdicts))
        if "timeout" in names:
            parts.append(calls_timeout(history, verdicts))
        missing = [p for p in parts if not p.done]
        if missing:
            return missing[0]
        return Exercise(True, "; ".join(p.why for p in parts) or "no path fault")

    return described(rule, "operations succeed during every latency window and calls are in "
                           "flight during every timeout window")


def ok_count(f: str, at_least: int = 1, what: str = "") -> ExerciseRule:
    """At least ``at_least`` acknowledged ``f`` operations (final ones included)."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        n = sum(1 for c in history.complete() if c.f == f and c.type == "ok")
        text = what or f"acknowledged {f}s"
        return Exercise(n >= at_least, f"{n} {text}")

    return described(rule, f"at least {at_least} {what or f'acknowledged {f}'}")


def final_ok(history: History, verdicts: Verdicts) -> Exercise:
    """a final read (or drain) that succeeded"""
    finals = [c for c in history.complete() if c.is_final]
    ok = sum(1 for c in finals if c.type == "ok")
    if not finals:
        return Exercise(False, "no final read")
    if ok < len(finals):
        return Exercise(False, f"{len(finals) - ok} of {len(finals)} final reads failed")
    return Exercise(True, f"all {ok} final reads succeeded")


# --- messaging histories: what was received, what was acknowledged ---------------------------


def receipts(history: History) -> Iterator[tuple[Completed, Any, Any]]:
    """(poll, key, message) for every message an ok poll received."""
    for c in history.complete():
        if c.f == "poll" and c.type == "ok":
            for _, _, message in c.value or ():
                yield c, c.key, message


def acked(history: History) -> set[Any]:
    return {c.invoke.value for c in history.complete() if c.f == "send" and c.type == "ok"}


def retried(f: str = "send") -> ExerciseRule:
    """Acknowledged operations the SDK had to retry (its ``retries``, from the answer's
    ResponseMetadata)."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        n = sum(1 for c in history.complete() if c.f == f and c.type == "ok"
                and c.completion is not None and int(c.completion.get("retries") or 0) > 0)
        return Exercise(n > 0, f"{n} acknowledged {f}s retried by the SDK")

    return described(rule, f"acknowledged {f}s the SDK retried")
