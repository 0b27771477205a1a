"""The balanced-reads judge: a session guarantee broken by balanced reads upholds the caution
(the real sessions checker finds it); reads spread over two servers that kept every guarantee
refute it; reads that all landed on one server, or an unknown verdict, are inconclusive."""

from __future__ import annotations

from typing import Any

from pytest_sdconform.checkers.balanced_reads import BalancedReads, cross_reads
from pytest_sdconform.checkers.sessions import SessionsChecker
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from pytest_sdconform.recorder import Recorder


def history(*ops: tuple[int, str, Any, str]) -> History:
    """(process, f, value, node) operations on key k, each completed before the next."""
    rec = Recorder()
    for p, f, value, node in ops:
        rec.record(p, "invoke", f, "k", value if f == "write" else None)
        rec.record(p, "ok", f, "k", value, node)
    return rec.history()


def outcome(h: History, verdict: Verdict | None = None, min_cross_reads: int = 2
            ) -> tuple[str, str]:
    verdicts = {"sessions": verdict or SessionsChecker().check(h)}
    d = decide(h, verdicts, BalancedReads(min_cross_reads=min_cross_reads))
    return d.outcome, d.reason


def test_a_read_on_the_lagging_server_missing_the_sessions_write_upholds() -> None:
    h = history((1, "write", 1, "n1"), (1, "read", 1, "n1"), (1, "read", None, "n2"))
    result, reason = outcome(h, min_cross_reads=1)
    assert result == "upheld", reason
    assert "read-your-writes" in reason


def test_balanced_reads_that_kept_every_guarantee_refute() -> None:
    h = history((1, "write", 1, "n1"), (1, "read", 1, "n2"), (1, "read", 1, "n1"),
                (2, "write", 2, "n1"), (2, "read", 2, "n2"))
    result, reason = outcome(h)
    assert result == "refuted", reason
    assert "balanced" in reason


def test_too_few_reads_after_an_own_write_on_another_server_are_inconclusive() -> None:
    h = history((1, "write", 1, "n1"), (1, "read", 1, "n2"), (1, "read", 1, "n1"),
                (2, "write", 2, "n1"), (2, "read", 2, "n1"))
    assert cross_reads(h) == 1
    result, reason = outcome(h, min_cross_reads=5)
    assert result == "inconclusive"
    assert "fewer than 5" in reason


def test_reads_on_one_server_only_are_inconclusive() -> None:
    h = history((1, "write", 1, "n1"), (1, "read", 1, "n1"), (1, "read", 1, "n1"))
    result, reason = outcome(h)
    assert result == "inconclusive"
    assert "1 server" in reason


def test_an_unknown_sessions_verdict_is_inconclusive() -> None:
    h = history((1, "write", 1, "n1"), (1, "read", 1, "n2"), (1, "read", 1, "n1"))
    result, _ = outcome(h, Verdict("sessions", "unknown", reason="out of budget"))
    assert result == "inconclusive"
