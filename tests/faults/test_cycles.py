"""KillCycles on stand-in nodes: independent schedules differ, correlated ones kill together,
every kill is proven, down intervals are recorded, and stop always heals (a kill that did not
take is reported after the nodes are running again)."""

from __future__ import annotations

import random
import time

import pytest

from pytest_sdconform.faults import FaultNotEffective
from pytest_sdconform.faults.cycles import KillCycles


class FakeNode:
    def __init__(self, name: str, killable: bool = True):
        self.name, self.killable, self.running = name, killable, True
        self.kills = self.starts = 0

    def kill(self) -> None:
        self.kills += 1
        if self.killable:
            self.running = False

    def start(self, wait: bool = True) -> None:
        self.starts += 1
        self.running = True

    def is_running(self) -> bool:
        return self.running


def cycle(correlated: bool, nodes: list[FakeNode], seconds: float = 0.6) -> dict:
    fault = KillCycles(nodes, down=0.5, slot=0.01, correlated=correlated,  # type: ignore[arg-type]
                       rng=random.Random(3))
    started = fault.start()
    assert started["nodes"] == [n.name for n in nodes] and started["correlated"] is correlated
    time.sleep(seconds)
    record = fault.stop()
    assert all(n.running for n in nodes)
    return record


def test_independent_schedules_kill_each_node_on_its_own() -> None:
    nodes = [FakeNode("a1"), FakeNode("a2")]
    rec = cycle(False, nodes)
    a1, a2 = ([d for _, d in rec["slots"][n]] for n in ("a1", "a2"))
    assert len(a1) > 10 and len(a2) > 10
    assert a1[:10] != a2[:10]  # streams of their own
    for n in nodes:
        assert n.kills == len(rec["down"][n.name]) > 0
        assert all(a < b for a, b in rec["down"][n.name])
        assert rec["end"] > rec["slots"][n.name][-1][0]
    assert rec["slot_s"] == 0.01


def test_correlated_schedules_kill_together() -> None:
    nodes = [FakeNode("a1"), FakeNode("a2")]
    rec = cycle(True, nodes)
    assert rec["slots"]["a1"] == rec["slots"]["a2"]
    assert nodes[0].kills == nodes[1].kills > 0


def test_a_kill_that_did_not_take_is_reported_and_healed() -> None:
    nodes = [FakeNode("a1", killable=False), FakeNode("a2")]
    fault = KillCycles(nodes, down=0.99, slot=0.01, rng=random.Random(1))  # type: ignore[arg-type]
    fault.start()
    time.sleep(0.1)
    with pytest.raises(FaultNotEffective, match="a1 is still running"):
        fault.stop()
    assert all(n.running for n in nodes)
    assert fault.stop()["restarted"] == []  # idempotent once healed


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="at least two nodes"):
        KillCycles([FakeNode("a1")], down=0.2)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="probability"):
        KillCycles([FakeNode("a1"), FakeNode("a2")], down=1.0)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="slot"):
        KillCycles([FakeNode("a1"), FakeNode("a2")], down=0.2, slot=0)  # type: ignore[list-item]
