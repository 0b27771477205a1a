"""Availability of components in parallel: ``1 - product of each one's unavailability``.

The claim (two 99.9 % components in parallel give 99.9999 %) holds only when the components
fail independently. ``ParallelAvailability`` compares, over the slots of a ``kill-cycles``
fault (``faults/cycles.py``), the fraction of requests the service did not answer (``f``) with
the product of the fractions of requests sent while each component was down (``u_j``, from the
fault's proven down intervals): the formula predicts ``f = prod(u_j)``.

Statistics. The samples are time bins of the fault's slot length on one grid from its start,
not the requests (the requests of one bin share its draws). Per bin ``i``: ``x_i`` is the
fraction of its requests not answered, ``d_ji`` the fraction sent while component ``j`` was
down. ``D = mean(x) - prod(mean(d_j))`` has, by the delta method, the per-bin influence
``g_i = x_i - sum_j prod_{k != j} u_k * d_ji``; a bin depends on the ones before (a node down
then may still be restarting), so the variance of the mean is Newey and West's (Bartlett
weights, lag ``floor(4 (n/100)^(2/9))``, at least 1). ``|D| <= z * SE`` upholds the formula;
outside it refutes. A run whose ``z * SE`` reaches the gap between the formula and fully
correlated failures (``min(u_j)``) could not tell them apart: inconclusive.

A request is answered when it completed ok or an app server answered it (``node`` set). A
component's down interval runs from its kill to its restart's readiness check, or to the first
request it answered after the kill when that came sooner (a restarted server serves before the
check, polled, notices it: counting it down then would overstate its downtime and make the
service look more available than the formula predicts).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history import NEMESIS, Completed, History
from .judge import INCONCLUSIVE, REFUTED, UPHELD, Exercise, Ruling, Verdicts, client_ops, evidence

NS = 1e9


@dataclass(frozen=True)
class Slot:
    x: float  # fraction of the slot's requests not answered
    d: tuple[float, ...]  # per component: fraction of its requests sent while it was down
    requests: int


@dataclass(frozen=True)
class Estimate:
    slots: int
    requests: int
    unavailable: float  # f, measured
    per_component: tuple[float, ...]  # u_j, measured
    predicted: float  # prod(u_j)
    se: float  # standard error of f - predicted
    down_slots: tuple[int, ...]  # per component: slots in which it was down at some request

    @property
    def diff(self) -> float:
        return self.unavailable - self.predicted


def records(history: History, fault: str) -> list[tuple[float, dict[str, Any]]]:
    """Each window of the fault: its start (ns, history time) and the record its heal
    returned."""
    out: list[tuple[float, dict[str, Any]]] = []
    start = None
    for op in history.ops:
        if op.process != NEMESIS:
            continue
        if op.f == f"{fault}-start" and op.type == "invoke":
            start = op.time
        elif op.f == f"{fault}-healed" and start is not None:
            rec = op.value
            if not isinstance(rec, dict) or not {"slot_s", "down", "end"} <= rec.keys():
                raise ValueError(f"{fault}-healed value is not a kill-cycles record: {rec!r}")
            out.append((float(start), rec))
            start = None
    if not out:
        raise LookupError(f"no {fault} window with a recorded heal in the history")
    return out


def slots_of(history: History, fault: str, nodes: Sequence[str]) -> list[Slot]:
    """Per bin of every window of the fault (those with at least one request), the
    fractions above."""
    ops = sorted(client_ops(history), key=lambda c: c.invoke.time)
    served: dict[str, list[int]] = {}
    for c in ops:
        if c.completion is not None and c.completion.node is not None:
            served.setdefault(c.completion.node, []).append(c.invoke.time)
    out = []
    for start, rec in records(history, fault):
        missing = [n for n in nodes if n not in rec["down"]]
        if missing:
            raise ValueError(f"{fault} record has no down intervals for {missing}")
        if not isinstance(rec.get("slot_s"), int | float) or rec["slot_s"] <= 0:
            raise ValueError(f"{fault} record has no positive slot_s: {rec.get('slot_s')!r}")
        slot, end = float(rec["slot_s"]), float(rec["end"])
        t = [start + k * slot * NS for k in range(math.ceil(end / slot))] + [start + end * NS]
        down = {n: _trimmed([(start + a * NS, start + b * NS) for a, b in rec["down"][n]],
                            served.get(n, [])) for n in nodes}
        for lo, hi in itertools.pairwise(t):
            inside = [c for c in ops if lo <= c.invoke.time < hi]
            if not inside:
                continue
            x = sum(not answered(c) for c in inside) / len(inside)
            d = tuple(sum(_down_at(down[n], c.invoke.time) for c in inside) / len(inside)
                      for n in nodes)
            out.append(Slot(x, d, len(inside)))
    return out


def _trimmed(intervals: list[tuple[float, float]], served: list[int]
             ) -> list[tuple[float, float]]:
    """Each down interval ends at the first request the node answered inside it, if one
    did: a restarted node serves before the harness's readiness check notices it."""
    out = []
    for a, b in intervals:
        i = bisect.bisect_right(served, a)
        out.append((a, min(b, served[i]) if i < len(served) else b))
    return out


def answered(c: Completed) -> bool:
    return c.type == "ok" or (c.completion is not None and c.completion.node is not None)


def _down_at(intervals: list[tuple[float, float]], t: int) -> bool:
    return any(a <= t < b for a, b in intervals)


def estimate(slots: Sequence[Slot]) -> Estimate:
    n = len(slots)
    if n < 2:
        raise ValueError("need at least two slots with requests")
    k = len(slots[0].d)
    f = sum(s.x for s in slots) / n
    u = tuple(sum(s.d[j] for s in slots) / n for j in range(k))
    q = math.prod(u)
    coef = [math.prod(u[m] for m in range(k) if m != j) for j in range(k)]
    g = [s.x - sum(coef[j] * s.d[j] for j in range(k)) for s in slots]
    mg = sum(g) / n
    m = min(n - 1, max(1, math.floor(4 * (n / 100) ** (2 / 9))))
    c = [sum((g[i] - mg) * (g[i + h] - mg) for i in range(n - h)) / n for h in range(m + 1)]
    var = max(c[0] + 2 * sum((1 - h / (m + 1)) * c[h] for h in range(1, m + 1)), c[0]) / n
    return Estimate(n, sum(s.requests for s in slots), f, u, q, math.sqrt(var),
                    tuple(sum(s.d[j] > 0 for s in slots) for j in range(k)))


@dataclass
class ParallelAvailability:
    """``nodes``: the components in parallel, as the ``kill-cycles`` record names them."""

    nodes: Sequence[str]
    fault: str = "kill-cycles"
    z: float = 3.29  # two-sided 99.9 %
    min_slots: int = 30
    min_down_slots: int = 5
    name: str = "parallel-availability"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.nodes) < 2:
            raise ValueError("parallel availability needs at least two components")
        self.exercises = (f"at least {self.min_slots} {self.fault} slots with requests, each "
                          f"component down in at least {self.min_down_slots} of them")

    def _estimate(self, history: History) -> Estimate | str:
        try:
            slots = slots_of(history, self.fault, self.nodes)
        except LookupError as e:
            return str(e)
        if len(slots) < max(2, self.min_slots):
            return f"only {len(slots)} {self.fault} slots had requests (need {self.min_slots})"
        return estimate(slots)

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        e = self._estimate(history)
        if isinstance(e, str):
            return Exercise(False, e)
        few = [n for n, k in zip(self.nodes, e.down_slots, strict=True)
               if k < self.min_down_slots]
        if few:
            return Exercise(False, f"{', '.join(few)} down in fewer than {self.min_down_slots} "
                                   f"of {e.slots} slots")
        return Exercise(True, f"{e.slots} slots, {e.requests} requests; components down in "
                              f"{', '.join(map(str, e.down_slots))} slots")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        e = self._estimate(history)
        if isinstance(e, str):
            return Ruling(INCONCLUSIVE, e)
        parts = ", ".join(f"{n} {1 - u:.1%}" for n, u in zip(self.nodes, e.per_component,
                                                              strict=True))
        text = (f"measured availability {1 - e.unavailable:.2%} vs the formula's "
                f"{1 - e.predicted:.2%} (1 - product of unavailabilities; components: {parts}); "
                f"difference {e.diff:+.3f}, tolerance ±{self.z * e.se:.3f} "
                f"(z={self.z} x SE over {e.slots} slots)")
        gap = min(e.per_component) - e.predicted
        if abs(e.diff) <= self.z * e.se:
            if self.z * e.se >= gap:
                return Ruling(INCONCLUSIVE, f"{text}; but the tolerance reaches the gap to fully "
                                            f"correlated failures ({gap:.3f}): too few slots")
            return Ruling(UPHELD, f"{text}: the formula holds")
        failed = [c for c in client_ops(history) if not answered(c)]
        way = "less" if e.diff > 0 else "more"
        why = f"{text}: the service was {way} available than the formula predicts"
        return Ruling(REFUTED, why, evidence("unavailable-together", failed, why))
