"""Verdicts: what a checker concludes about a history, with the evidence for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Result = Literal["valid", "invalid", "unknown"]
EXIT_CODES: dict[str, int] = {"valid": 0, "invalid": 1, "unknown": 2}


@dataclass
class Anomaly:
    """One violation, named as in the literature, with the operations that show it.

    ``ops`` are history indices (the ``index`` of invocation and completion lines).
    """

    kind: str
    ops: list[int]
    explanation: str = ""
    key: Any = None
    # What a checker can add for a reader, e.g. linearizability's "linearization" (the longest
    # linearizable prefix and the operation that cannot follow it, with the model's states).
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "ops": self.ops}
        if self.key is not None:
            d["key"] = self.key
        if self.explanation:
            d["explanation"] = self.explanation
        if self.details:
            d.update(self.details)
        return d


@dataclass
class Verdict:
    """valid (no violation), invalid (anomalies found) or unknown (out of budget, too little data).

    A checker never says valid when it could not finish.
    """

    checker: str
    result: Result
    anomalies: list[Anomaly] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    @property
    def valid(self) -> bool:
        return self.result == "valid"

    @property
    def anomaly_kinds(self) -> list[str]:
        seen: dict[str, None] = {}
        for a in self.anomalies:
            seen.setdefault(a.kind, None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "checker": self.checker,
            "result": self.result,
            "anomaly_kinds": self.anomaly_kinds,
            "anomalies": [a.to_json() for a in self.anomalies],
        }
        if self.reason:
            d["reason"] = self.reason
        if self.details:
            d["details"] = self.details
        return d


def merge(checker: str, verdicts: list[Verdict]) -> Verdict:
    """Combine verdicts of parts (keys, partitions): invalid beats unknown beats valid."""
    anomalies = [a for v in verdicts for a in v.anomalies]
    results = {v.result for v in verdicts}
    result: Result = (
        "invalid" if "invalid" in results else "unknown" if "unknown" in results else "valid"
    )
    reasons = "; ".join(v.reason for v in verdicts if v.reason)
    return Verdict(checker, result, anomalies, reason=reasons)
