"""The judge of ``redis-global-datastore``: "cross-region replication of cached data", whose
criterion is "Async: lag and RPO > 0 (measure)". Replication carries the primary region's
writes to the secondary; being asynchronous, losing the primary's region loses what was still
on the link, and no more: the acknowledged writes lost are bounded by the replica's lag as
measured at the loss (``regions.RegionLoss``'s record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...checkers.durability import acked_losses
from ...checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    windows_of,
)
from ...checkers.verdict import Anomaly
from ...history import Completed, FaultWindow, History

REGION = "region-loss"


@dataclass(frozen=True)
class Loss:
    """One region loss in history time (ns): the primary's death, since when the link was
    slow, and the last moment before which the replica provably held every acknowledged write
    (``safe``: the latest offset sample no larger than what the replica held; None when every
    sample is larger: the lag is not measured)."""

    window: FaultWindow
    killed: int
    slow: int
    safe: int | None
    held: int
    behind_bytes: int


def losses(history: History, fault: str = REGION) -> list[Loss]:
    out = []
    for w in windows_of(history, fault):
        v: dict[str, Any] = w.value if isinstance(w.value, dict) else {}
        if not {"since_kill_s", "cut_to_kill_s", "samples", "replica_offset"} <= v.keys():
            continue
        killed = w.start - int(v["since_kill_s"] * NS)
        slow = killed - int(v["cut_to_kill_s"] * NS)
        held = int(v["replica_offset"])
        times = [killed - int(before * NS) for before, offset in v["samples"] if offset <= held]
        at_kill = int(v.get("offset_at_kill", max((o for _, o in v["samples"]), default=held)))
        out.append(Loss(w, killed, slow, max(times, default=None), held, max(0, at_kill - held)))
    return out


def _acked(c: Completed) -> int:
    assert c.completion is not None
    return c.completion.time


@dataclass
class RpoWithinMeasuredLag:
    """The primary's region is lost while its replica lags: the acknowledged writes lost are
    those the replica had not received, acknowledged within its measured lag, no earlier.

    The bound is measured, not guessed: the primary's replication offset was sampled while the
    link was slow, each sample timed when its INFO was sent (every write acknowledged before
    is inside the offset it answered); the replica's offset at its promotion is what it held.
    The latest sample no larger than that is ``safe``: every write acknowledged before it was on
    the replica. The lag is the death minus ``safe``.

    Exercised: writes acknowledged while the link was slow, a measured lag (a sample within
    what the replica held) and a final read. Refuted: a lost write acknowledged before ``safe``
    (the replica had received it: loss beyond the lag), or before a write that survived was
    invoked (a hole, not the stream's tail). Inconclusive: nothing was lost (no RPO to measure:
    the criterion asks for one above 0)."""

    lost: str = "lost-writes"
    f: str = "add"
    fault: str = REGION
    name: str = "rpo-within-measured-lag"
    exercises: str = ("writes acknowledged while the cross-region link was slow, the replica's "
                      "lag measured at the region's loss, and a final read")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        found = losses(history, self.fault)
        if not found:
            return Exercise(False, f"no {self.fault} with a recorded kill and offsets")
        if any(x.safe is None for x in found):
            return Exercise(False, "the replica held less than every offset sampled: its lag "
                                   "is not measured")
        acked = [sum(1 for c in client_ops(history) if c.f == self.f and c.type == "ok"
                     and x.slow <= _acked(c) < x.killed) for x in found]
        if not all(acked):
            return Exercise(False, f"no {self.f} was acknowledged while the link was slow in "
                                   f"{acked.count(0)} of {len(found)} region losses")
        if not any(c.is_final and c.type == "ok" for c in history.complete()):
            return Exercise(False, "no final read succeeded: a loss could not be seen")
        return Exercise(True, f"{sum(acked)} {self.f}s acknowledged while the link was slow, "
                              "lag measured, final read ok")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        found = losses(history, self.fault)
        if not found:
            return Ruling(INCONCLUSIVE, f"no {self.fault} with a recorded kill and offsets")
        verdict = verdicts[self.lost]
        acked = acked_losses(history, verdict, self.f)
        lost, finals = acked.lost, acked.finals
        survivors = acked.survivors(before=min(x.killed for x in found))
        anomalies = []
        safes = [x.safe for x in found if x.safe is not None]
        safe = min(safes) if safes else None
        for c in lost:
            if safe is not None and _acked(c) < safe:
                anomalies.append(Anomaly("loss-beyond-lag", c.indices + finals,
                                         f"{self.f} of {c.invoke.value!r} acknowledged at "
                                         f"{_acked(c) / NS:.3f}s is lost, though the replica "
                                         f"held all the primary had at {safe / NS:.3f}s"))
                continue
            s = acked.survivor_after(c, survivors)
            if s is not None:
                anomalies.append(Anomaly("loss-beyond-lag", c.indices + s.indices + finals,
                                         f"{self.f} of {c.invoke.value!r} acknowledged at "
                                         f"{_acked(c) / NS:.3f}s is lost, but {s.invoke.value!r}"
                                         f", invoked after it, survived"))
        if anomalies:
            return Ruling(REFUTED, f"{len(anomalies)} lost writes beyond the replica's measured "
                                   "lag", anomalies[:20])
        if safe is None:
            return Ruling(INCONCLUSIVE, "the replica's lag is not measured (it held less than "
                                        "every offset sampled)")
        if verdict.result != "invalid" or not lost:
            return Ruling(INCONCLUSIVE, f"no acknowledged {self.f} was lost ({verdict.result}): "
                                        "RPO 0, the asynchronous loss was not shown")
        return Ruling(UPHELD, f"{len(lost)} acknowledged {self.f}s lost, all within the "
                              f"replica's lag: {self.figures(history, found, lost)}")

    def figures(self, history: History, found: list[Loss], lost: list[Completed]) -> str:
        out = []
        writes = [c for c in client_ops(history) if c.f == self.f and c.type == "ok"]
        for x in found:
            v: dict[str, Any] = x.window.value
            mine = [_acked(c) for c in lost if _acked(c) < x.killed]
            rpo = (x.killed - min(mine)) / NS if mine else 0.0
            lag = (x.killed - x.safe) / NS if x.safe is not None else float("nan")
            back = [_acked(c) for c in writes if _acked(c) >= x.killed]
            rto = f"{(min(back) - x.killed) / NS:.2f}s" if back else "no write back"
            link = v.get("link", {}).get("measured", {})
            delay = ", ".join(f"{m.get('added_ms')} ms" for m in link.values()) or "unknown"
            out.append(f"RPO {rpo:.2f}s, lag {lag:.2f}s ({x.behind_bytes} bytes behind at the "
                       f"death), link delay {delay}, RTO {rto} (promotion "
                       f"{v.get('promote_s')}s)")
        return "; ".join(out)
