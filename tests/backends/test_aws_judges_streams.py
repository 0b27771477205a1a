"""The DynamoDB Streams and TTL judges (``StreamPublishes``, ``TtlDeletes``) on synthetic
histories: ones that violate the claim (refuted), one where the behaviour was never exercised
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


# --- DynamoDB TTL ---------------------------------------------------------------------------


def ttl(exp: float, read: float | None, now: float = 1000.0) -> H:
    """Item k0 written with expiry ``exp`` (epoch s), then read (``read``: what was found) at
    the client's ``now``."""
    return (H().op(1, "write", "k0", exp - now, 0.0, 0.1, exp=exp)
            .op(2, "read", "k0", None, 0.5, 0.6, result=read, now=now))


def test_ttl_deletes_refutes_an_item_gone_before_its_expiry() -> None:
    o, reason = outcome(judges.TtlDeletes(), ttl(exp=4600, read=None).build())
    assert o == REFUTED and "gone before their expiry" in reason


def test_ttl_deletes_is_inconclusive_while_expired_items_are_readable() -> None:
    o, reason = outcome(judges.TtlDeletes(), ttl(exp=940, read=940).build())
    assert o == INCONCLUSIVE and "TTL deletion was not seen" in reason


def test_ttl_deletes_needs_a_read_past_an_expiry() -> None:
    o, reason = outcome(judges.TtlDeletes(), ttl(exp=4600, read=4600).build())
    assert o == INCONCLUSIVE and "no read of an item past its expiry" in reason


def test_ttl_deletes_ignores_a_read_racing_a_write() -> None:
    h = ttl(exp=4600, read=None).op(3, "write", "k0", 60, 0.4, 0.7, exp=1060).build()
    assert outcome(judges.TtlDeletes(), h)[0] == INCONCLUSIVE


def test_ttl_deletes_upholds_an_expired_item_deleted() -> None:
    assert outcome(judges.TtlDeletes(), ttl(exp=940, read=None).build())[0] == UPHELD
