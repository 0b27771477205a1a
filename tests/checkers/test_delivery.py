"""Message delivery and ordering: golden histories in a compact notation, and properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.delivery import DeliveryChecker, check_delivery
from pytest_sdconform.history import History, HistoryError, Operation

MS = 1_000_000
FINAL = {"final": True}
ALL = ("exactly-once", "fifo", "log-order")


def hist(*rows: tuple[Any, ...]) -> History:
    """Rows are (process, type, f, key, value[, extra]); row i happens at i ms."""
    ops = []
    for i, (process, typ, f, key, value, *extra) in enumerate(rows):
        ops.append(
            Operation(i, i * MS, process, typ, f, key, value, extra=extra[0] if extra else None)
        )
    return History(ops)


def send(
    p: int, msg: Any, outcome: str = "ok", key: Any = None, **ack: Any
) -> list[tuple[Any, ...]]:
    return [(p, "invoke", "send", key, msg), (p, outcome, "send", key, msg, ack or None)]


def dequeue(p: int, msg: Any, final: bool = False) -> list[tuple[Any, ...]]:
    mark = FINAL if final else None
    return [(p, "invoke", "dequeue", None, None, mark), (p, "ok", "dequeue", None, msg, mark)]


def poll(p: int, *triples: list[Any], final: bool = False) -> list[tuple[Any, ...]]:
    mark = FINAL if final else None
    return [(p, "invoke", "poll", None, None, mark), (p, "ok", "poll", None, list(triples), mark)]


def found(v: Any) -> list[tuple[str, list[int]]]:
    return [(a.kind, a.ops) for a in v.anomalies]


def test_every_message_delivered_once_is_valid() -> None:
    h = hist(
        *send(1, "a"), *send(1, "b"), *dequeue(2, "a"), *dequeue(2, "b"), *dequeue(2, None, True)
    )
    v = check_delivery(h, guarantees=("exactly-once",))
    assert v.result == "valid", v.reason
    assert v.details["sent"] == v.details["acked"] == v.details["received"] == 2
    assert v.details["duplicates"] == v.details["lost"] == 0
    assert v.details["guarantees"]["exactly-once"]["result"] == "valid"
    json.dumps(v.to_json())


def test_an_acknowledged_message_never_received_is_lost() -> None:
    h = hist(*send(1, "a"), *send(1, "b"), *dequeue(2, "a"), *dequeue(2, None, True))
    v = check_delivery(h)
    assert found(v) == [("lost-message", [2, 3, 6, 7])]  # the send, and the drain without it
    assert v.details["lost"] == 1
    assert v.details["guarantees"]["at-least-once"]["result"] == "invalid"
    assert v.details["guarantees"]["at-most-once"]["result"] == "valid"


def test_unacknowledged_sends_need_not_arrive() -> None:
    h = hist(*send(1, "a"), *send(2, "b", "info"), *send(3, "c", "fail"), *dequeue(4, "a", True))
    assert check_delivery(h).result == "valid"


def test_a_send_acknowledged_after_the_last_consumer_began_is_not_judged() -> None:
    h = hist(
        *send(1, "a"),
        (1, "invoke", "send", None, "b"),
        (2, "invoke", "dequeue", None, None, FINAL),
        (1, "ok", "send", None, "b"),
        (2, "ok", "dequeue", None, "a", FINAL),
    )
    v = check_delivery(h)
    assert v.result == "valid"
    assert v.details["guarantees"]["at-least-once"]["unchecked"] == 1


def test_without_a_drain_at_least_once_is_unknown() -> None:
    h = hist(
        *send(1, "a"),
        *dequeue(2, None),
        ("nemesis", "info", "partition-start", None, None),
        ("nemesis", "info", "partition-stop", None, None),
    )
    v = check_delivery(h, guarantees=("at-least-once",))
    assert v.result == "unknown"
    assert "no drain" in v.reason
    assert v.anomalies == []
    assert v.details["guarantees"]["at-least-once"]["not_received"] == 1


def test_a_failed_final_drain_is_no_drain() -> None:
    """A drain that timed out read nothing: the acknowledged message is not lost, unknown."""
    h = hist(
        *send(1, "a"),
        ("nemesis", "info", "kill-start", None, None),
        ("nemesis", "info", "kill-stop", None, None),
        (2, "invoke", "poll", None, "drain", FINAL),
        (2, "fail", "poll", None, "drain", FINAL),
    )
    v = check_delivery(h, guarantees=("at-least-once",))
    assert v.result == "unknown"
    assert "final drain did not succeed" in v.reason
    assert v.details["lost"] is None


def test_a_fault_never_healed_means_no_drain() -> None:
    h = hist(*send(1, "a"), ("nemesis", "info", "kill-start", None, None), *dequeue(2, None))
    assert "never healed" in check_delivery(h, guarantees=("at-least-once",)).reason


def test_a_read_after_the_last_fault_stands_in_for_a_drain() -> None:
    h = hist(
        *send(1, "a"),
        ("nemesis", "info", "partition-start", None, None),
        ("nemesis", "info", "partition-stop", None, None),
        *dequeue(2, None),
    )
    assert found(check_delivery(h, guarantees=("at-least-once",))) == [("lost-message", [0, 1])]


def test_a_message_received_twice_is_a_duplicate() -> None:
    h = hist(*send(1, "a"), *dequeue(2, "a"), *dequeue(3, "a"), *dequeue(2, None, True))
    v = check_delivery(h)
    assert found(v) == [("duplicate", [0, 1, 2, 3, 4, 5])]
    assert v.details["duplicates"] == 1
    assert v.details["guarantees"]["at-most-once"]["result"] == "invalid"


def test_a_duplicate_within_one_poll_batch_counts() -> None:
    h = hist(*send(1, "a"), *poll(2, [None, None, "a"], [None, None, "a"], final=True))
    assert found(check_delivery(h)) == [("duplicate", [0, 1, 2, 3])]


def test_a_message_sent_twice_may_arrive_twice() -> None:
    h = hist(*send(1, "a", "info"), *send(2, "a"), *dequeue(3, "a"), *dequeue(3, "a", True))
    assert check_delivery(h).result == "valid"


def test_a_message_nobody_sent_is_unexpected() -> None:
    h = hist(*send(1, "a"), *dequeue(2, "a"), *dequeue(2, "zz", True))
    v = check_delivery(h, guarantees=("fifo",))
    assert found(v) == [("unexpected-message", [4, 5])]
    assert v.result == "invalid"
    assert v.details["unexpected"] == 1


def test_a_message_whose_send_failed_is_unexpected() -> None:
    h = hist(*send(1, "a", "fail"), *dequeue(2, "a", True))
    v = check_delivery(h)
    assert found(v) == [("unexpected-message", [0, 1, 2, 3])]
    assert "failed" in v.anomalies[0].explanation


def test_exactly_once_reports_both_halves_once() -> None:
    h = hist(*send(1, "a"), *send(1, "b"), *dequeue(2, "a"), *dequeue(2, "a", True))
    v = check_delivery(h, guarantees=("exactly-once", "at-least-once"))
    assert sorted(found(v)) == [("duplicate", [0, 1, 4, 5, 6, 7]),
                              ("lost-message", [2, 3, 6, 7])]
    entry = v.details["guarantees"]["exactly-once"]
    assert entry["result"] == "invalid"
    assert entry["lost"] == 1 and entry["duplicates"] == 1


def test_fifo_a_message_sent_first_but_received_second_is_a_reorder() -> None:
    h = hist(*send(1, "a"), *send(1, "b"), *dequeue(2, "b"), *dequeue(2, "a", True))
    v = check_delivery(h, guarantees=("fifo",))
    assert found(v) == [("reorder", [0, 1, 2, 3, 4, 5, 6, 7])]
    assert v.details["guarantees"]["fifo"]["reorders"] == 1


def test_fifo_concurrent_sends_may_arrive_in_either_order() -> None:
    h = hist(
        (1, "invoke", "send", None, "a"),
        (2, "invoke", "send", None, "b"),
        (1, "ok", "send", None, "a"),
        (2, "ok", "send", None, "b"),
        *poll(3, [None, None, "b"], [None, None, "a"], final=True),
    )
    v = check_delivery(h, guarantees=("fifo",))
    assert v.result == "unknown"  # nothing was sent strictly after anything else
    assert "no two received messages" in v.reason


def test_fifo_is_per_key() -> None:
    h = hist(
        *send(1, "a", key="x"),
        *send(1, "b", key="y"),
        *send(1, "c", key="x"),
        *poll(2, ["y", None, "b"], ["x", None, "a"], ["x", None, "c"], final=True),
    )
    assert check_delivery(h, guarantees=("fifo",)).result == "valid"


def test_fifo_one_late_message_is_one_anomaly() -> None:
    h = hist(*send(1, "a"), *send(1, "b"), *send(1, "c"), *dequeue(2, "b"), *dequeue(2, "c"),
             *dequeue(2, "a", True))  # fmt: skip
    v = check_delivery(h, guarantees=("fifo",))
    assert v.anomaly_kinds == ["reorder"]
    assert len(v.anomalies) == 1
    assert v.details["guarantees"]["fifo"]["reorders"] == 2


def test_log_order_offsets_going_back_for_one_consumer_is_an_offset_reorder() -> None:
    h = hist(
        *send(1, "a", partition="p", offset=0),
        *send(1, "b", partition="p", offset=1),
        *poll(2, ["p", 1, "b"]),
        *poll(2, ["p", 0, "a"]),
        *poll(3, ["p", 0, "a"], ["p", 1, "b"]),
    )
    v = check_delivery(h, guarantees=("log-order",))
    assert found(v) == [("offset-reorder", [4, 5, 6, 7])]
    assert v.anomalies[0].key == "p"


def test_log_order_two_messages_at_one_offset_is_an_offset_conflict() -> None:
    h = hist(*send(1, "a", key="p"), *send(1, "b", key="p"),
             *poll(2, ["p", 0, "a"]), *poll(3, ["p", 0, "b"]))  # fmt: skip
    assert found(check_delivery(h, guarantees=("log-order",))) == [
        ("offset-conflict", [4, 5, 6, 7])
    ]


def test_log_order_two_acks_at_one_offset_is_an_offset_conflict() -> None:
    h = hist(*send(1, "a", partition="p", offset=7), *send(1, "b", partition="p", offset=7))
    v = check_delivery(h, guarantees=("log-order",))
    assert found(v) == [("offset-conflict", [0, 1, 2, 3])]


def test_log_order_a_read_must_match_the_acknowledged_offset() -> None:
    h = hist(*send(1, "a", offset=3, key="p"), *poll(2, ["p", 3, "zz"], final=True))
    v = check_delivery(h, guarantees=("log-order",))
    assert sorted(found(v)) == [("offset-conflict", [0, 1, 2, 3]), ("unexpected-message", [2, 3])]


def test_log_order_without_offsets_is_unknown() -> None:
    h = hist(*send(1, "a"), *dequeue(2, "a", True))
    v = check_delivery(h, guarantees=("log-order",))
    assert v.result == "unknown"
    assert v.reason == "log-order: no consumer saw an offset"


def test_a_malformed_poll_value_is_bad_input() -> None:
    with pytest.raises(HistoryError, match="triples"):
        check_delivery(hist(*poll(1, ["p", 0])))


def test_an_unknown_guarantee_is_refused() -> None:
    with pytest.raises(ValueError, match="exactly-twice"):
        check_delivery(hist(), guarantees=("exactly-twice",))


def test_the_checker_follows_the_protocol() -> None:
    checker: Checker = DeliveryChecker(guarantees=("fifo",))
    assert checker.name == "delivery"
    assert checker.check(
        hist(*send(1, "a"), *send(1, "b"), *dequeue(2, "a"), *dequeue(2, "b"))
    ).valid


Run = tuple[list[tuple[Any, ...]], list[int]]


@st.composite
def reliable_queue_runs(draw: st.DrawFn) -> Run:
    """Producers and consumers interleaved at random against a reliable FIFO log.

    A send takes effect at its completion (so a send acknowledged before another began is
    ahead of it), a poll takes up to three messages from the head at its completion, and a
    final poll drains what is left. Returns the rows and the acknowledged messages.
    """
    producers: dict[int, tuple[int, int] | None] = {0: None, 1: None}
    consumers: dict[int, bool] = {10: False, 11: False}
    queue: list[list[int]] = []  # [partition, offset, message]
    offsets = {0: 0, 1: 0}
    rows: list[tuple[Any, ...]] = []
    acked: list[int] = []
    next_msg, next_process = 0, 100
    for _ in range(draw(st.integers(0, 40))):
        p = draw(st.sampled_from(sorted(producers) + sorted(consumers)))
        if p in consumers:
            if not consumers[p]:
                rows.append((p, "invoke", "poll", None, None))
            else:
                n = draw(st.integers(0, 3))
                rows.append((p, "ok", "poll", None, queue[:n]))
                del queue[:n]
            consumers[p] = not consumers[p]
            continue
        pending = producers[p]
        if pending is None:
            key = draw(st.sampled_from([0, 1]))
            producers[p] = (next_msg, key)
            rows.append((p, "invoke", "send", key, next_msg))
            next_msg += 1
            continue
        msg, key = pending
        outcome = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
        ack = None
        if outcome == "ok" or (outcome == "info" and draw(st.booleans())):
            queue.append([key, offsets[key], msg])
            offsets[key] += 1
            if outcome == "ok":
                ack = {"partition": key, "offset": offsets[key] - 1}
                acked.append(msg)
        rows.append((p, outcome, "send", key, msg, ack))
        producers[p] = None
        if outcome == "info":  # an info retires its process
            del producers[p]
            producers[next_process] = None
            next_process += 1
    rows += poll(99, *queue, final=True)
    return rows, acked


@given(reliable_queue_runs())
def test_a_reliable_fifo_queue_is_exactly_once_and_in_order(run: Run) -> None:
    rows, acked = run
    v = check_delivery(hist(*rows), guarantees=ALL)
    assert v.result != "invalid", v.anomalies
    if acked:
        assert v.details["guarantees"]["exactly-once"]["result"] == "valid"


def receiving(rows: list[tuple[Any, ...]], msg: int) -> int:
    """The row of the poll completion that received ``msg``."""
    return next(
        i
        for i, (_, typ, f, _, value, *_) in enumerate(rows)
        if f == "poll" and typ == "ok" and any(t[2] == msg for t in value)
    )


@given(reliable_queue_runs(), st.data())
def test_dropping_an_acknowledged_message_breaks_at_least_once(
    run: Run, data: st.DataObject
) -> None:
    rows, acked = run
    if not acked:
        return
    victim = data.draw(st.sampled_from(acked))
    i = receiving(rows, victim)
    p, typ, f, key, value, *extra = rows[i]
    rows[i] = (p, typ, f, key, [t for t in value if t[2] != victim], *extra)
    v = check_delivery(hist(*rows), guarantees=ALL)
    assert v.details["guarantees"]["at-least-once"]["result"] == "invalid"
    lost = [a for a in v.anomalies if a.kind == "lost-message"]
    assert len(lost) == 1 and str(victim) in lost[0].explanation


@given(reliable_queue_runs(), st.data())
def test_delivering_a_message_twice_breaks_at_most_once(run: Run, data: st.DataObject) -> None:
    rows, _ = run
    received = [
        t for (_, typ, f, _, value, *_) in rows if f == "poll" and typ == "ok" for t in value
    ]
    if not received:
        return
    again = data.draw(st.sampled_from(received))
    p, typ, f, key, value, extra = rows[-1]
    rows[-1] = (p, typ, f, key, [*value, again], extra)
    v = check_delivery(hist(*rows), guarantees=ALL)
    assert v.details["guarantees"]["at-most-once"]["result"] == "invalid"
    assert [a.kind for a in v.anomalies].count("duplicate") == 1
