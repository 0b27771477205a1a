"""The SSE judge on synthetic histories: an event published while a subscriber was away and
never received refutes; a subscriber that reconnected and got everything upholds; no
reconnection that missed anything, or a subscriber still behind at the drain without a gap,
is inconclusive through ``outcome.decide``."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.sse import EventsRecovered
from pytest_sdconform.history import NEMESIS, History
from pytest_sdconform.outcome import decide
from pytest_sdconform.recorder import Recorder


def history(published: int, received: list[int], reconnects: list[list[Any]],
            behind: list[str] | None = None) -> History:
    """Events 1..published (ok), a reset window, subscriber s1's ``received`` ids (one poll
    before the window, the rest in the drain), with ``reconnects`` reported by the drain."""
    rec = Recorder()
    for n in range(1, published + 1):
        rec.record(1, "invoke", "send", None, 100 + n)
        rec.record(1, "ok", "send", None, 100 + n, event_id=n)
    before = [["s1", n, 100 + n] for n in received if n <= 2]
    rec.record(2, "invoke", "poll")
    rec.record(2, "ok", "poll", None, before, reconnects=[])
    rec.record(NEMESIS, "invoke", "reset-peer-start")
    rec.record(NEMESIS, "info", "reset-peer-start", value={})
    rec.record(NEMESIS, "info", "reset-peer-stop")
    rec.record(NEMESIS, "info", "reset-peer-healed", value={})
    after = [["s1", n, 100 + n] for n in received if n > 2]
    rec.record(3, "invoke", "poll", None, "drain", final=True)
    rec.record(3, "ok", "poll", None, after, final=True, reconnects=reconnects,
               head=published, behind=behind or [])
    return rec.history()


def outcome(h: History) -> tuple[str, str]:
    d = decide(h, {}, EventsRecovered(), faults=["reset-peer"])
    return d.outcome, d.reason


def test_every_missed_event_replayed_upholds() -> None:
    result, reason = outcome(history(5, [1, 2, 3, 4, 5], [["s1", 2, 4]]))
    assert result == "upheld", reason


def test_events_published_while_away_and_never_received_refute() -> None:
    h = history(5, [1, 2, 5], [["s1", 2, 4]])
    ruling = EventsRecovered().rule(h, {})
    assert ruling.outcome == "refuted"
    assert [a.kind for a in ruling.anomalies] == ["lost-message", "lost-message"]
    assert "event 3" in ruling.anomalies[0].explanation
    assert outcome(h)[0] == "refuted"


def test_a_gap_below_the_last_received_event_refutes_even_when_behind() -> None:
    h = history(6, [1, 2, 4], [["s1", 2, 4]], behind=["s1"])
    ruling = EventsRecovered().rule(h, {})
    assert ruling.outcome == "refuted"
    assert len(ruling.anomalies) == 1


def test_a_subscriber_behind_without_a_gap_is_inconclusive() -> None:
    result, reason = outcome(history(5, [1, 2, 3], [["s1", 2, 4]], behind=["s1"]))
    assert result == "inconclusive"
    assert "s1" in reason


def test_no_reconnection_that_missed_anything_is_not_exercised() -> None:
    result, reason = outcome(history(5, [1, 2, 3, 4, 5], [["s1", 2, 2]]))
    assert result == "inconclusive"
    assert "not exercised" in reason


def test_a_message_other_than_the_one_published_is_unexpected() -> None:
    h = history(3, [1, 2, 3], [["s1", 2, 3]])
    drain = h[len(h) - 1]
    drain.value = [["s1", 3, 999]]
    ruling = EventsRecovered().rule(h, {})
    assert [a.kind for a in ruling.anomalies] == ["unexpected-message"]


def spaced(early: list[list[Any]], late: list[list[Any]]) -> History:
    """Events 1..3 published, poller 2 polls (``early`` reconnections) before a reset window;
    events 4..6 published after it, then poller 2 polls twice (``late`` in the second); the
    drain."""
    rec = Recorder()
    for n in range(1, 4):
        rec.record(1, "invoke", "send", None, 100 + n)
        rec.record(1, "ok", "send", None, 100 + n, event_id=n)
    rec.record(2, "invoke", "poll")
    rec.record(2, "ok", "poll", None, [["s1", n, 100 + n] for n in (1, 2)], reconnects=[])
    rec.record(2, "invoke", "poll")
    rec.record(2, "ok", "poll", None, [["s1", 3, 103]], reconnects=early)
    rec.record(NEMESIS, "invoke", "reset-peer-start")
    rec.record(NEMESIS, "info", "reset-peer-start", value={})
    rec.record(NEMESIS, "info", "reset-peer-stop")
    rec.record(NEMESIS, "info", "reset-peer-healed", value={})
    for n in range(4, 7):
        rec.record(1, "invoke", "send", None, 100 + n)
        rec.record(1, "ok", "send", None, 100 + n, event_id=n)
    rec.record(2, "invoke", "poll")
    rec.record(2, "ok", "poll", None, [["s1", 4, 104]], reconnects=[])
    rec.record(2, "invoke", "poll")
    rec.record(2, "ok", "poll", None, [], reconnects=late)
    rec.record(3, "invoke", "poll", None, "drain", final=True)
    rec.record(3, "ok", "poll", None, [["s1", n, 100 + n] for n in (5, 6)], final=True,
               reconnects=[], head=6, behind=[])
    return rec.history()


def test_reconnections_not_tied_to_a_fault_window_do_not_exercise() -> None:
    from pytest_sdconform.backends.sse.judges import tied_reconnects

    # one before the window; one away only since event 4, published after the window
    for h in (spaced([["s1", 1, 3]], []), spaced([], [["s1", 4, 6]])):
        assert tied_reconnects(h) == []
        result, reason = outcome(h)
        assert result == "inconclusive" and "tied to a fault window" in reason, reason


def test_a_reconnection_after_the_heal_away_since_before_it_is_tied() -> None:
    # reported after the poller had polled again since the heal (the retry delay), but the
    # subscriber had been away since event 3, published before the window
    h = spaced([], [["s1", 3, 6]])
    result, reason = outcome(h)
    assert result == "upheld", reason
