"""The Memcached judges on synthetic histories: a violation refutes (its evidence placed against
the faults), a run where the fault hit nothing or nothing was read back is inconclusive through
``outcome.decide``, a run where the claim holds is upheld."""

from __future__ import annotations

import json
from typing import Any

from pytest_sdconform.backends.memcached import (
    NoReplica,
    OthersServeWhileCut,
    RestartEmpties,
    ServersDisagree,
)
from pytest_sdconform.history import History
from pytest_sdconform.outcome import Decision, decide
from tests.compact import timed


def h(*events: str) -> History:
    """``timed`` events with suffixes: ``@node`` (the server the ring chose), ``#final`` (a
    final read's line), ``copies=JSON`` (what a survey found on each server, no spaces)."""
    return timed(*events, fields={"copies": lambda text: {"copies": json.loads(text)}})


def kill(victim: str, start: float = 1.0, stop: float = 2.0) -> list[str]:
    return [f"{start - 0.1} n invoke kill-start",
            f'{start} n info kill-start - {{"nodes":["{victim}"]}}', f"{stop} n info kill-stop"]


def write(t: float, p: int, key: str, value: int, node: str) -> list[str]:
    return [f"{t} {p} invoke write {key} {value}", f"{t + 0.05} {p} ok write {key} {value} @{node}"]


NONE_ANYWHERE = 'copies={"n1":null,"n2":null,"n3":null}'


def read(t: float, p: int, key: str, result: Any, node: str, copies: str = "",
         final: bool = False) -> list[str]:
    tail = (f" {copies}" if copies else "") + (" #final" if final else "")
    shown = json.dumps(result)
    return [f"{t} {p} invoke read {key}" + (" #final" if final else ""),
            f"{t + 0.05} {p} ok read {key} {shown} @{node}{tail}"]


def decided(history: History, judge: Any, faults: list[str]) -> Decision:
    return decide(history, {}, judge, faults=faults)


# --- NoReplica (memcached-ha) -----------------------------------------------------------------


def test_a_killed_servers_key_missing_everywhere_refutes_high_availability() -> None:
    history = h(*write(0.2, 1, "a", 1, "n1"), *write(0.3, 2, "b", 2, "n2"), *kill("n1"),
                *read(1.5, 1, "a", None, "n2", 'copies={"n1":"unreachable","n2":null,"n3":null}'),
                *read(3.0, 9, "a", None, "n1", NONE_ANYWHERE, final=True),
                *read(3.1, 9, "b", 2, "n2", 'copies={"n1":null,"n2":2,"n3":null}', final=True))
    d = decided(history, NoReplica(), ["kill"])
    assert d.outcome == "refuted", d.reason
    assert d.attributed
    assert "1 of 1 acknowledged writes" in d.reason and "2 reads missed" in d.reason
    assert [a["kind"] for a in d.anomalies] == ["lost-with-server"]
    assert d.anomalies[0]["relative_to_faults"] == "during"


def test_a_read_that_fails_counts_as_gone_when_the_survey_finds_no_copy() -> None:
    history = h(*write(0.2, 1, "a", 1, "n1"), *kill("n1"),
                "1.5 1 invoke read a", "1.55 1 fail read a @n1",
                *read(3.0, 9, "a", None, "n1", NONE_ANYWHERE, final=True))
    d = decided(history, NoReplica(), ["kill"])
    assert d.outcome == "refuted" and "1 failed" in d.reason


def test_a_key_still_read_back_after_the_kill_upholds_it() -> None:
    history = h(*write(0.2, 1, "a", 1, "n1"), *kill("n1"),
                *read(1.5, 1, "a", 1, "n2", 'copies={"n1":"unreachable","n2":1,"n3":null}'),
                *read(3.0, 9, "a", 1, "n1", 'copies={"n1":null,"n2":1,"n3":null}', final=True))
    d = decided(history, NoReplica(), ["kill"])
    assert d.outcome == "upheld", d.reason
    assert d.exercised


def test_a_kill_of_a_server_that_held_nothing_is_inconclusive() -> None:
    history = h(*write(0.2, 1, "a", 1, "n2"), *kill("n1"),
                *read(3.0, 9, "a", 1, "n2", 'copies={"n1":null,"n2":1,"n3":null}', final=True))
    d = decided(history, NoReplica(), ["kill"])
    assert d.outcome == "inconclusive"
    assert "did not hit" in d.reason


def test_reads_without_a_survey_say_nothing_of_other_servers() -> None:
    history = h(*write(0.2, 1, "a", 1, "n1"), *kill("n1"), *read(3.0, 9, "a", None, "n1",
                                                                  final=True))
    d = decided(history, NoReplica(), ["kill"])
    assert d.outcome == "inconclusive"
    assert "none of the 1 writes" in d.reason


def test_a_write_acknowledged_after_the_restart_is_not_at_risk() -> None:
    history = h(*kill("n1"), *write(2.5, 1, "a", 1, "n1"),
                *read(3.0, 9, "a", None, "n1", NONE_ANYWHERE, final=True))
    assert decided(history, NoReplica(), ["kill"]).outcome == "inconclusive"


# --- RestartEmpties (memcached-no-persistence) ------------------------------------------------


def restart_run(a_final: Any, b_final: Any, a_node: str = "n1") -> History:
    return h(*write(0.2, 1, "a", 1, "n1"), *write(0.3, 2, "b", 2, "n2"), *kill("n1"),
             *write(2.5, 1, "c", 3, "n1"),
             *read(3.0, 9, "a", a_final, a_node, final=True),
             *read(3.1, 9, "b", b_final, "n2", final=True),
             *read(3.2, 9, "c", 3, "n1", final=True))


def test_a_restarted_server_that_comes_back_empty_upholds_no_persistence() -> None:
    d = decided(restart_run(None, 2), RestartEmpties(), ["kill"])
    assert d.outcome == "upheld", d.reason
    assert "all 1 writes they acknowledged before the kill were gone" in d.reason
    assert "all 2 writes elsewhere or since were kept" in d.reason


def test_a_write_that_survives_its_servers_restart_refutes_it() -> None:
    d = decided(restart_run(1, 2), RestartEmpties(), ["kill"])
    assert d.outcome == "refuted", d.reason
    assert d.attributed
    assert [a["kind"] for a in d.anomalies] == ["survived-restart"]


def test_a_write_lost_on_a_server_never_restarted_refutes_it() -> None:
    d = decided(restart_run(None, None), RestartEmpties(), ["kill"])
    assert d.outcome == "refuted"
    assert [a["kind"] for a in d.anomalies] == ["lost-elsewhere"]


def test_a_restart_of_a_server_that_held_nothing_is_inconclusive() -> None:
    history = h(*write(0.3, 2, "b", 2, "n2"), *kill("n1"),
                *read(3.1, 9, "b", 2, "n2", final=True))
    d = decided(history, RestartEmpties(), ["kill"])
    assert d.outcome == "inconclusive" and "did not hit" in d.reason


def test_a_key_read_back_from_another_server_is_not_counted() -> None:
    d = decided(restart_run(None, 2, a_node="n3"), RestartEmpties(), ["kill"])
    assert d.outcome == "inconclusive"


# --- ServersDisagree (memcached-centralized, two server lists) --------------------------------


def test_one_key_on_two_servers_with_different_values_refutes_a_coordinator() -> None:
    history = h(*write(0.1, 1, "k", 1, "n3"), *write(0.2, 2, "k", 2, "n1"),
                *write(0.3, 1, "j", 3, "n2"),
                *read(1.0, 9, "k", 1, "n3", 'copies={"n1":2,"n2":null,"n3":1}', final=True),
                *read(1.1, 9, "j", 3, "n2", 'copies={"n1":null,"n2":3,"n3":null}', final=True))
    d = decided(history, ServersDisagree(), [])
    assert d.outcome == "refuted", d.reason
    assert "1 of 1 keys" in d.reason and "only where a client's hash put it" in d.reason
    assert [a["kind"] for a in d.anomalies] == ["servers-disagree"]
    assert set(d.anomalies[0]["ops"]) >= {0, 1, 2, 3}  # both writes are the evidence


def test_servers_that_agree_on_a_split_key_uphold_it() -> None:
    history = h(*write(0.1, 1, "k", 1, "n3"), *write(0.2, 2, "k", 2, "n1"),
                *read(1.0, 9, "k", 2, "n3", 'copies={"n1":2,"n2":null,"n3":2}', final=True))
    d = decided(history, ServersDisagree(), [])
    assert d.outcome == "upheld", d.reason


def test_keys_every_client_placed_alike_are_inconclusive() -> None:
    history = h(*write(0.1, 1, "k", 1, "n1"), *write(0.2, 2, "k", 2, "n1"),
                *read(1.0, 9, "k", 2, "n1", 'copies={"n1":2,"n2":null,"n3":null}', final=True))
    d = decided(history, ServersDisagree(), [])
    assert d.outcome == "inconclusive" and "same server" in d.reason


def test_a_survey_that_could_not_reach_every_server_decides_nothing() -> None:
    history = h(*write(0.1, 1, "k", 1, "n3"), *write(0.2, 2, "k", 2, "n1"),
                *read(1.0, 9, "k", 1, "n3", 'copies={"n1":"unreachable","n2":null,"n3":1}',
                      final=True))
    d = decided(history, ServersDisagree(), [])
    assert d.outcome == "inconclusive" and "surveyed every server" in d.reason


def test_a_copy_on_a_server_no_client_chose_is_reported() -> None:
    history = h(*write(0.1, 1, "k", 1, "n3"), *write(0.2, 2, "k", 2, "n1"),
                *read(1.0, 9, "k", 1, "n3", 'copies={"n1":2,"n2":1,"n3":1}', final=True))
    d = decided(history, ServersDisagree(), [])
    assert d.outcome == "refuted" and "1 keys held by a server no client's hash chose" in d.reason


# --- OthersServeWhileCut (memcached-centralized, a server cut off) ----------------------------


def cut(victim: str, start: float = 1.0, stop: float = 2.0) -> list[str]:
    return [f"{start - 0.1} n invoke client-cut-start",
            f'{start} n info client-cut-start - {{"proxies":["{victim}"]}}',
            f"{stop} n info client-cut-stop"]


def test_other_servers_keys_served_during_a_cut_refute_a_central_server() -> None:
    history = h(*cut("n1"), "1.2 1 invoke read a", "1.5 1 fail read a @n1",
                *read(1.3, 2, "b", 2, "n2"), *read(1.4, 3, "c", None, "n3"))
    d = decided(history, OthersServeWhileCut(), ["client-cut"])
    assert d.outcome == "refuted", d.reason
    assert d.attributed
    assert "2 calls on the other servers' keys succeeded" in d.reason
    assert "1 of 1 on the cut server's keys failed" in d.reason
    assert {a["kind"] for a in d.anomalies} == {"served-while-cut", "only-server-cut"}


def test_a_cut_that_stops_every_other_servers_keys_upholds_it() -> None:
    history = h(*cut("n1"), "1.2 1 invoke read a", "1.5 1 fail read a @n1",
                "1.3 2 invoke read b", "1.6 2 fail read b @n2")
    d = decided(history, OthersServeWhileCut(), ["client-cut"])
    assert d.outcome == "upheld", d.reason
    assert "hinged" in d.reason


def test_a_cut_no_call_went_through_is_inconclusive() -> None:
    history = h(*cut("n1"), *read(1.3, 2, "b", 2, "n2"))
    d = decided(history, OthersServeWhileCut(), ["client-cut"])
    assert d.outcome == "inconclusive"


def test_calls_answered_after_the_heal_do_not_count() -> None:
    history = h(*cut("n1"), "1.2 1 invoke read a", "1.5 1 fail read a @n1",
                *read(1.95, 2, "b", 2, "n2"))  # answered at 2.0: the cut had healed
    d = decided(history, OthersServeWhileCut(), ["client-cut"])
    assert d.outcome == "inconclusive"
