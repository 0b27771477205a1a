"""A judge of what a service accepts and refuses: SQS's retention bounds, strong reads of
DynamoDB's secondary indexes. Each ``Expect`` names a request (``f``, ``key``, ``value``) and
whether AWS accepts it (and, for a read, what it answers); the clients record a refusal as
``fail`` with the service's error code and ``answered`` (a refusal, not a lost request).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ....checkers.judge import REFUTED, UPHELD, Exercise, Ruling, Verdicts, evidence
from ....history import Completed, History


@dataclass(frozen=True)
class Expect:
    """``what`` (in words) is accepted (``accepted``) or refused; ``result``: what an
    accepted read must answer (None: anything)."""

    what: str
    f: str
    key: Any
    value: Any
    accepted: bool
    result: Any = None

    def matches(self, c: Completed) -> bool:
        return (c.f, c.key, c.invoke.value) == (self.f, self.key, self.value)


def answered(c: Completed) -> bool:
    """The service answered: accepted (ok) or refused (a client error it sent back)."""
    if c.type == "ok":
        return True
    return c.type == "fail" and c.completion is not None and bool(c.completion.get("answered"))


@dataclass
class Answers:
    """Refuted when the service accepted a request the claim says it refuses, refused one it
    says it accepts, or an accepted read answered something else; exercised when every
    expectation got at least one answer (lost requests and connection errors say nothing)."""

    expects: Sequence[Expect]
    name: str = "answers"
    exercises: str = "every request of the claim answered by the service (accepted or refused)"

    def _answers(self, history: History) -> list[tuple[Expect, Completed]]:
        return [(e, c) for c in history.complete() if answered(c)
                for e in self.expects if e.matches(c)]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        got = {e.what for e, _ in self._answers(history)}
        missing = [e.what for e in self.expects if e.what not in got]
        if missing:
            return Exercise(False, f"never answered: {', '.join(missing)}")
        return Exercise(True, f"all {len(self.expects)} requests answered "
                              f"({len(self._answers(history))} answers)")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        wrong: list[tuple[str, Completed]] = []
        for e, c in self._answers(history):
            if c.type == "ok" and not e.accepted:
                wrong.append((f"{e.what} was accepted", c))
            elif c.type != "ok" and e.accepted:
                error = c.completion.get("error") if c.completion else None
                wrong.append((f"{e.what} was refused ({error})", c))
            elif c.type == "ok" and e.result is not None and c.value != e.result:
                wrong.append((f"{e.what} answered {c.value!r}, not {e.result!r}", c))
        if wrong:
            kinds = sorted({w for w, _ in wrong})
            text = f"{len(wrong)} answers against the claim: {'; '.join(kinds)}"
            return Ruling(REFUTED, text, evidence("wrong-answer", [c for _, c in wrong], text))
        said = "; ".join(f"{e.what}: {'accepted' if e.accepted else 'refused'}"
                         for e in self.expects)
        return Ruling(UPHELD, f"every answer as the claim says ({said})")
