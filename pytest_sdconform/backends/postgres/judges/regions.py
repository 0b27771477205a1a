"""The loss of a primary's region while its cross-region standby lags (``aurora-global-db``:
"replica lag up to 1 s; promoting another region has an RTO of < 1 minute")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ....checkers.judge import NS, Exercise, Ruling, Verdicts, client_ops
from ....history import History
from .failover import LossWithinLag, timelines

REGION = "region-loss"


@dataclass
class RpoWithinLag:
    """What a region's loss costs is the secondary's lag, no more: the acknowledged writes
    lost are a tail of the history, all acknowledged while the link lagged (``LossWithinLag``
    on ``faults.RegionLoss``'s record). The figures are measured and reported: the RPO (the
    primary's death minus the first lost write's acknowledgement), the lag at the death (the
    link's proven delay; the bytes and seconds the primary saw the standby behind), the RTO
    (the death to the first write acknowledged by the promoted standby). The claim's "1 s" and
    "1 minute" are figures of Aurora's replication, not of this stand-in's: they are
    reported beside ours, never judged.

    Exercised: writes acknowledged while the link lagged, and a final read. Refuted: a lost
    write acknowledged before one that survived (loss beyond the lag). Inconclusive: nothing
    was lost (the lag cost nothing: no RPO to measure)."""

    lost: str = "lost-writes"
    f: str = "add"
    fault: str = REGION
    name: str = "rpo-within-lag"
    exercises: str = "writes acknowledged while the link lagged, and a final read"
    inner: LossWithinLag = field(init=False)

    def __post_init__(self) -> None:
        self.inner = LossWithinLag(lost=self.lost, f=self.f, fault=self.fault)

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return self.inner.exercised(history, verdicts)

    def figures(self, history: History, verdicts: Verdicts) -> list[str]:
        out = []
        lost_ids = {i for a in verdicts[self.lost].anomalies if a.kind == "lost-write"
                    for i in a.ops}
        writes = [c for c in client_ops(history) if c.f == self.f]
        for t in timelines(history, self.fault):
            value: dict[str, Any] = t.window.value
            acked_lost = [c.completion.time for c in writes if c.type == "ok"
                          and c.completion is not None and set(c.indices) & lost_ids]
            rpo = (t.killed - min(acked_lost)) / NS if acked_lost else 0.0
            back = [c.completion.time for c in writes if c.type == "ok"
                    and c.completion is not None and c.completion.time >= t.killed]
            rto = f"{(min(back) - t.killed) / NS:.2f}s" if back else "no write back"
            link = value.get("link", {}).get("measured", {})
            delay = ", ".join(f"{m.get('added_ms')} ms" for m in link.values()) or "unknown"
            lag = value.get("lag_at_kill", {})
            out.append(f"RPO {rpo:.2f}s ({len(acked_lost)} acknowledged writes); lag at the "
                       f"death: link delay {delay}, standby {lag.get('write_behind_bytes')} "
                       f"bytes behind (write_lag {lag.get('write_lag_s')}s); RTO {rto} "
                       f"(promotion {value.get('promote_s')}s)")
        return out

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        ruling = self.inner.rule(history, verdicts)
        ruling.reason += ("; " + "; ".join(self.figures(history, verdicts))
                          + " (Aurora's '1 s lag' and '< 1 minute RTO' are its own figures: "
                          "reported, not judged)")
        return ruling
