"""PACELC's else-branch: with no partition, a stronger setting pays latency for consistency.

Abadi ("Consistency tradeoffs in modern distributed database system design", IEEE Computer
45(2), 2012): Else, when the system runs normally, it chooses between Latency and
Consistency. The case runs one store with two groups of clients side by side, no fault: a
*strong* setting (a commit waits for the replica to apply it) and a *weak* one (it does not),
both reading from the replica. Every completion names its group in ``mode``.

What is measured, from the history alone: each group's median latency of acknowledged writes,
and its stale reads, the read-your-writes anomalies of the sessions checker (a session reading,
at the replica, something older than its own acknowledged write). The trade-off is shown
(upheld) when the strong group has no stale read, the weak group has some, and the strong
group's median write latency is above the weak group's beyond noise: the distribution-free 95%
confidence intervals of the two medians are apart, the strong one above. Refuted when the
strong group kept read-your-writes at no latency cost (its median's interval at or below the
weak one's): consistency for free, which the claim says cannot be; overlapping intervals show
no difference either way (inconclusive). Inconclusive when the weak group showed no stale read
(nothing was traded in this run) or the strong group did (it bought no consistency to weigh).
Exercised: each group had ``min_ops`` acknowledged writes and ``min_ops`` reads.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ..history import Completed, History
from .judge import INCONCLUSIVE, REFUTED, UPHELD, Exercise, Ruling, Verdicts, client_ops, evidence
from .sessions import RYW

STRONG, WEAK = "strong", "weak"
MODE = "mode"


def mode_of(c: Completed) -> str | None:
    done = c.completion
    mode = done.get(MODE) if done is not None else None
    return mode if mode is None else str(mode)


def stale_reads(history: History, verdicts: Verdicts, checker: str = "sessions"
                ) -> dict[str, list[Completed]]:
    """The reads of each mode that the sessions checker found behind their own writes. An
    anomaly's operations also hold its proof (other sessions' reads and writes); the stale read
    is the one whose session has a write among them that completed before the read began."""
    verdict = verdicts.get(checker)
    by_index: dict[int, Completed] = {}
    for c in client_ops(history):
        for i in c.indices:
            by_index[i] = c
    out: dict[str, list[Completed]] = {STRONG: [], WEAK: []}
    seen: set[int] = set()
    for a in verdict.anomalies if verdict is not None else []:
        if a.kind != RYW:
            continue
        found = [by_index[i] for i in a.ops if i in by_index]
        ops = list({id(c): c for c in found}.values())
        for r in ops:
            own = [w for w in ops if w.f == "write" and w.process == r.process
                   and w.end is not None and w.end <= r.start]
            if r.f == "read" and own and id(r) not in seen and mode_of(r) in out:
                seen.add(id(r))
                out[str(mode_of(r))].append(r)
    return out


def write_latencies(history: History, mode: str) -> list[Completed]:
    return [c for c in client_ops(history)
            if c.f == "write" and c.type == "ok" and mode_of(c) == mode]


def median_ms(ops: Sequence[Completed]) -> float:
    return statistics.median(c.latency or 0 for c in ops) / 1e6


Z95 = 1.959964  # the standard normal's two-sided 95% quantile


def median_interval_ms(ops: Sequence[Completed]) -> tuple[float, float]:
    """A distribution-free 95% confidence interval of the median latency: the order statistics
    of ranks floor(n/2 - 1.96 sqrt(n)/2) and ceil(1 + n/2 + 1.96 sqrt(n)/2) (1-based; the
    binomial(n, 1/2) count of values below the median, in its normal approximation), clipped
    to the sample: a small sample's interval is its whole range."""
    xs = sorted((c.latency or 0) / 1e6 for c in ops)
    if not xs:
        raise ValueError("the median of no latency")
    n = len(xs)
    half = Z95 * math.sqrt(n) / 2
    lo = min(n, max(1, math.floor(n / 2 - half)))
    hi = min(n, max(1, math.ceil(1 + n / 2 + half)))
    return xs[lo - 1], xs[hi - 1]


@dataclass
class LatencyOrConsistency:
    """Judge: the strong group pays latency for the consistency the weak group lacks."""

    min_ops: int = 20
    checker: str = "sessions"
    name: str = "latency-or-consistency"
    exercises: str = ("both groups (strong, weak) acknowledged writes and read from the replica, "
                      "with no fault")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        counts = {}
        for mode in (STRONG, WEAK):
            ops = [c for c in client_ops(history) if mode_of(c) == mode and c.type == "ok"]
            counts[mode] = (sum(c.f == "write" for c in ops), sum(c.f == "read" for c in ops))
        short = [m for m, (w, r) in counts.items() if min(w, r) < self.min_ops]
        text = "; ".join(f"{m}: {w} acknowledged writes, {r} reads" for m, (w, r) in counts.items())
        if short:
            return Exercise(False, f"{text} (fewer than {self.min_ops} in {', '.join(short)})")
        return Exercise(True, text)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        if self.checker not in verdicts:
            raise ValueError(f"latency-or-consistency needs the {self.checker!r} verdict")
        stale = stale_reads(history, verdicts, self.checker)
        strong, weak = write_latencies(history, STRONG), write_latencies(history, WEAK)
        if not strong or not weak:
            return Ruling(INCONCLUSIVE, "a group has no acknowledged write to time")
        ms_strong, ms_weak = median_ms(strong), median_ms(weak)
        (lo_s, hi_s), (lo_w, hi_w) = median_interval_ms(strong), median_interval_ms(weak)
        figures = (f"strong: median write {ms_strong:.2f} ms (95% interval {lo_s:.2f}-"
                   f"{hi_s:.2f}), {len(stale[STRONG])} stale reads; "
                   f"weak: median write {ms_weak:.2f} ms (95% interval {lo_w:.2f}-{hi_w:.2f}), "
                   f"{len(stale[WEAK])} stale reads")
        if stale[STRONG]:
            return Ruling(INCONCLUSIVE, f"the strong setting read behind its own writes too, so "
                                        f"it bought no consistency to weigh ({figures})")
        if not stale[WEAK]:
            return Ruling(INCONCLUSIVE, f"the weak setting showed no stale read: nothing was "
                                        f"traded in this run ({figures})")
        if hi_s <= lo_w:
            return Ruling(REFUTED, f"consistency at no latency cost: {figures}",
                          evidence("consistent-at-no-latency-cost", strong,
                                   "a strong write no slower than the weak ones' median"))
        if lo_s <= hi_w:
            return Ruling(INCONCLUSIVE, f"the two medians are within each other's 95% "
                                        f"intervals: no latency difference shown ({figures})")
        return Ruling(UPHELD, f"latency paid for consistency: {figures}")
