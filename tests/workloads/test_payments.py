"""The payments ledger: a request is sent again only once its caller gave up on it, with the
same key and amount, at most ``max_attempts`` times, and still-unconfirmed requests are sent
once more before the final read."""

from __future__ import annotations

import random

import pytest

from pytest_sdconform.workloads import Invocation, Result
from pytest_sdconform.workloads.payments import Confirming, Payments


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Answer:
    def __init__(self, clock: Clock, takes: float, type: str = "ok") -> None:
        self.clock, self.takes, self.type = clock, takes, type

    def invoke(self, op: Invocation) -> Result:
        self.clock.now += self.takes
        return Result(self.type, "applied")

    def close(self) -> None:
        pass


def test_no_retry_until_the_caller_gave_up_then_the_same_key_and_amount() -> None:
    clock = Clock()
    p = Payments(timeout=1.0, retry_ratio=1.0, clock=clock)
    rng = random.Random(1)
    first = p.next_op(rng)
    assert first.f == "pay" and first.key == "p1"
    assert p.next_op(rng).key == "p2"  # p1 is still awaited: a new request, not a retry
    clock.now = 1.0
    retries = {p.next_op(rng) for _ in range(2)}
    assert first in retries and {op.key for op in retries} == {"p1", "p2"}
    assert p.next_op(rng).key == "p3"  # both were just sent again: neither is due
    assert p.unconfirmed() == ["p1", "p2", "p3"]


def test_an_answer_in_time_confirms_a_late_one_does_not() -> None:
    clock = Clock()
    p = Payments(timeout=1.0, retry_ratio=1.0, clock=clock)
    rng = random.Random(2)
    a, b = p.next_op(rng), p.next_op(rng)
    Confirming(Answer(clock, 0.5), p, clock).invoke(a)
    Confirming(Answer(clock, 1.5), p, clock).invoke(b)  # the caller had given up by then
    Confirming(Answer(clock, 0.1, "info"), p, clock).invoke(b)
    assert p.unconfirmed() == [b.key]
    final = p.final_ops()
    assert final == [Invocation("pay", b.key, b.value), Invocation("read", "payments")]


def test_at_most_max_attempts() -> None:
    clock = Clock()
    p = Payments(timeout=1.0, retry_ratio=1.0, max_attempts=2, clock=clock)
    rng = random.Random(3)
    assert p.next_op(rng).key == "p1"
    clock.now = 1.0
    assert p.next_op(rng).key == "p1"
    clock.now = 2.0
    assert p.next_op(rng).key == "p2"  # p1 had its two attempts


@pytest.mark.parametrize("kw", [{"timeout": 0}, {"timeout": 1, "retry_ratio": 2},
                                {"timeout": 1, "max_attempts": 0}])
def test_bad_settings_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="payments:"):
        Payments(**kw)  # type: ignore[arg-type]
