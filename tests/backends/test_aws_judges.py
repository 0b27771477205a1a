"""The AWS judges (pytest_sdconform/backends/aws/judges/) on synthetic histories: for each,
one that violates its claim (refuted), one where the behaviour was never exercised
(inconclusive through outcome.decide), and one that holds (upheld)."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.aws import judges
from pytest_sdconform.checkers.delivery import DeliveryChecker
from pytest_sdconform.checkers.durability import LostWritesChecker
from pytest_sdconform.checkers.judge import Checkers
from pytest_sdconform.checkers.linearizable import LinearizabilityChecker
from pytest_sdconform.history import NEMESIS, History, Operation
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD, decide

NS = 1_000_000_000


class H:
    """A history built op by op: ``op(p, f, key, value, t0, t1, ...)`` adds an invocation at
    t0 and its completion at t1 (seconds)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, int, Operation]] = []
        self.n = 0

    def _add(self, t: float, op: Operation) -> None:
        self.events.append((t, self.n, op))
        self.n += 1

    def op(self, p: Any, f: str, key: Any = None, value: Any = None, t0: float = 0.0,
           t1: float | None = None, typ: str = "ok", result: Any = None, error: Any = None,
           final: bool = False, **extra: Any) -> H:
        mark = {"final": True} if final else {}
        self._add(t0, Operation(0, 0, p, "invoke", f, key, value, extra=dict(mark) or None))
        if t1 is not None:
            done = result if (typ == "ok" and result is not None) else value
            self._add(t1, Operation(0, 0, p, typ, f, key, done, error=error,
                                    extra={**mark, **extra} or None))
        return self

    def fault(self, name: str, start: float, stop: float) -> H:
        self._add(start, Operation(0, 0, NEMESIS, "info", f"{name}-start"))
        self._add(stop, Operation(0, 0, NEMESIS, "info", f"{name}-stop"))
        return self

    def build(self) -> History:
        ops = []
        for i, (t, _, op) in enumerate(sorted(self.events, key=lambda e: (e[0], e[1]))):
            op.index, op.time = i, int(t * NS)
            ops.append(op)
        return History(ops)


def outcome(judge: Any, h: History, verdicts: dict[str, Any] | None = None,
            faults: tuple[str, ...] = ()) -> tuple[str, str]:
    d = decide(h, verdicts or {}, judge, faults=list(faults))
    return d.outcome, d.reason


# --- path faults --------------------------------------------------------------------------------


def test_path_faults_need_ok_in_latency_and_calls_in_timeout_windows() -> None:
    rule = judges.path_faults()
    base = H().fault("latency", 1, 3).fault("timeout", 4, 6)
    assert not rule(base.build(), {}).done
    good = (H().fault("latency", 1, 3).fault("timeout", 4, 6)
            .op(1, "write", "x", 1, 1.5, 2.0).op(2, "write", "x", 2, 4.5, 5.9, typ="info"))
    assert rule(good.build(), {}).done
    assert rule(H().op(1, "write", "x", 1, 0, 1).build(), {}).done  # no fault: nothing asked


def test_checkers_with_path_faults_are_inconclusive_when_nothing_ran_during_timeouts() -> None:
    h = (H().fault("latency", 1, 3).fault("timeout", 4, 6)
         .op(1, "write", "x", 1, 1.5, 2.0).op(1, "read", "x", None, 2.1, 2.2, result=1)
         .build())
    lin = {"linearizable": LinearizabilityChecker("cas-register", 10).check(h)}
    judge = Checkers(["linearizable"], judges.path_faults(), "path faults")
    out, why = outcome(judge, h, lin, faults=("latency", "timeout"))
    assert out == INCONCLUSIVE and "not exercised" in why


def test_conflicts_need_a_won_and_a_lost_conditional_write() -> None:
    rule = judges.conflicts()
    won = H().op(1, "cas", "k", [None, 1], 0, 1)
    assert not rule(won.build(), {}).done
    won.op(2, "cas", "k", [None, 2], 0, 1.1, typ="fail", error="ConditionalCheckFailedException")
    assert rule(won.build(), {}).done


# --- DynamoDB strong and eventual reads -----------------------------------------------------------


def strong_eventual(stale_strong: bool, eventual: bool = True) -> History:
    h = H().op(1, "write", "x", 1, 0, 1).op(1, "write", "x", 2, 2, 3)
    h.op(2, "read", "x", None, 4, 5, result=1 if stale_strong else 2, consistent_read=True)
    if eventual:
        h.op(3, "read", "x", None, 4, 5, result=1, consistent_read=False)  # stale: allowed
    return h.build()


def test_strong_reads_refuted_by_a_stale_strong_read() -> None:
    assert outcome(judges.StrongReadsLinearizable(), strong_eventual(True))[0] == REFUTED


def test_strong_reads_not_exercised_without_eventual_reads() -> None:
    out, why = outcome(judges.StrongReadsLinearizable(), strong_eventual(False, eventual=False))
    assert out == INCONCLUSIVE and "eventual" in why


def test_strong_reads_upheld_though_an_eventual_read_was_stale() -> None:
    assert outcome(judges.StrongReadsLinearizable(), strong_eventual(False))[0] == UPHELD


# --- DynamoDB transactions -----------------------------------------------------------------------

LEDGER = judges.Ledger(accounts=3, balance=100, over=1_000_000)
ACCTS = ["a0", "a1", "a2"]


def txn(h: H, p: int, items: list[list[Any]], t: float, typ: str = "ok",
        error: str | None = None) -> H:
    return h.op(p, "txn", None, items, t, t + 0.5, typ=typ, error=error)


def snap(h: H, p: int, balances: list[int], t: float, final: bool = False) -> H:
    return h.op(p, "read", "accounts", None, t, t + 0.2, result=balances, final=final)


def pad(items: list[list[Any]], n: int) -> list[list[Any]]:
    return items + [["check", f"spare{i}", None] for i in range(n - len(items))]


def bank(partial: bool = False, refused: bool = True, big_ok: bool = True,
         over: str = "fail") -> History:
    h = H()
    txn(h, 1, pad([["add", "a0", -10], ["add", "a1", 10]], 2), 0)
    snap(h, 2, [90, 110, 100], 1)
    if big_ok:  # 20 items: over the claimed 10, within AWS's 100
        txn(h, 1, pad([["add", "a1", -20], ["add", "a2", 20]], 20), 2)
    else:
        txn(h, 1, pad([["add", "a1", -20], ["add", "a2", 20]], 20), 2, typ="fail",
            error="ValidationException")
    if refused:  # cancelled by its condition: nothing applied
        txn(h, 1, [["add", "a0", -500], ["add", "a1", 500]], 3, typ="fail",
            error="TransactionCanceledException")
    overs = pad([["add", a, 1_000_000] for a in ACCTS], 101)
    txn(h, 3, overs, 3.5, typ=over, error="ValidationException" if over == "fail" else None)
    moved = [90, 90, 120] if big_ok else [90, 110, 100]
    if partial:  # the cancelled transfer applied its credit only
        moved = [moved[0], moved[1] + 500, moved[2]]
    snap(h, 2, moved, 4)
    snap(h, 2, moved, 6, final=True)
    return h.build()


def test_all_or_nothing_refuted_by_a_transaction_applied_in_part() -> None:
    out, why = outcome(judges.AllOrNothing(LEDGER), bank(partial=True))
    assert out == REFUTED and "in part" in why


def test_all_or_nothing_refuted_by_an_over_limit_transaction_applied_in_part() -> None:
    h = bank()
    final = next(c for c in h.complete() if c.is_final)
    assert final.completion is not None
    final.completion.value = [b + 1_000_000 for b in final.completion.value[:2]] + [120]
    out, why = outcome(judges.AllOrNothing(LEDGER), h)
    assert out == REFUTED and "over-limit" in why


def test_all_or_nothing_not_exercised_without_a_refused_transaction() -> None:
    out, why = outcome(judges.AllOrNothing(LEDGER), bank(refused=False, over="info"))
    assert out == INCONCLUSIVE and "not exercised" in why


def test_all_or_nothing_upheld_when_refused_transactions_left_no_trace() -> None:
    out, why = outcome(judges.AllOrNothing(LEDGER), bank())
    assert out == UPHELD and "rejected as too large" in why


def test_all_or_nothing_counts_a_whole_over_limit_transaction() -> None:
    h = bank(over="ok")
    for c in h.complete():
        if c.f == "read" and c.invoke.time >= 4 * NS:
            assert c.completion is not None
            c.completion.value = [b + 1_000_000 for b in c.completion.value]
    assert outcome(judges.AllOrNothing(LEDGER), h)[0] == UPHELD


def test_item_limit_refuted_when_more_than_ten_items_commit_whole() -> None:
    out, why = outcome(judges.ItemLimit(LEDGER), bank())
    assert out == REFUTED and "not 10" in why


def test_item_limit_a_partial_transaction_is_never_the_expected_refutation() -> None:
    out, why = outcome(judges.ItemLimit(LEDGER), bank(partial=True))
    assert out == INCONCLUSIVE and "atomicity" in why


def test_item_limit_not_exercised_without_a_large_transaction() -> None:
    h = H()
    txn(h, 1, [["add", "a0", -10], ["add", "a1", 10]], 0)
    snap(h, 2, [90, 110, 100], 1, final=True)
    out, why = outcome(judges.ItemLimit(LEDGER), h.build())
    assert out == INCONCLUSIVE and "no transaction of more than 10" in why


def test_item_limit_upheld_when_every_large_transaction_is_rejected() -> None:
    assert outcome(judges.ItemLimit(LEDGER), bank(big_ok=False))[0] == UPHELD


def token_history(rose: int, oks: int = 2) -> History:
    h = H()
    for i in range(oks):
        h.op(1, "txn", f"t{i}", [["add", "a0", 1]], i, i + 0.5)
    h.op(1, "read", "accounts", None, 5, 5.5, result=[100 + rose], final=True)
    return h.build()


def test_once_per_token_refuted_when_a_resubmission_applies_again() -> None:
    assert outcome(judges.OncePerToken(100), token_history(rose=4))[0] == REFUTED


def test_once_per_token_not_exercised_without_an_acknowledged_token() -> None:
    out, why = outcome(judges.OncePerToken(100), token_history(rose=0, oks=0))
    assert out == INCONCLUSIVE and "not exercised" in why


def test_once_per_token_upheld_when_each_token_applies_once() -> None:
    assert outcome(judges.OncePerToken(100), token_history(rose=2))[0] == UPHELD


# --- SQS visibility ---------------------------------------------------------------------------

HOLDERS = judges.Holders(visibility_s=1, hold_s=2)


def poll(h: H, p: int, t0: float, t1: float, msgs: list[int], received_ms: float = 10) -> H:
    return h.op(p, "poll", None, None, t0, t1, result=[[None, None, m] for m in msgs],
                received_ms=received_ms)


def slow(second: tuple[float, float, list[int]] | None) -> History:
    """Consumer 1 receives m1 at 0 and holds it 2 s; consumer 2 polls in between."""
    h = H().op(9, "send", None, 1, -1, -0.9).op(8, "send", None, 2, -1, -0.9)
    poll(h, 1, 0, 2.05, [1])
    if second is not None:
        t0, t1, msgs = second
        poll(h, 2, t0, t1, msgs)
    return h.build()


def test_two_holders_refuted_when_another_consumer_gets_a_held_message() -> None:
    out, _ = outcome(judges.TwoHolders(HOLDERS), slow((1.2, 1.25, [1])))
    assert out == REFUTED


def test_two_holders_not_exercised_when_nobody_polled_while_it_was_held() -> None:
    out, why = outcome(judges.TwoHolders(HOLDERS), slow((0.2, 0.25, [])))
    assert out == INCONCLUSIVE and "not exercised" in why


def test_two_holders_not_exercised_by_a_poll_filled_by_another_message() -> None:
    """The CI case: the other consumer's poll (batch 1) came while m1 was visible again and
    got m2: it had no room for m1, so it says nothing about m1's holder."""
    out, why = outcome(judges.TwoHolders(HOLDERS), slow((1.2, 1.25, [2])))
    assert out == INCONCLUSIVE and "0 polls" in why


def test_two_holders_upheld_when_polls_during_the_hold_get_nothing() -> None:
    assert outcome(judges.TwoHolders(HOLDERS), slow((1.2, 1.25, [])))[0] == UPHELD


def test_redelivery_refuted_when_a_message_comes_back_early() -> None:
    out, why = outcome(judges.RedeliveredAfterTimeout(HOLDERS), slow((0.3, 0.35, [1])))
    assert out == REFUTED and "before" in why


def test_redelivery_refuted_when_it_never_comes_back_though_others_polled() -> None:
    h = H().op(9, "send", None, 1, -1, -0.9)
    poll(h, 1, 0, 2.05, [1])
    for i in range(6):
        poll(h, 2, 1.1 + i * 0.1, 1.15 + i * 0.1, [])
    out, why = outcome(judges.RedeliveredAfterTimeout(HOLDERS), h.build())
    assert out == REFUTED and "ever received again" in why


def test_redelivery_not_exercised_when_nobody_polled_after_the_timeout() -> None:
    out, _ = outcome(judges.RedeliveredAfterTimeout(HOLDERS), slow((0.2, 0.25, [])))
    assert out == INCONCLUSIVE


def test_redelivery_upheld_when_the_message_comes_back_after_the_timeout() -> None:
    assert outcome(judges.RedeliveredAfterTimeout(HOLDERS), slow((1.2, 1.25, [1])))[0] == UPHELD


# --- SQS FIFO deduplication and dead letters ---------------------------------------------------


def dedup(received: list[int], ids: int = 2) -> tuple[History, dict[str, Any]]:
    h = H().op(1, "send", "g", 1, 0, 0.5, message_ids=[f"m{i}" for i in range(ids)])
    poll(h, 2, 1, 1.1, received)
    h.op(2, "poll", None, None, 2, 2.1, result=[], final=True)
    hist = h.build()
    return hist, {"delivery": DeliveryChecker(("exactly-once", "fifo")).check(hist)}


def test_deduplicated_refuted_by_a_message_received_twice() -> None:
    hist, v = dedup([1, 1])
    assert outcome(judges.Deduplicated(), hist, v)[0] == REFUTED


def test_deduplicated_not_exercised_when_no_message_was_sent_twice() -> None:
    hist, v = dedup([1], ids=1)
    out, why = outcome(judges.Deduplicated(), hist, v)
    assert out == INCONCLUSIVE and "not exercised" in why and "0 messages sent twice" in why


def test_deduplicated_upheld_when_each_message_arrives_once() -> None:
    hist, v = dedup([1])
    assert outcome(judges.Deduplicated(), hist, v)[0] == UPHELD


def dlq_poll(h: H, t: float, key: str, msgs: list[int], counts: list[int]) -> H:
    return h.op(1, "poll", key, None, t, t + 0.1, result=[[None, None, m] for m in msgs],
                receive_counts=counts)


def test_dead_letters_refuted_by_a_message_received_too_often() -> None:
    h = H().op(1, "send", None, 1, 0, 0.1)
    for i in range(3):
        dlq_poll(h, 1 + 2 * i, "main", [1], [i + 1])
    assert outcome(judges.DeadLetters(2), h.build())[0] == REFUTED


def test_dead_letters_refuted_by_a_message_dead_lettered_early() -> None:
    h = H().op(1, "send", None, 1, 0, 0.1)
    dlq_poll(h, 1, "main", [1], [1])
    dlq_poll(h, 3, "dlq", [1], [2])  # received once in the source queue, then this one
    assert outcome(judges.DeadLetters(2), h.build())[0] == REFUTED


def test_dead_letters_not_exercised_when_nothing_reached_the_dlq() -> None:
    h = H().op(1, "send", None, 1, 0, 0.1)
    dlq_poll(h, 1, "main", [1], [1])
    out, _ = outcome(judges.DeadLetters(2), h.build())
    assert out == INCONCLUSIVE


def test_dead_letters_upheld_after_exactly_max_receives() -> None:
    h = H().op(1, "send", None, 1, 0, 0.1)
    dlq_poll(h, 1, "main", [1], [1])
    dlq_poll(h, 3, "main", [1], [2])
    dlq_poll(h, 5, "dlq", [1], [3])
    assert outcome(judges.DeadLetters(2), h.build())[0] == UPHELD


# --- SNS fan-out -----------------------------------------------------------------------------

SUBS = ("q0", "q1")


def fanout(q1_gets: list[int], drained: bool = True) -> History:
    h = H().op(1, "send", None, 1, 0, 0.1).op(1, "send", None, 2, 0.2, 0.3)
    h.op(2, "poll", "q0", None, 1, 1.1, result=[["q0", None, 1], ["q0", None, 2]])
    h.op(2, "poll", "q1", None, 1.2, 1.3, result=[["q1", None, m] for m in q1_gets])
    h.op(2, "poll", "q0", None, 2, 2.1, result=[], final=True)
    h.op(2, "poll", "q1", None, 2.2, 2.3, result=[] if drained else [["q1", None, 9]],
         final=True)
    return h.build()


def test_every_subscriber_refuted_by_a_publish_missing_from_a_drained_queue() -> None:
    out, why = outcome(judges.EverySubscriber(SUBS), fanout([1]))
    assert out == REFUTED and "q1" in why


def test_every_subscriber_not_exercised_when_a_queue_was_not_drained() -> None:
    out, _ = outcome(judges.EverySubscriber(SUBS), fanout([1, 2], drained=False))
    assert out == INCONCLUSIVE


def test_every_subscriber_upheld_when_every_queue_got_every_publish() -> None:
    assert outcome(judges.EverySubscriber(SUBS), fanout([1, 2]))[0] == UPHELD


# --- Kinesis ---------------------------------------------------------------------------------


def shard(second_reads: list[int], second_polls: bool = True) -> History:
    h = H()
    for i in range(5):
        h.op(1, "send", "p", i, i * 0.1, i * 0.1 + 0.05, partition="s0", offset=i)
    h.op(2, "poll", None, None, 1, 1.1, result=[["s0", i, i] for i in range(5)])
    if second_polls:
        h.op(3, "poll", None, None, 1.2, 1.3, result=[["s0", i, i] for i in second_reads])
    return h.build()


def test_shared_shard_refuted_when_two_consumers_read_the_same_records() -> None:
    out, why = outcome(judges.SharedShard(), shard([0, 1, 2, 3, 4]))
    assert out == REFUTED and "same 5 records" in why


def test_shared_shard_not_exercised_with_one_consumer() -> None:
    out, why = outcome(judges.SharedShard(), shard([], second_polls=False))
    assert out == INCONCLUSIVE and "not exercised" in why


def test_shared_shard_upheld_when_the_second_consumer_gets_nothing() -> None:
    assert outcome(judges.SharedShard(), shard([]))[0] == UPHELD


def test_shard_order_needs_records_of_one_key_read() -> None:
    assert judges.ordered_per_key(shard([]), {}).done
    assert not judges.ordered_per_key(H().op(1, "send", "p", 1, 0, 1).build(), {}).done


# --- S3 -----------------------------------------------------------------------------------------


def s3_register(stale: bool, after_delete: bool = True) -> tuple[History, dict[str, Any]]:
    h = H().op(1, "write", "x", 1, 0, 0.5)
    h.op(2, "read", "x", None, 1, 1.1, result=1)
    h.op(1, "write", "x", None, 2, 2.5)  # a delete
    if after_delete:
        h.op(2, "read", "x", None, 3, 3.1, result=1 if stale else None)
    hist = h.build()
    return hist, {"linearizable": LinearizabilityChecker("register", 10).check(hist)}


def test_strong_refutes_eventual_refuted_by_strong_reads() -> None:
    hist, v = s3_register(stale=False)
    out, why = outcome(judges.StrongRefutesEventual(), hist, v)
    assert out == REFUTED and "strong, not merely eventual" in why


def test_strong_refutes_eventual_not_exercised_without_a_read_after_a_delete() -> None:
    hist, v = s3_register(stale=False, after_delete=False)
    out, why = outcome(judges.StrongRefutesEventual(), hist, v)
    assert out == INCONCLUSIVE and "not exercised" in why


def test_strong_refutes_eventual_upheld_by_a_stale_read() -> None:
    hist, v = s3_register(stale=True)
    assert outcome(judges.StrongRefutesEventual(), hist, v)[0] == UPHELD


def test_an_emulator_limit_makes_any_s3_outcome_inconclusive() -> None:
    hist, v = s3_register(stale=False)
    d = decide(hist, v, judges.StrongRefutesEventual(), emulator_limit="one process")
    assert d.outcome == INCONCLUSIVE and d.reason.startswith("inconclusive (emulator)")


def versions(final_values: list[int], deleted: bool = True, unreadable: list[str] | None = None,
             final_delete: bool = True) -> tuple[History, dict[str, Any]]:
    h = H().op(1, "add", "doc0", 1, 0, 0.5).op(1, "add", "doc0", 2, 1, 1.5)
    h.op(2, "delete", "doc0", None, 2, 2.5)
    if final_delete:
        h.op(2, "delete", "doc0", None, 3, 3.5, final=True)
    h.op(2, "read", "doc0", None, 4, 4.5, result=final_values, final=True, deleted=deleted,
         unreadable=unreadable or [])
    hist = h.build()
    return hist, {"lost-writes": LostWritesChecker(fs=("add",)).check(hist)}


def test_versions_refuted_when_a_version_is_lost() -> None:
    hist, v = versions([2])
    assert outcome(judges.VersionsKept(), hist, v)[0] == REFUTED


def test_versions_refuted_when_a_listed_version_cannot_be_read() -> None:
    hist, v = versions([1, 2], unreadable=["v1: NoSuchVersion"])
    assert outcome(judges.VersionsKept(), hist, v)[0] == REFUTED


def test_versions_not_exercised_unless_the_key_was_deleted_before_the_read() -> None:
    hist, v = versions([1, 2], deleted=False, final_delete=False)
    out, why = outcome(judges.VersionsKept(), hist, v)
    assert out == INCONCLUSIVE and "deleted" in why


def test_versions_upheld_when_a_deleted_key_keeps_every_version() -> None:
    hist, v = versions([1, 2])
    assert outcome(judges.VersionsKept(), hist, v)[0] == UPHELD


# --- SQS FIFO order ---------------------------------------------------------------------------


def fifo(second_first: bool, slow_delete: bool = False) -> tuple[History, dict[str, Any]]:
    """Messages 1 then 2 of group g; consumer 1 gets 1, consumer 2 gets 2."""
    h = H().op(9, "send", "g", 1, 0, 0.1).op(9, "send", "g", 2, 0.2, 0.3)
    if second_first:
        poll(h, 2, 0.4, 0.5, [2], received_ms=50)
        poll(h, 1, 0.6, 0.7, [1], received_ms=50)
    else:  # 1 received first, but its poll's delete waited: it completes after 2's poll
        poll(h, 1, 0.4, 1.5 if slow_delete else 0.5, [1], received_ms=10)
        poll(h, 2, 0.6, 0.7, [2], received_ms=50)
    h.op(2, "poll", None, None, 2, 2.1, result=[], final=True)
    hist = h.build()
    return hist, {"delivery": DeliveryChecker(("at-least-once",)).check(hist)}


def test_fifo_groups_refuted_when_a_later_message_is_received_first() -> None:
    hist, v = fifo(second_first=True)
    out, why = outcome(judges.FifoGroups(), hist, v)
    assert out == REFUTED and "after a later one" in why


def test_fifo_groups_not_exercised_with_one_message_per_group() -> None:
    h = H().op(9, "send", "g", 1, 0, 0.1)
    poll(h, 1, 0.4, 0.5, [1])
    h.op(2, "poll", None, None, 2, 2.1, result=[], final=True)
    hist = h.build()
    v = {"delivery": DeliveryChecker(("at-least-once",)).check(hist)}
    out, why = outcome(judges.FifoGroups(), hist, v)
    assert out == INCONCLUSIVE and "not exercised" in why


def test_fifo_groups_judge_by_receive_time_not_by_a_slow_delete() -> None:
    hist, v = fifo(second_first=False, slow_delete=True)
    assert outcome(judges.FifoGroups(), hist, v)[0] == UPHELD
    hist, v = fifo(second_first=False)
    assert outcome(judges.FifoGroups(), hist, v)[0] == UPHELD
