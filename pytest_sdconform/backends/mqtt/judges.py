"""What an MQTT case needs to have happened before its delivery verdict counts."""

from __future__ import annotations

from ...checkers.judge import Exercise, ExerciseRule, Verdicts, described, ok_in_every_window
from ...history import History


def reconnected(fault: str) -> ExerciseRule:
    """Exercised when publishes were acknowledged during every ``fault`` window and the
    subscriber connected again afterwards (its connections, counted by the final poll, are
    more than one): the broker had to resume its session."""
    during = ok_in_every_window(fault)

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        done = during(history, verdicts)
        if not done.done:
            return done
        final = [c for c in history.complete() if c.is_final and c.type == "ok"]
        connects = max((int(c.completion.get("connects") or 0) for c in final
                        if c.completion is not None), default=0)
        if connects < 2:
            return Exercise(False, f"the subscriber connected {connects} time(s): its session "
                                   "was never resumed")
        return Exercise(True, f"{done.why}; the subscriber connected {connects} times")

    return described(rule, f"publishes acknowledged during every {fault} window, and the "
                           "subscriber's session resumed on a new connection")
