"""The log workload: unique messages, keys when asked, one drain at the end, delivery checks."""

from __future__ import annotations

import random

from pytest_sdconform.checkers.delivery import DeliveryChecker
from pytest_sdconform.workloads.log import DRAIN, Log


def test_sends_carry_unique_values_and_polls_carry_none() -> None:
    log = Log(poll_ratio=0.3)
    ops = [log.next_op(random.Random(i)) for i in range(200)]
    sends = [op.value for op in ops if op.f == "send"]
    assert len(sends) == len(set(sends)) > 0
    assert all(op.value is None and op.key is None for op in ops if op.f == "poll")


def test_keys_are_drawn_from_the_given_number() -> None:
    log = Log(poll_ratio=0, keys=3)
    rng = random.Random(1)
    keys = {log.next_op(rng).key for _ in range(100)}
    assert keys == {"k0", "k1", "k2"}


def test_producers_only_never_poll_before_the_drain() -> None:
    log = Log(poll_ratio=0)
    rng = random.Random(2)
    assert all(log.next_op(rng).f == "send" for _ in range(100))
    assert [(op.f, op.value) for op in log.final_ops()] == [("poll", DRAIN)]


def test_checks_the_chosen_guarantees() -> None:
    (checker,) = Log(guarantees=["fifo", "log-order"]).checkers()
    assert isinstance(checker, DeliveryChecker)
    assert checker.guarantees == ("fifo", "log-order")
