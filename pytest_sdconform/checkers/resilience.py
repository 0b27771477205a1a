"""Failure contained by resilience patterns (gen-resilience-patterns): while one tier is
down or hung, requests that do not need it stay served, the load sent to it stays within the
rate limit, and once it is back its calls succeed again.

The history is a front service's (``backends/nginx/resilience.py``): each operation's ``f`` is
``home`` (does not need the failing tier) or ``dep`` (needs it); its ``extra`` holds
``attempts`` (calls that reached the tier), ``rejected`` (``pool``, ``breaker``, ``limit``) and
``retries``. Per window of ``fault``:

- availability outside the failing tier: the ok ratio of ``home`` requests invoked from
  ``grace`` s after the window opened to its end; ``grace`` is derived by the case from the
  configured settings (the time the breaker needs to open and the calls already in flight to
  end), not guessed;
- the tier's load: the calls ``dep`` requests invoked in the window made, at most ``burst +
  rate * t`` (``t``: from the window's start to the last of them ending);
- recovery: the ok ratio of the ``dep`` requests that reached the tier (``attempts > 0``),
  invoked from ``recover`` s after the heal until the next window.

Refuted when any of these falls below ``min_ratio`` or over the bound. Upheld only when the
layer's parts acted (a breaker and a limit rejection, a retry): otherwise inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..history import Completed, History
from .judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    windows_of,
)

NS = 1e9


def _extra(c: Completed, name: str) -> Any:
    return c.completion.get(name) if c.completion is not None else None


def _ratio(ops: list[Completed]) -> float:
    return sum(c.type == "ok" for c in ops) / len(ops) if ops else 1.0


@dataclass(frozen=True)
class WindowFigures:
    home: list[Completed]  # home requests after the grace
    dep: list[Completed]  # dep requests invoked in the window
    calls: int  # calls they made
    bound: float  # burst + rate * t
    after: list[Completed]  # dep requests that reached the tier after recovery


@dataclass
class ContainedFailure:
    grace: float  # s after the window opens before home requests count
    recover: float  # s after the heal before dep requests count for recovery
    burst: int
    rate: float
    fault: str = "pause"
    min_ratio: float = 0.95
    min_ops: int = 10
    name: str = "contained-failure"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        if self.grace < 0 or self.recover < 0 or self.burst < 1 or self.rate <= 0:
            raise ValueError("grace, recover >= 0; burst >= 1; rate > 0")
        if not 0 < self.min_ratio <= 1:
            raise ValueError("min_ratio must be in (0, 1]")
        self.exercises = (f"a {self.fault} window in which dep requests failed, with at least "
                          f"{self.min_ops} home requests after {self.grace:g} s of it, and dep "
                          f"requests reaching the tier {self.recover:g} s after its heal")

    def figures(self, history: History) -> list[WindowFigures] | str:
        windows = [w for w in windows_of(history, self.fault) if w.end is not None]
        if not windows:
            return f"no healed {self.fault} window in the history"
        ops = client_ops(history)
        out = []
        for i, w in enumerate(windows):
            assert w.end is not None
            nxt = windows[i + 1].start if i + 1 < len(windows) else float("inf")
            home = [c for c in ops if c.f == "home"
                    and w.start + self.grace * NS <= c.invoke.time < w.end]
            dep = [c for c in ops if c.f == "dep" and w.start <= c.invoke.time < w.end]
            calls = sum(int(_extra(c, "attempts") or 0) for c in dep)
            last = max((c.completion.time for c in dep if c.completion is not None),
                       default=w.end)
            bound = self.burst + self.rate * (max(last, w.end) - w.start) / NS
            after = [c for c in ops if c.f == "dep" and int(_extra(c, "attempts") or 0) > 0
                     and w.end + self.recover * NS <= c.invoke.time < nxt]
            out.append(WindowFigures(home, dep, calls, bound, after))
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        figs = self.figures(history)
        if isinstance(figs, str):
            return Exercise(False, figs)
        for i, f in enumerate(figs):
            if not any(c.type != "ok" for c in f.dep):
                return Exercise(False, f"window {i + 1}: no dep request failed (fault not felt)")
            if len(f.home) < self.min_ops:
                return Exercise(False, f"window {i + 1}: {len(f.home)} home requests after the "
                                       f"grace (need {self.min_ops})")
            if not f.after:
                return Exercise(False, f"window {i + 1}: no dep request reached the tier "
                                       f"{self.recover:g} s after the heal")
        return Exercise(True, "; ".join(
            f"window {i + 1}: {len(f.home)} home, {len(f.dep)} dep requests, "
            f"{len(f.after)} dep after recovery" for i, f in enumerate(figs)))

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        figs = self.figures(history)
        if isinstance(figs, str):
            return Ruling(INCONCLUSIVE, figs)
        texts, bad, failed = [], [], []
        for i, f in enumerate(figs):
            home, rec = _ratio(f.home), _ratio(f.after)
            lat = sorted((c.completion.time - c.invoke.time) / NS for c in f.dep
                         if c.completion is not None and c.type != "ok")
            med = f"{lat[len(lat) // 2]:.3f} s" if lat else "-"
            texts.append(f"window {i + 1}: home ok {home:.1%} of {len(f.home)}; tier load "
                         f"{f.calls} calls (bound {f.bound:.1f}); failed dep median latency "
                         f"{med}; dep ok after recovery {rec:.1%} of {len(f.after)}")
            if home < self.min_ratio:
                bad.append(f"window {i + 1}: home requests ok {home:.1%} < {self.min_ratio:.0%}")
                failed += [c for c in f.home if c.type != "ok"]
            if f.calls > f.bound:
                bad.append(f"window {i + 1}: {f.calls} calls to the failing tier > "
                           f"{f.bound:.1f} (burst + rate * t)")
                failed += [c for c in f.dep if int(_extra(c, "attempts") or 0) > 1]
            if rec < self.min_ratio:
                bad.append(f"window {i + 1}: dep ok after recovery {rec:.1%}")
                failed += [c for c in f.after if c.type != "ok"]
        text = "; ".join(texts)
        if bad:
            why = f"{'; '.join(bad)} ({text})"
            return Ruling(REFUTED, why, evidence("cascade", failed, why))
        ops = client_ops(history)
        acted = {r: sum(_extra(c, "rejected") == r for c in ops) for r in ("breaker", "limit")}
        retries = sum(int(_extra(c, "retries") or 0) for c in ops)
        parts = (f"breaker rejected {acted['breaker']}, limit rejected {acted['limit']}, "
                 f"{retries} retries")
        idle = [k for k, n in (*acted.items(), ("backoff", retries)) if n == 0]
        if idle:
            return Ruling(INCONCLUSIVE, f"{text}; but {', '.join(idle)} never acted ({parts})")
        return Ruling(UPHELD, f"{text}; {parts}: the failure stayed in its tier")
