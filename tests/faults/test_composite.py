"""Composite faults: the order their parts start and heal in, and what each window records."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sdconform.faults.composite import BeforeHeal, InTurn, Together


class Recording:
    """A fault that writes what happens to it in a shared log."""

    def __init__(self, name: str, log: list[str], fail_stop: bool = False):
        self.name, self.log, self.fail_stop = name, log, fail_stop

    def start(self) -> dict[str, Any]:
        self.log.append(f"{self.name} start")
        return {"started": self.name}

    def stop(self) -> dict[str, Any]:
        self.log.append(f"{self.name} stop")
        if self.fail_stop:
            raise RuntimeError(f"{self.name} did not heal")
        return {"stopped": self.name}


def test_in_turn_takes_the_next_fault_each_window_and_is_named_after_it() -> None:
    log: list[str] = []
    fault = InTurn([Recording("latency", log), Recording("timeout", log)])
    names = []
    for _ in range(3):
        fault.start()
        names.append(fault.name)
        fault.stop()
    assert names == ["latency", "timeout", "latency"]
    assert log == ["latency start", "latency stop", "timeout start", "timeout stop",
                   "latency start", "latency stop"]


def test_in_turn_with_a_fixed_name_keeps_it() -> None:
    fault = InTurn([Recording("kill a1", []), Recording("kill a2", [])], name="kill")
    fault.start()
    fault.stop()
    fault.start()
    assert fault.name == "kill"


def test_together_heals_in_reverse_and_heals_the_rest_when_one_fails() -> None:
    log: list[str] = []
    fault = Together([Recording("a", log, fail_stop=True), Recording("b", log)])
    assert fault.name == "a+b"
    assert fault.start() == {"a": {"started": "a"}, "b": {"started": "b"}}
    with pytest.raises(RuntimeError, match="a did not heal"):
        fault.stop()
    assert log == ["a start", "b start", "b stop", "a stop"]


def test_before_heal_strikes_the_second_before_the_first_heals() -> None:
    log: list[str] = []
    fault = BeforeHeal(Recording("cut", log), Recording("kill", log), describe="kill n1")
    assert fault.name == "cut+kill"
    assert fault.start() == {"first": {"started": "cut"}, "then": "kill n1"}
    record = fault.stop()
    assert log == ["cut start", "kill start", "cut stop", "kill stop"]
    assert record == {"struck": {"started": "kill"}, "healed": {"stopped": "kill"}}
    # The final heal of a window already healed strikes nothing.
    assert fault.stop() == {}
    assert log[-1] == "cut stop"
