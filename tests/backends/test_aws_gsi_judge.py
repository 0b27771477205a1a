"""The judge of strong consistency over DynamoDB's global secondary indexes."""

from __future__ import annotations

from pytest_sdconform.backends.aws.judges.gsi import IndexStrongConsistency, stale_index_reads
from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import event, history

PUT = ("1 invoke write k1 1", "1 ok write k1 1")


def refused_strong(h: History) -> History:
    ops = list(h.ops)
    n = len(ops)
    first = event(n, "2 invoke query gsi true")
    second = event(n + 1, '2 fail query gsi true')
    second.extra, second.error = {"answered": True}, "ValidationException"
    return History([*ops, first, second])


def test_a_refused_strong_gsi_query_refutes_the_claim() -> None:
    h = refused_strong(history(*PUT, '2 invoke query gsi false', '2 ok query gsi ["k1"]'))
    d = decide(h, {}, IndexStrongConsistency(emulator=True, limit="moto"))
    assert d.outcome == REFUTED
    assert "refused (ValidationException)" in d.reason


def test_a_stale_index_read_refutes_the_claim() -> None:
    h = history(*PUT, '2 invoke query gsi true', '2 ok query gsi []')
    assert [m for _, m in stale_index_reads(h)] == [["k1"]]
    d = decide(h, {}, IndexStrongConsistency(emulator=False))
    assert d.outcome == REFUTED
    assert "missed" in d.reason


def test_a_read_concurrent_with_the_put_may_miss_it() -> None:
    h = history("1 invoke write k1 1", '2 invoke query gsi true', "1 ok write k1 1",
                '2 ok query gsi []')
    assert stale_index_reads(h) == []


def test_fresh_reads_on_an_emulator_are_inconclusive_never_upheld() -> None:
    h = history(*PUT, '2 invoke query gsi true', '2 ok query gsi ["k1"]')
    d = decide(h, {}, IndexStrongConsistency(emulator=True, limit="moto's index cannot lag"))
    assert d.outcome == INCONCLUSIVE
    assert "emulator" in d.reason


def test_fresh_strong_reads_on_a_real_service_uphold() -> None:
    h = history(*PUT, '2 invoke query gsi true', '2 ok query gsi ["k1"]')
    assert decide(h, {}, IndexStrongConsistency(emulator=False)).outcome == UPHELD


def test_no_strong_query_answered_is_not_exercised() -> None:
    h = history(*PUT, '2 invoke query gsi false', '2 ok query gsi ["k1"]')
    d = decide(h, {}, IndexStrongConsistency(emulator=False))
    assert d.outcome == INCONCLUSIVE
    assert "strongly consistent" in d.reason
