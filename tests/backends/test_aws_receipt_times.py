"""When a poll's receive was answered, as the SQS judges bound it: no sooner than the invocation
plus ``received_ms``, no later than the completion minus ``after_receive_ms``. A slow handoff
to the client's thread (a loaded machine: the call begins well after the invocation was
stamped) no longer makes a redelivery look early, nor two holders out of one; a real early
redelivery and real two holders still refute."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.aws import judges
from pytest_sdconform.outcome import REFUTED, UPHELD
from tests.backends.test_aws_judges import H, outcome

HOLDERS = judges.Holders(visibility_s=1, hold_s=2)


def poll(h: H, p: int, t0: float, t1: float, msgs: list[int], received_ms: float,
         after_ms: float | None) -> H:
    extra: dict[str, Any] = {} if after_ms is None else {"after_receive_ms": after_ms}
    return h.op(p, "poll", None, None, t0, t1, result=[[None, None, m] for m in msgs],
                received_ms=received_ms, **extra)


def handed_off_late() -> H:
    """Consumer 1 receives m1 at once (invoked at 0, answered at 0.01, held 2 s, deleted,
    completed at 2.05). Consumer 2 was invoked at 0.5 but its thread began the call only at
    1.0 (the handoff); SQS answered it with m1, visible again, at 1.02; it returned at 1.04.
    Consumer 3 polls in vain meanwhile (the behaviour was exercised)."""
    h = H().op(9, "send", None, 1, -1, -0.9)
    poll(h, 1, 0.0, 2.05, [1], received_ms=10, after_ms=2040)
    poll(h, 3, 1.1, 1.15, [], received_ms=20, after_ms=0)
    return poll(h, 2, 0.5, 1.04, [1], received_ms=20, after_ms=20)


def test_a_late_handoff_is_not_an_early_redelivery() -> None:
    h = handed_off_late().build()
    out, why = outcome(judges.RedeliveredAfterTimeout(HOLDERS), h)
    assert out == UPHELD, why


def test_without_the_answer_to_return_time_the_old_bound_is_kept() -> None:
    # The same history as recorded before the client measured after_receive_ms: consumer 2's
    # answer is placed at 0.52 (invocation + received_ms), which looks early.
    h = H().op(9, "send", None, 1, -1, -0.9)
    poll(h, 1, 0.0, 2.05, [1], received_ms=10, after_ms=None)
    poll(h, 2, 0.5, 1.04, [1], received_ms=20, after_ms=None)
    out, _ = outcome(judges.RedeliveredAfterTimeout(HOLDERS), h.build())
    assert out == REFUTED


def test_an_early_redelivery_still_refutes() -> None:
    # Consumer 2's poll ran from 0.3 to 0.36: m1 surely came back within 0.36 s of the first
    # receive's call, before the 1 s visibility timeout.
    h = H().op(9, "send", None, 1, -1, -0.9)
    poll(h, 1, 0.0, 2.05, [1], received_ms=10, after_ms=2040)
    poll(h, 2, 0.3, 0.36, [1], received_ms=20, after_ms=40)
    out, why = outcome(judges.RedeliveredAfterTimeout(HOLDERS), h.build())
    assert out == REFUTED and "before the 1s visibility timeout" in why


def test_two_holders_at_once_still_refute_with_both_bounds() -> None:
    # m1 answered to consumer 2 by 1.04 while consumer 1, answered after 0.01, could not begin
    # its delete before 2.01: both held it.
    out, why = outcome(judges.TwoHolders(HOLDERS), handed_off_late().build())
    assert out == REFUTED and "held by two consumers at once" in why


def test_a_receive_answered_after_the_first_holders_delete_is_not_two_holders() -> None:
    # Consumer 1's answer came after 0.01 and it held m1 2 s: its delete began no sooner than
    # 2.01. Consumer 2 was invoked at 1.9 but its thread began the call late: answered by 2.02
    # (completion 2.04 minus 20 ms), so the holds need not overlap; the old bound (1.9 + 20 ms)
    # would have put its answer inside consumer 1's hold.
    h = H().op(9, "send", None, 1, -1, -0.9)
    poll(h, 1, 0.0, 2.05, [1], received_ms=10, after_ms=2040)
    poll(h, 3, 1.1, 1.15, [], received_ms=20, after_ms=0)
    poll(h, 2, 1.9, 2.04, [1], received_ms=20, after_ms=20)
    out, why = outcome(judges.TwoHolders(HOLDERS), h.build())
    assert out == UPHELD, why
