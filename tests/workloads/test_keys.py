"""The fresh-keys workload: a key per write, reads of keys already written, a final read of each."""

from __future__ import annotations

import random

import pytest

from pytest_sdconform.checkers.durability import LostWritesChecker
from pytest_sdconform.workloads.keys import FreshKeys


def test_every_write_takes_a_key_of_its_own_with_a_unique_value() -> None:
    keys = FreshKeys(read_ratio=0.3)
    rng = random.Random(1)
    ops = [keys.next_op(rng) for _ in range(300)]
    writes = [op for op in ops if op.f == "write"]
    assert len({op.key for op in writes}) == len(writes) > 0
    assert len({op.value for op in writes}) == len(writes)


def test_reads_are_of_keys_already_written() -> None:
    keys = FreshKeys(read_ratio=0.5)
    rng = random.Random(2)
    written: set[str] = set()
    for _ in range(300):
        op = keys.next_op(rng)
        if op.f == "write":
            written.add(op.key)
        else:
            assert op.key in written


def test_the_first_operation_is_a_write_and_the_final_reads_cover_every_key() -> None:
    keys = FreshKeys(read_ratio=0.9)
    rng = random.Random(3)
    assert keys.next_op(rng).f == "write"
    written = [op.key for op in (keys.next_op(rng) for _ in range(100)) if op.f == "write"]
    finals = keys.final_ops()
    assert all(op.f == "read" for op in finals)
    assert [op.key for op in finals][1:] == written


def test_it_is_checked_for_lost_writes() -> None:
    [checker] = FreshKeys().checkers()
    assert isinstance(checker, LostWritesChecker) and checker.fs == ("write",)


def test_a_read_ratio_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="read_ratio"):
        FreshKeys(read_ratio=1.0)
