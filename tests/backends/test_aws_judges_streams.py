"""The DynamoDB Streams judge (judges/streams.py, ``StreamPublishes``) on synthetic histories:
ones that violate the claim (refuted), one where the behaviour was never exercised
(inconclusive through outcome.decide), one that holds (upheld)."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.aws import judges
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from tests.backends.test_aws_judges import H, outcome


def streamed(records: list[list[Any]], drain: bool = True) -> H:
    """Puts 1 then 2 of item k0, one after the other; the final read of the stream."""
    h = H().op(1, "write", "k0", 1, 0.0, 0.1).op(2, "write", "k0", 2, 0.2, 0.3)
    if drain:
        h.op(3, "poll", "drain", None, 1.0, 1.1, result=records, final=True)
    return h


def rec(seq: int, value: int, shard: str = "s0") -> list[Any]:
    return [shard, str(seq), "k0", value, "MODIFY"]


def test_stream_publishes_refutes_a_put_without_record() -> None:
    o, reason = outcome(judges.StreamPublishes(), streamed([rec(1, 1)]).build())
    assert o == REFUTED and "1 acknowledged puts have no stream record" in reason


def test_stream_publishes_refutes_puts_streamed_in_the_other_order() -> None:
    o, reason = outcome(judges.StreamPublishes(), streamed([rec(2, 1), rec(1, 2)]).build())
    assert o == REFUTED and "k0: 2 before 1" in reason


def test_stream_publishes_refutes_a_duplicate_and_a_phantom() -> None:
    h = streamed([rec(1, 1), rec(2, 2), rec(3, 2), rec(4, 9)]).build()
    o, reason = outcome(judges.StreamPublishes(), h)
    assert o == REFUTED and "more than one stream record" in reason and "never written" in reason


def test_stream_publishes_needs_the_stream_read() -> None:
    o, reason = outcome(judges.StreamPublishes(), streamed([], drain=False).build())
    assert o == INCONCLUSIVE and "never read whole" in reason


def test_stream_publishes_compares_order_within_a_shard_only() -> None:
    h = streamed([rec(2, 1, "s0"), rec(1, 2, "s1")]).build()
    assert outcome(judges.StreamPublishes(), h)[0] == UPHELD


def test_stream_publishes_upholds_every_put_streamed_once_in_order() -> None:
    o, reason = outcome(judges.StreamPublishes(), streamed([rec(1, 1), rec(2, 2)]).build())
    assert o == UPHELD and "1 ordered pairs" in reason
