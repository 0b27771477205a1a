"""The MQTT subscriber's file as the cases read it, and the exercise rule of the MQTT cases:
a subscriber that never connected again did not exercise a resumed session (inconclusive
through ``outcome.decide`` even with a valid delivery verdict); a lost message refutes."""

from __future__ import annotations

from pathlib import Path

from pytest_sdconform.backends.mqtt import Received, reconnected
from pytest_sdconform.checkers.delivery import DeliveryChecker
from pytest_sdconform.checkers.judge import Checkers
from pytest_sdconform.history import NEMESIS, History
from pytest_sdconform.outcome import decide
from pytest_sdconform.recorder import Recorder


def test_the_reader_skips_marks_counts_connections_and_waits_for_whole_lines(tmp_path: Path
                                                                              ) -> None:
    path = tmp_path / "received.txt"
    path.write_text("#connect 0\n#subscribed\n1 0\n2 0\n3")
    got = Received(path)
    assert got.take() == [["sub", 0, 1], ["sub", 1, 2]]
    assert got.connects == 1
    with open(path, "a") as fh:
        fh.write(" 1\n#connect 1\n3 1\n")
    assert got.take() == [["sub", 2, 3], ["sub", 3, 3]]
    assert got.connects == 2


def test_a_missing_file_reads_as_nothing_yet(tmp_path: Path) -> None:
    assert Received(tmp_path / "none.txt").take() == []


def history(sent: list[int], received: list[int], connects: int) -> History:
    rec = Recorder()
    rec.record(NEMESIS, "invoke", "kill-start")
    rec.record(NEMESIS, "info", "kill-start", value={"nodes": ["sub"]})
    for v in sent:
        rec.record(1, "invoke", "send", None, v)
        rec.record(1, "ok", "send", None, v)
    rec.record(NEMESIS, "info", "kill-stop")
    rec.record(NEMESIS, "info", "kill-healed", value={"restarted": ["sub"]})
    rec.record(2, "invoke", "poll", None, "drain", final=True)
    rec.record(2, "ok", "poll", None, [["sub", i, v] for i, v in enumerate(received)],
               final=True, connects=connects)
    return rec.history()


def outcome(h: History) -> tuple[str, str]:
    verdicts = {"delivery": DeliveryChecker(("at-least-once",)).check(h)}
    rule = reconnected("kill")
    d = decide(h, verdicts, Checkers(["delivery"], rule, rule.__doc__ or ""), faults=["kill"])
    return d.outcome, d.reason


def test_every_message_after_a_resumed_session_upholds() -> None:
    assert outcome(history([1, 2, 3], [1, 2, 3, 3], connects=2))[0] == "upheld"


def test_a_message_acknowledged_and_never_received_refutes() -> None:
    result, reason = outcome(history([1, 2, 3], [1, 3], connects=2))
    assert result == "refuted"
    assert "lost-message" in reason


def test_a_subscriber_that_never_connected_again_is_not_exercised() -> None:
    result, reason = outcome(history([1, 2, 3], [1, 2, 3], connects=1))
    assert result == "inconclusive"
    assert "connected 1 time" in reason
