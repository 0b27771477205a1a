"""Consistent hashing's judge: a node's departure moves only its own keys."""

from __future__ import annotations

from pytest_sdconform.checkers.remap import KeysStay, moves
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.compact import timed

JUDGE = KeysStay(min_keys=2)


def h(*events: str) -> History:
    """``timed`` events; a completion ending in ``@node`` records the node that served it."""
    return timed(*events)


def write(t: float, key: str, node: str) -> list[str]:
    return [f"{t} 1 invoke write {key} 1", f"{t + 0.01} 1 ok write {key} 1 @{node}"]


def read(t: float, key: str, node: str, typ: str = "ok") -> list[str]:
    return [f"{t} 2 invoke read {key}", f"{t + 0.01} 2 {typ} read {key} @{node}"]


HOMES = {"a": "n2", "b": "n3", "c": "n2", "x": "n1", "y": "n1"}


def run(served: dict[str, str]) -> History:
    """Keys written to their homes, n1 killed, then each key read where ``served`` says."""
    events: list[str] = []
    for n, (key, node) in enumerate(HOMES.items()):
        events += write(0.1 * n, key, node)
    events.append('1.0 n info kill-start - {"nodes": ["n1"]}')
    for n, (key, node) in enumerate(served.items()):
        events += read(1.1 + 0.1 * n, key, node)
    events.append("3.0 n info kill-stop")
    return h(*events)


def test_only_the_lost_nodes_keys_moving_upholds_with_the_fraction() -> None:
    d = decide(run({"a": "n2", "b": "n3", "c": "n2", "x": "n2", "y": "n3"}), {}, JUDGE,
               faults=["kill"])
    assert d.outcome == "upheld" and d.exercised, d.reason
    assert "2 of 5 keys read while n1 was gone moved (40%)" in d.reason
    assert "0 of 3 keys of surviving nodes, 2 of 2 keys of the lost node" in d.reason


def test_a_key_of_a_surviving_node_moving_refutes_with_its_read() -> None:
    history = run({"a": "n3", "b": "n3", "c": "n2", "x": "n2", "y": "n3"})  # mod-N reshuffle
    d = decide(history, {}, JUDGE, faults=["kill"])
    assert d.outcome == "refuted", d.reason
    assert "1 of 3 keys of surviving nodes" in d.reason
    [a] = JUDGE.rule(history, {}).anomalies
    assert a.kind == "key-moved-off-a-surviving-node"
    assert history.ops[a.ops[-1]].node == "n3" and history.ops[a.ops[-1]].key == "a"
    assert len(d.anomalies) == 1


def test_a_ring_that_kept_the_lost_node_moved_nothing_and_is_not_exercised() -> None:
    # The lost node's keys were never served elsewhere (its reads failed): nothing to weigh.
    history = run({"a": "n2", "b": "n3", "c": "n2"})
    d = decide(history, {}, JUDGE, faults=["kill"])
    assert d.outcome == "inconclusive" and not d.exercised
    assert "fewer than 2 keys" in d.reason


def test_reads_before_the_window_and_failed_reads_do_not_count() -> None:
    events = write(0.0, "a", "n2") + read(0.5, "a", "n3") + \
        ['1.0 n info kill-start - {"nodes": ["n1"]}'] + read(1.1, "a", "n3", "fail") + \
        ["2.0 n info kill-stop"]
    history = h(*events)
    [w] = history.fault_windows()
    m = moves(history, w)
    assert m.keys == 0 and m.lost == {"n1"}


def test_no_window_is_inconclusive() -> None:
    assert JUDGE.rule(h(*write(0.0, "a", "n2")), {}).outcome == "inconclusive"


def two_windows(second: dict[str, str]) -> History:
    """n1 killed (its keys x, y move to n2, n3), restarted but kept out of the clients' ring,
    then n2 killed and each key read where ``second`` says."""
    events: list[str] = []
    for n, (key, node) in enumerate(HOMES.items()):
        events += write(0.1 * n, key, node)
    events.append('1.0 n info kill-start - {"nodes": ["n1"]}')
    for n, (key, node) in enumerate({"a": "n2", "b": "n3", "c": "n2", "x": "n2",
                                     "y": "n3"}.items()):
        events += read(1.1 + 0.1 * n, key, node)
    events.append("2.0 n info kill-stop")
    events.append('3.0 n info kill-start - {"nodes": ["n2"]}')
    for n, (key, node) in enumerate(second.items()):
        events += read(3.1 + 0.1 * n, key, node)
    events.append("4.0 n info kill-stop")
    return h(*events)


def test_a_key_moved_by_an_earlier_window_is_homed_on_its_new_owner() -> None:
    # x was written to n1 but served by n2 since the first window: losing n2 moves it, correctly.
    d = decide(two_windows({"b": "n3", "x": "n3", "y": "n3", "a": "n3", "c": "n3"}), {}, JUDGE,
               faults=["kill"])
    assert d.outcome == "upheld" and d.exercised, d.reason
    assert "0 of 2 keys of surviving nodes, 3 of 3 keys of the lost node" in d.reason


def test_a_key_moved_off_its_new_surviving_owner_in_a_later_window_refutes() -> None:
    history = two_windows({"b": "n3", "x": "n3", "y": "n1", "a": "n3", "c": "n3"})
    d = decide(history, {}, JUDGE, faults=["kill"])
    assert d.outcome == "refuted", d.reason
    [a] = JUDGE.rule(history, {}).anomalies
    assert history.ops[a.ops[-1]].key == "y" and history.ops[a.ops[-1]].node == "n1"
