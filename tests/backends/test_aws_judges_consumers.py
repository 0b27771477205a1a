"""The AWS judges of queue consumers, SNS filters and FIFO topics, and what services accept
(judges/consumers.py, filters.py, settings.py) on synthetic histories: one that violates the
claim (refuted), one where the behaviour was never exercised (inconclusive through
outcome.decide), one that holds (upheld)."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.aws import judges
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from tests.backends.test_aws_judges import H, outcome


def got(*messages: Any) -> list[list[Any]]:
    return [[None, None, m] for m in messages]


# --- delay queues -----------------------------------------------------------------------------


def delayed(first_receive_at: float) -> H:
    """Message 1 sent at 0-0.1 s with a 2 s delay; an empty poll inside the delay; the message
    received by ``first_receive_at``; a drain."""
    return (H().op(1, "send", None, 1, 0.0, 0.1)
            .op(2, "poll", None, None, 0.5, 0.6, result=[], received_ms=50)
            .op(2, "poll", None, None, first_receive_at - 0.05, first_receive_at + 0.1,
                result=got(1), received_ms=50)
            .op(3, "poll", None, None, 5.0, 5.1, result=[], final=True))


def test_delayed_until_refutes_a_message_received_before_its_delay() -> None:
    o, reason = outcome(judges.DelayedUntil(2), delayed(1.5).build())
    assert o == REFUTED and "before the queue's 2s delay" in reason


def test_delayed_until_refutes_a_lost_message() -> None:
    h = delayed(2.5).op(1, "send", None, 2, 0.2, 0.3).build()
    assert outcome(judges.DelayedUntil(2), h)[0] == REFUTED


def test_delayed_until_needs_a_poll_inside_the_delay() -> None:
    h = (H().op(1, "send", None, 1, 0.0, 0.1)
         .op(2, "poll", None, None, 2.5, 2.6, result=got(1), received_ms=50)
         .op(3, "poll", None, None, 5.0, 5.1, result=[], final=True)).build()
    o, reason = outcome(judges.DelayedUntil(2), h)
    assert o == INCONCLUSIVE and "not exercised" in reason


def test_delayed_until_upholds_messages_received_after_their_delay() -> None:
    assert outcome(judges.DelayedUntil(2), delayed(2.5).build())[0] == UPHELD


# --- re-queue of failed messages ---------------------------------------------------------------


def failing(again: bool) -> H:
    h = (H().op(1, "send", None, 1, 0.0, 0.1)
         .op(2, "poll", None, None, 0.2, 0.3, result=got(1), received_ms=10, failed=[1]))
    if again:
        h.op(2, "poll", None, None, 1.5, 1.6, result=got(1), received_ms=10, failed=[])
    return h.op(3, "poll", None, None, 3.0, 3.1, result=[], final=True)


def test_requeued_refutes_a_failed_message_that_never_came_back() -> None:
    o, reason = outcome(judges.Requeued(1), failing(again=False).build())
    assert o == REFUTED and "never came back" in reason


def test_requeued_is_inconclusive_without_a_failure() -> None:
    h = (H().op(1, "send", None, 1, 0.0, 0.1)
         .op(2, "poll", None, None, 0.2, 0.3, result=got(1), received_ms=10, failed=[])
         .op(3, "poll", None, None, 3.0, 3.1, result=[], final=True)).build()
    assert outcome(judges.Requeued(1), h)[0] == INCONCLUSIVE


def test_requeued_upholds_failed_messages_received_again() -> None:
    assert outcome(judges.Requeued(1), failing(again=True).build())[0] == UPHELD


# --- decoupling ---------------------------------------------------------------------------------


def outage(send_type: str = "ok", received: bool = True, refused_polls: bool = True) -> H:
    h = H().fault("consumer-down", 1.0, 3.0).op(1, "send", None, 1, 1.5, 1.6, typ=send_type)
    if refused_polls:
        h.op(2, "poll", None, None, 1.7, 1.71, typ="fail", error="consumer down")
    h.op(2, "poll", None, None, 3.5, 3.6, result=got(1) if received else [], received_ms=10,
         final=True)
    return h.op(2, "poll", None, None, 3.7, 3.8, result=[], received_ms=10, final=True)


def test_producer_unaffected_refutes_a_send_failed_during_the_outage() -> None:
    o, reason = outcome(judges.ProducerUnaffected(), outage(send_type="info").build(),
                        faults=("consumer-down",))
    assert o == REFUTED and "while the consumers were down" in reason


def test_producer_unaffected_refutes_a_message_lost() -> None:
    h = outage(received=False).build()
    assert outcome(judges.ProducerUnaffected(), h, faults=("consumer-down",))[0] == REFUTED


def test_producer_unaffected_claims_no_loss_from_a_queue_not_drained() -> None:
    h = (H().fault("consumer-down", 1.0, 3.0).op(1, "send", None, 1, 1.5, 1.6)
         .op(2, "poll", None, None, 1.7, 1.71, typ="fail", error="consumer down")
         .op(2, "poll", None, None, 3.5, 3.6, result=got(2), received_ms=10, final=True))
    o, reason = outcome(judges.ProducerUnaffected(), h.build(), faults=("consumer-down",))
    assert o == INCONCLUSIVE and "not drained to empty" in reason


def test_producer_unaffected_needs_the_consumers_seen_down() -> None:
    h = outage(refused_polls=False).build()
    assert outcome(judges.ProducerUnaffected(), h, faults=("consumer-down",))[0] == INCONCLUSIVE


def test_producer_unaffected_upholds_sends_through_the_outage() -> None:
    h = outage().build()
    assert outcome(judges.ProducerUnaffected(), h, faults=("consumer-down",))[0] == UPHELD


def test_producer_unaffected_checks_every_subscriber_queue() -> None:
    h = (H().fault("consumer-down", 1.0, 3.0).op(1, "send", None, 1, 1.5, 1.6)
         .op(2, "poll", "q0", None, 1.7, 1.71, typ="fail", error="consumer down")
         .op(2, "poll", "q0", None, 3.5, 3.6, result=got(1), received_ms=10, final=True)
         .op(2, "poll", "q0", None, 3.6, 3.7, result=[], received_ms=10, final=True)
         .op(2, "poll", "q1", None, 3.7, 3.8, result=[], received_ms=10, final=True)).build()
    o, reason = outcome(judges.ProducerUnaffected(("q0", "q1")), h, faults=("consumer-down",))
    assert o == REFUTED and "from queue q1" in reason


# --- standard-queue order -----------------------------------------------------------------------


def sequence(order: list[int]) -> H:
    """Messages 1..n sent one after the other, then received one per poll in ``order``."""
    h = H()
    for m in range(1, len(order) + 1):
        h.op(1, "send", None, m, m * 1.0, m * 1.0 + 0.1)
    for i, m in enumerate(order):
        t = 10.0 + i
        h.op(2, "poll", None, None, t, t + 0.1, result=got(m), received_ms=10)
    return h


def test_best_effort_order_refutes_an_order_no_better_than_chance() -> None:
    o, reason = outcome(judges.BestEffortOrder(pairs=3), sequence([4, 3, 2, 1]).build())
    assert o == REFUTED and "no better than chance" in reason


def test_best_effort_order_needs_enough_pairs() -> None:
    o, _ = outcome(judges.BestEffortOrder(pairs=20), sequence([1, 2, 3]).build())
    assert o == INCONCLUSIVE


def test_best_effort_order_allows_some_inversions() -> None:
    o, reason = outcome(judges.BestEffortOrder(pairs=3), sequence([2, 1, 3, 4]).build())
    assert o == UPHELD and "1 not" in reason


# --- what a service accepts --------------------------------------------------------------------

BOUNDS = [judges.Expect("59 s", "set", "R", 59, False), judges.Expect("60 s", "set", "R", 60, True),
          judges.Expect("the default", "read", "R", None, True, "345600")]


def answers(ok59: bool, default: str = "345600", with_default: bool = True) -> H:
    h = H()
    if ok59:
        h.op(1, "set", "R", 59, 0.0, 0.1)
    else:
        h.op(1, "set", "R", 59, 0.0, 0.1, typ="fail", error="InvalidAttributeValue",
             answered=True)
    h.op(1, "set", "R", 60, 0.2, 0.3)
    if with_default:
        h.op(1, "read", "R", None, 0.4, 0.5, result=default)
    return h


def test_answers_refute_an_out_of_bounds_value_accepted() -> None:
    o, reason = outcome(judges.Answers(BOUNDS), answers(ok59=True).build())
    assert o == REFUTED and "59 s was accepted" in reason


def test_answers_refute_a_wrong_default() -> None:
    o, reason = outcome(judges.Answers(BOUNDS), answers(ok59=False, default="60").build())
    assert o == REFUTED and "the default answered '60'" in reason


def test_answers_need_every_request_answered() -> None:
    h = answers(ok59=False, with_default=False)
    h.op(1, "read", "R", None, 0.4, 0.5, typ="fail", error="EndpointConnectionError: down")
    o, reason = outcome(judges.Answers(BOUNDS), h.build())
    assert o == INCONCLUSIVE and "never answered: the default" in reason


def test_answers_uphold_the_bounds() -> None:
    assert outcome(judges.Answers(BOUNDS), answers(ok59=False).build())[0] == UPHELD


# --- SNS filter policies ------------------------------------------------------------------------

POLICIES = {"qa": frozenset({"a"}), "qb": frozenset({"b"})}


def filtered(qa_gets: list[int], drains: bool = True, qa_in_flight: int = 0) -> H:
    h = (H().op(1, "send", None, 1, 0.0, 0.1, kind="a").op(1, "send", None, 2, 0.2, 0.3, kind="b")
         .op(2, "poll", "qa", None, 1.0, 1.1, result=got(*qa_gets), received_ms=10)
         .op(2, "poll", "qb", None, 1.2, 1.3, result=got(2), received_ms=10))
    if drains:
        h.op(3, "poll", "qa", "drain", 2.0, 2.1, result=[], final=True, in_flight=qa_in_flight)
        h.op(3, "poll", "qb", "drain", 2.2, 2.3, result=[], final=True, in_flight=0)
    return h


def test_filtered_delivery_refutes_a_message_against_the_policy() -> None:
    o, reason = outcome(judges.FilteredDelivery(POLICIES), filtered([1, 2]).build())
    assert o == REFUTED and "against the filter policy" in reason


def test_filtered_delivery_refutes_a_message_the_policy_accepts_never_delivered() -> None:
    o, reason = outcome(judges.FilteredDelivery(POLICIES), filtered([]).build())
    assert o == REFUTED and "never reached" in reason


def test_filtered_delivery_needs_a_drain() -> None:
    o, _ = outcome(judges.FilteredDelivery(POLICIES), filtered([1], drains=False).build())
    assert o == INCONCLUSIVE


def test_filtered_delivery_claims_no_loss_while_messages_were_in_flight() -> None:
    """The CI case: a receive whose answer was lost hid message 1 for its visibility timeout;
    the drain came back empty, but the queue said a message was in flight: no refutation."""
    o, reason = outcome(judges.FilteredDelivery(POLICIES), filtered([], qa_in_flight=1).build())
    assert o == INCONCLUSIVE and "1 messages still in flight" in reason


def test_drained_counts_a_queue_with_nothing_in_flight() -> None:
    assert judges.consumers.drained(filtered([1]).build(), ["qa", "qb"]).done
    later = filtered([1], qa_in_flight=2).build()
    assert not judges.consumers.drained(later, ["qa"]).done
    assert judges.consumers.drained(later, ["qb"]).done


def test_filtered_delivery_upholds_exact_matches() -> None:
    assert outcome(judges.FilteredDelivery(POLICIES), filtered([1]).build())[0] == UPHELD


# --- SNS FIFO topics to SQS FIFO queues --------------------------------------------------------


def fifo(delivered: list[int], drain: bool = True) -> H:
    """Messages 1 then 2 of group g0 published; each of ``delivered`` received by a poll of
    its own, in that order."""
    h = H().op(1, "send", "g0", 1, 0.0, 0.1).op(1, "send", "g0", 2, 0.2, 0.3)
    for i, m in enumerate(delivered):
        h.op(2, "poll", "f0", None, 1.0 + i, 1.1 + i, result=[["g0", None, m]], received_ms=10)
    if drain:
        h.op(3, "poll", "f0", None, 2.0, 2.1, result=[], final=True)
    return h


def test_fifo_topic_refutes_cannot_send_to_sqs_fifo_when_it_delivers() -> None:
    o, reason = outcome(judges.FifoTopic(("f0",)), fifo([2, 1, 1]).build())
    assert o == REFUTED and "1 out of group order, 1 duplicated" in reason


def test_fifo_topic_needs_every_queue_drained() -> None:
    assert outcome(judges.FifoTopic(("f0",)), fifo([], drain=False).build())[0] == INCONCLUSIVE


def test_fifo_topic_upholds_when_nothing_reaches_an_sqs_fifo_queue() -> None:
    assert outcome(judges.FifoTopic(("f0",)), fifo([]).build())[0] == UPHELD


# --- a counter behind a queue ------------------------------------------------------------------


def counted(final: list[int], again: bool = True, drain_empty: bool = True) -> H:
    """Events 1 and 2 sent; a poll counts both and crashes (1 and 2 stay); another counts them
    again (when ``again``); a drain; the counter read at the end (``final``)."""
    h = (H().op(1, "send", None, 1, 0.0, 0.1).op(1, "send", None, 2, 0.2, 0.3)
         .op(2, "poll", None, None, 0.4, 0.5, result=got(1, 2), applied=[1, 2], crashed=[1, 2]))
    if again:
        h.op(2, "poll", None, None, 2.0, 2.1, result=got(1, 2), applied=[1, 2], crashed=[])
    h.op(3, "poll", None, "drain", 3.0, 3.1, result=[] if drain_empty else got(9), applied=[],
         crashed=[], final=True)
    for i, v in enumerate(final):
        h.op(3, "read", None, None, 4.0 + i, 4.1 + i, result=v, final=True)
    return h


def test_converges_refutes_a_counter_still_moving() -> None:
    o, reason = outcome(judges.Converges(), counted([3, 4]).build())
    assert o == REFUTED and "still moved" in reason


def test_converges_refutes_a_counter_off_the_updates_made() -> None:
    o, reason = outcome(judges.Converges(), counted([3, 3]).build())
    assert o == REFUTED and "made 4 updates" in reason


def test_converges_refutes_lost_increments() -> None:
    h = (H().op(1, "send", None, 1, 0.0, 0.1).op(1, "send", None, 2, 0.2, 0.3)
         .op(2, "poll", None, None, 0.4, 0.5, result=got(1), applied=[1], crashed=[])
         .op(3, "poll", None, "drain", 3.0, 3.1, result=[], applied=[], crashed=[], final=True)
         .op(3, "read", None, None, 4.0, 4.1, result=1, final=True)
         .op(3, "read", None, None, 4.2, 4.3, result=1, final=True)).build()
    o, reason = outcome(judges.Converges(), h)
    assert o == REFUTED and "increments lost" in reason


def test_converges_needs_an_event_counted_again() -> None:
    o, reason = outcome(judges.Converges(), counted([2, 2], again=False).build())
    assert o == INCONCLUSIVE and "0 events counted again" in reason


def test_converges_upholds_an_over_count_that_settles() -> None:
    o, reason = outcome(judges.Converges(), counted([4, 4]).build())
    assert o == UPHELD and "2 extra counts" in reason
