"""ParallelAvailability on synthetic kill-cycles histories: independent failures with a service
down only while both components are uphold the product formula; failures together, or a
service down whenever either is, refute it; too few slots, or a run too short to tell
independent from correlated failures, is inconclusive."""

from __future__ import annotations

import random

import pytest

from pytest_sdconform.checkers.parallel_availability import ParallelAvailability, Slot, estimate
from pytest_sdconform.history import NEMESIS, History, Operation
from pytest_sdconform.outcome import decide

NS = 1_000_000_000
FAULT = "kill-cycles"


def history(states: list[tuple[bool, bool]], served: str = "any", per_slot: int = 10,
            slot: float = 1.0) -> History:
    """One kill-cycles window over ``states`` (per slot: a1 down, a2 down); ``per_slot``
    requests each slot, answered by an up server when ``served`` is "any" (in parallel) or
    only when both are up ("all": in series)."""
    ops: list[Operation] = []

    def add(t: float, process: int | str, type_: str, f: str, value: object = None,
            node: str | None = None) -> None:
        ops.append(Operation(len(ops), int(t * NS), process, type_, f, "k", value, node))

    add(0.0, NEMESIS, "invoke", f"{FAULT}-start")
    add(0.0, NEMESIS, "info", f"{FAULT}-start")
    down: dict[str, list[list[float]]] = {"a1": [], "a2": []}
    since: dict[str, float] = {}
    for i, (d1, d2) in enumerate(states):
        t0 = i * slot
        for name, d in (("a1", d1), ("a2", d2)):
            if d and name not in since:
                since[name] = t0
            elif not d and name in since:
                down[name].append([since.pop(name), t0])
        for r in range(per_slot):
            t = t0 + (r + 0.5) * slot / per_slot
            up = [n for n, d in (("a1", d1), ("a2", d2)) if not d]
            ok = bool(up) if served == "any" else len(up) == 2
            add(t, r, "invoke", "read")
            add(t + 0.01, r, "ok" if ok else "fail", "read", node=up[0] if ok else None)
    end = len(states) * slot
    for name, t in since.items():
        down[name].append([t, end])
    add(end, NEMESIS, "info", f"{FAULT}-stop")
    rec = {"restarted": [], "end": end, "slot_s": slot, "down": down}
    add(end, NEMESIS, "info", f"{FAULT}-healed", value=rec)
    return History(ops)


def independent(n: int, p: float = 0.25, seed: int = 1) -> list[tuple[bool, bool]]:
    rng = random.Random(seed)
    return [(rng.random() < p, rng.random() < p) for _ in range(n)]


def together(n: int, p: float = 0.25, seed: int = 1) -> list[tuple[bool, bool]]:
    rng = random.Random(seed)
    return [(d, d) for d in (rng.random() < p for _ in range(n))]


JUDGE = ParallelAvailability(["a1", "a2"])


@pytest.mark.parametrize("seed", range(5))
def test_independent_failures_uphold_the_formula(seed: int) -> None:
    d = decide(history(independent(200, seed=seed)), {}, JUDGE, faults=[FAULT])
    assert d.outcome == "upheld", d.reason
    assert d.exercised and "the formula holds" in d.reason


def test_failures_together_refute_the_formula() -> None:
    d = decide(history(together(200)), {}, JUDGE, faults=[FAULT])
    assert d.outcome == "refuted" and d.attributed, d.reason
    assert "less available than the formula predicts" in d.reason
    assert {a["kind"] for a in d.anomalies} == {"unavailable-together"}
    assert {a["relative_to_faults"] for a in d.anomalies} == {"during"}


def test_a_service_in_series_refutes_the_formula() -> None:
    """Independent failures, but the service needs both: down whenever either is."""
    d = decide(history(independent(200), served="all"), {}, JUDGE, faults=[FAULT])
    assert d.outcome == "refuted", d.reason


def test_too_few_slots_is_not_exercised() -> None:
    d = decide(history(independent(10)), {}, JUDGE, faults=[FAULT])
    assert d.outcome == "inconclusive" and not d.exercised
    assert "only 10" in d.reason


def test_a_component_never_down_is_not_exercised() -> None:
    states = [(d1, False) for d1, _ in independent(100)]
    d = decide(history(states), {}, JUDGE, faults=[FAULT])
    assert d.outcome == "inconclusive" and not d.exercised
    assert "a2 down in fewer" in JUDGE.exercised(history(states), {}).why


def test_a_run_that_cannot_tell_independent_from_correlated_is_inconclusive() -> None:
    """Twelve slots, half of them with one draw for both: within the tolerance, but the
    tolerance covers the gap to failures together."""
    judge = ParallelAvailability(["a1", "a2"], min_slots=10, min_down_slots=2)
    rng = random.Random(1)
    states = []
    for _ in range(12):
        if rng.random() < 0.5:
            down = rng.random() < 0.3
            states.append((down, down))
        else:
            states.append((rng.random() < 0.3, rng.random() < 0.3))
    d = decide(history(states), {}, judge, faults=[FAULT])
    assert d.outcome == "inconclusive", d.reason
    assert "too few slots" in d.reason


def test_no_kill_cycles_window_is_not_exercised() -> None:
    h = History([Operation(0, 0, 0, "invoke", "read", "k"),
                 Operation(1, 1, 0, "ok", "read", "k", None, "a1")])
    d = decide(h, {}, JUDGE, faults=[FAULT])
    assert d.outcome == "inconclusive" and "no kill-cycles window" in d.reason


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two components"):
        ParallelAvailability(["a1"])
    with pytest.raises(ValueError, match="two slots"):
        estimate([Slot(0.0, (0.0, 0.0), 1)])
    h = history(independent(40))
    h.ops[-1].value = {"down": {}}
    with pytest.raises(ValueError, match="not a kill-cycles record"):
        JUDGE.rule(h, {})
