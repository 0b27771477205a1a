"""From verdicts to a claim's outcome: upheld, refuted or inconclusive.

- refuted: a deciding checker found a violation (its anomalies are the evidence);
- inconclusive: a deciding checker could not finish (unknown), or the faults never overlapped
  a successful operation (nothing was tested while things were broken), or the backend is an
  emulator that cannot exhibit what the claim is about;
- upheld: otherwise; no violation was found while faults really overlapped the traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .checkers.verdict import Verdict
from .history import NEMESIS, History, window_lookup

UPHELD, REFUTED, INCONCLUSIVE = "upheld", "refuted", "inconclusive"
OUTCOMES = (UPHELD, REFUTED, INCONCLUSIVE)


@dataclass
class Decision:
    outcome: str
    reason: str


def ok_during_faults(history: History) -> int:
    """Client operations that completed ok while a fault was active."""
    windows = history.fault_windows()
    if not windows:
        return 0
    active = window_lookup(windows)
    return sum(
        1
        for c in history.complete()
        if c.type == "ok" and c.completion is not None and c.process != NEMESIS
        and (active(c.invoke.time) or active(c.completion.time))
    )


def decide(
    verdicts: Mapping[str, Verdict],
    deciding: Sequence[str],
    history: History,
    *,
    need_faults: bool = True,
    need_overlap: bool = True,
    emulator_limit: str | None = None,
) -> Decision:
    """The outcome of one case; ``deciding`` names the checkers whose verdicts count.

    ``need_overlap``: some operation must have succeeded while a fault was active (for claims
    about behaviour during faults). A durability claim tested by a crash sets it False: there
    the faults must happen, but nothing needs to succeed while the node is down.
    """
    missing = [name for name in deciding if name not in verdicts]
    if missing:
        raise ValueError(f"no verdict from deciding checker(s) {missing}")
    invalid = [n for n in deciding if verdicts[n].result == "invalid"]
    if invalid:
        kinds = sorted({a.kind for n in invalid for a in verdicts[n].anomalies})
        count = sum(len(verdicts[n].anomalies) for n in invalid)
        return Decision(REFUTED, f"{', '.join(invalid)}: {count} anomal"
                        f"{'y' if count == 1 else 'ies'} ({', '.join(kinds)})")
    if emulator_limit:
        return Decision(INCONCLUSIVE, f"inconclusive (emulator): {emulator_limit}")
    unknown = [n for n in deciding if verdicts[n].result == "unknown"]
    if unknown:
        why = "; ".join(f"{n}: {verdicts[n].reason or 'unknown'}" for n in unknown)
        return Decision(INCONCLUSIVE, why)
    if need_faults and not history.fault_windows():
        return Decision(INCONCLUSIVE, "no fault was injected")
    if need_faults and need_overlap and ok_during_faults(history) == 0:
        return Decision(INCONCLUSIVE, "no operation succeeded during the faults")
    return Decision(UPHELD, f"{', '.join(deciding)}: valid")
