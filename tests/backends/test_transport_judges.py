"""The transport judge on synthetic histories: a TCP line lost, duplicated or reordered refutes;
no TCP packet dropped (or a stream still open at the report) is inconclusive through
``outcome.decide``; UDP losing nothing leaves it inconclusive; TCP intact and UDP lossy upholds."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.backends.transport import TransportDelivery
from pytest_sdconform.history import NEMESIS, History
from pytest_sdconform.outcome import decide
from pytest_sdconform.recorder import Recorder


def history(tcp: list[int], udp: list[int], arrived: list[list[Any]],
            dropped: dict[str, int] | None = None, open_streams: int = 0) -> History:
    """Sends of ``tcp`` on stream tcp-1 and ``udp`` on udp-2 during a packet-loss window,
    then the sink's report ``arrived``."""
    rec = Recorder()
    rec.record(NEMESIS, "invoke", "packet-loss-start")
    rec.record(NEMESIS, "info", "packet-loss-start", value={"probability": 0.1})
    for stream, values in (("tcp-1", tcp), ("udp-2", udp)):
        for v in values:
            rec.record(1, "invoke", "send", None, v)
            rec.record(1, "ok", "send", None, v, stream=stream)
    rec.record(NEMESIS, "info", "packet-loss-stop")
    rec.record(NEMESIS, "info", "packet-loss-healed",
               value={"dropped": dropped if dropped is not None else {"tcp": 3, "udp": 4}})
    rec.record(9, "invoke", "poll", None, "drain", final=True)
    rec.record(9, "ok", "poll", None, arrived, final=True, open_streams=open_streams)
    return rec.history()


def rows(stream: str, values: list[int]) -> list[list[Any]]:
    return [[stream, i, v] for i, v in enumerate(values)]


def outcome(h: History) -> tuple[str, str]:
    d = decide(h, {}, TransportDelivery(), faults=["packet-loss"])
    return d.outcome, d.reason


def test_tcp_intact_and_udp_lossy_is_upheld() -> None:
    h = history([1, 2, 3], [4, 5, 6], rows("tcp-1", [1, 2, 3]) + rows("udp-2", [4, 6]))
    result, reason = outcome(h)
    assert result == "upheld", reason
    assert "1 of 3 datagrams lost" in reason


def test_a_lost_tcp_line_refutes() -> None:
    h = history([1, 2, 3], [4], rows("tcp-1", [1, 3]))
    ruling = TransportDelivery().rule(h, {})
    assert ruling.outcome == "refuted"
    assert [a.kind for a in ruling.anomalies] == ["lost-message"]
    assert outcome(h)[0] == "refuted"


def test_duplicated_and_reordered_tcp_lines_refute() -> None:
    ruling = TransportDelivery().rule(history([1, 2, 3], [4], rows("tcp-1", [2, 1, 3, 3])), {})
    assert ruling.outcome == "refuted"
    assert sorted(a.kind for a in ruling.anomalies) == ["duplicate", "reordered"]


def test_udp_losing_nothing_is_inconclusive() -> None:
    h = history([1, 2], [4, 5], rows("tcp-1", [1, 2]) + rows("udp-2", [4, 5]))
    result, reason = outcome(h)
    assert result == "inconclusive"
    assert "contrast" in reason


def test_no_tcp_packet_dropped_is_not_exercised() -> None:
    h = history([1, 2], [4], rows("tcp-1", [1, 2]), dropped={"tcp": 0, "udp": 5})
    result, reason = outcome(h)
    assert result == "inconclusive"
    assert "no TCP packet" in reason


def test_a_stream_still_open_at_the_report_is_not_exercised() -> None:
    h = history([1, 2], [4], rows("tcp-1", [1]), open_streams=1)
    assert TransportDelivery().exercised(h, {}).done is False
    assert outcome(h)[0] == "inconclusive"
