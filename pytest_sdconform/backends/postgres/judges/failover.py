"""Judges of PostgreSQL's claims about standbys and failover.

They read the times the faults record (``faults.Failover``'s start record: ``since_kill_s``,
the primary's death before the window opened; ``cut_to_kill_s``, how long the standby was cut
before that; ``lag_s``) and PostgreSQL's own settings, never a guess about the machine. Each
says what it needs the history to show (``exercises``) and hands over the operations that
prove a refutation.

- ``StaleThenConverged``: an asynchronous standby served stale reads while cut off, and once
  healed shows what the primary shows (``pg-async-stale``).
- ``LossWithinLag``: a failover to a lagging asynchronous standby loses only the tail the
  standby had not received (``pg-async-promote-loss``).
- ``FailoverResumes``: writes resume on the promoted standby within the promotion PostgreSQL
  took plus what a client needs to reconnect, with no acknowledged write lost
  (``pg-sync-immediate-failover``, ``rds-multiaz-failover``).
- ``NoDowntimeNoLoss``: a failover neither loses an acknowledged write nor fails one
  (``pg-multi-az-prevents-loss``).
- ``writes_during_lag``: the exercise rule of cases about what happens to writes made while
  the standby was cut off (``pg-2safe-replication``, ``pg-sync-consistent-writes``).

``pg-single-leader-failover-lag`` is judged by the generic ``checkers.spof.WhileDown``
(no write succeeds while there is no primary), with ``Failover(promote="at-heal")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ....checkers.durability import acked_losses
from ....checkers.judge import (
    INCONCLUSIVE,
    NS,
    REFUTED,
    UPHELD,
    Exercise,
    ExerciseRule,
    Ruling,
    Verdicts,
    client_ops,
    described,
    evidence,
    windows_of,
)
from ....checkers.recovery import Resumes
from ....checkers.verdict import Anomaly
from ....history import Completed, FaultWindow, History

FAILOVER = "failover"


@dataclass(frozen=True)
class Timeline:
    """When, in history time (ns), a failover's primary died and its standby was cut."""

    window: FaultWindow
    killed: int
    cut: int | None  # the standby cut off from the primary, rules in (None: never cut)


def timeline(w: FaultWindow) -> Timeline | None:
    """A failover window's times, from its start record (None: no kill recorded)."""
    value: dict[str, Any] = w.value if isinstance(w.value, dict) else {}
    if "since_kill_s" not in value:
        return None
    killed = w.start - int(value["since_kill_s"] * NS)
    cut = value.get("cut_to_kill_s")
    if cut is None:
        return Timeline(w, killed, None)
    # The cut's rules went in when its start began; proving them (probes) took cut_proof_s.
    return Timeline(w, killed, killed - int((cut + value.get("cut_proof_s", 0.0)) * NS))


def timelines(history: History, fault: str = FAILOVER) -> list[Timeline]:
    return [t for w in windows_of(history, fault) if (t := timeline(w)) is not None]


def final_reads_ok(history: History) -> bool:
    return any(c.is_final and c.type == "ok" for c in history.complete())


def _acked(c: Completed) -> int:
    assert c.completion is not None
    return c.completion.time


def writes_during_lag(f: str = "add", fault: str = FAILOVER) -> ExerciseRule:
    """Exercised when ``f`` calls were in flight while the standby was cut off in every
    failover (invoked before the kill and not answered before the cut, whatever they returned:
    a synchronous primary makes them wait, so a worker's call can span the whole lag), and a
    final read succeeded: what the failover did to them can be seen."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        lines = timelines(history, fault)
        if not lines:
            return Exercise(False, f"no {fault} with a recorded kill")
        if any(t.cut is None for t in lines):
            return Exercise(False, f"a {fault} without a lag (the standby was never cut)")
        counts = [sum(1 for c in client_ops(history) if c.f == f and t.cut is not None
                      and c.invoke.time < t.killed
                      and (c.completion is None or c.completion.time >= t.cut))
                  for t in lines]
        if not all(counts):
            return Exercise(False, f"no {f} was in flight while the standby lagged in "
                                   f"{counts.count(0)} of {len(lines)} failovers")
        if not final_reads_ok(history):
            return Exercise(False, "no final read succeeded: a loss could not be seen")
        return Exercise(True, f"{sum(counts)} {f}s in flight while the standby lagged "
                              f"(at least {min(counts)} per failover), final read ok")

    return described(rule, f"{f}s in flight while the standby was cut off before every "
                           f"{fault}, and a final read")


@dataclass
class StaleThenConverged:
    """An asynchronous standby lags (stale reads while it is cut off from the primary) and
    converges: once healed and caught up, the final read of every key from the standby equals
    the final read from the primary. Final reads from the primary carry the invocation value
    ``"primary"``.

    Exercised: the standby served stale reads (``sessions`` invalid: the lag was seen) and both
    final reads of every key succeeded. Refuted: a key on which the standby still differs from
    the primary after the heal (the run's ``settle``, bounded by PostgreSQL's
    ``wal_receiver_timeout`` + ``wal_retrieve_retry_interval``, waits for the standby to replay
    the primary's WAL position first)."""

    sessions: str = "sessions"
    name: str = "stale-then-converged"
    exercises: str = ("stale reads from the standby while it lagged, and final reads of every "
                      "key from both the standby and the primary")

    def _finals(self, history: History) -> dict[tuple[Any, bool], Completed]:
        out: dict[tuple[Any, bool], Completed] = {}
        for c in history.complete():
            if c.is_final and c.type == "ok":
                out[(c.key, c.invoke.value == "primary")] = c
        return out

    def _missing(self, history: History) -> list[Any]:
        finals = self._finals(history)
        keys = {c.key for c in history.complete() if c.is_final}
        return sorted(k for k in keys if (k, True) not in finals or (k, False) not in finals)

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        stale = verdicts[self.sessions]
        missing = self._missing(history)
        if not self._finals(history) or missing:
            return Exercise(False, f"final reads failed for {missing or 'every key'}")
        if stale.result != "invalid":
            return Exercise(False, f"the standby never served a stale read ({stale.result})")
        return Exercise(True, f"{len(stale.anomalies)} stale reads from the standby; final "
                              "reads from both ends")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        finals = self._finals(history)
        missing = self._missing(history)
        if not finals or missing:
            return Ruling(INCONCLUSIVE, f"a final read failed ({missing or 'every key'})")
        keys = sorted({k for k, _ in finals}, key=str)
        diverged = [k for k in keys if finals[(k, True)].value != finals[(k, False)].value]
        if diverged:
            ops = [finals[(k, side)] for k in diverged for side in (False, True)]
            text = (f"after the heal the standby still differs from the primary on "
                    f"{', '.join(map(str, diverged))}")
            return Ruling(REFUTED, text, evidence("not-converged", ops, text))
        stale = verdicts[self.sessions]
        return Ruling(UPHELD, f"{len(stale.anomalies)} stale reads from the standby while it "
                              f"lagged; after the heal it shows what the primary shows on "
                              f"{len(keys)} keys")


@dataclass
class LossWithinLag:
    """A failover to a lagging asynchronous standby loses acknowledged writes, and only the
    lag: the standby replays a prefix of the primary's WAL, so what is lost is a tail of the
    commits. A lost write acknowledged before another write, one the primary acknowledged
    before it died and that survived, was invoked is a hole in that prefix: loss not bounded
    by the lag.

    Exercised: writes acknowledged while the standby was cut off (there was a lag to lose) and
    a final read. Refuted: a hole (the lost write, the later surviving one and the final read
    are the evidence). Inconclusive: nothing was lost."""

    lost: str = "lost-writes"
    f: str = "add"
    fault: str = FAILOVER
    name: str = "loss-within-lag"
    exercises: str = "writes acknowledged while the standby lagged, and a final read"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        lines = timelines(history, self.fault)
        if not lines or any(t.cut is None for t in lines):
            return Exercise(False, f"no {self.fault} after a lag (the standby was never cut)")
        acked = [sum(1 for c in client_ops(history) if c.f == self.f and c.type == "ok"
                     and t.cut is not None and t.cut <= _acked(c) < t.killed) for t in lines]
        if not all(acked):
            return Exercise(False, f"no {self.f} was acknowledged while the standby lagged in "
                                   f"{acked.count(0)} of {len(lines)} failovers")
        if not final_reads_ok(history):
            return Exercise(False, "no final read succeeded: a loss could not be seen")
        return Exercise(True, f"{sum(acked)} {self.f}s acknowledged while the standby lagged, "
                              "final read ok")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        lines = timelines(history, self.fault)
        if not lines:
            return Ruling(INCONCLUSIVE, f"no {self.fault} with a recorded kill")
        verdict = verdicts[self.lost]
        acked = acked_losses(history, verdict, self.f)
        lost, finals = acked.lost, acked.finals
        if verdict.result != "invalid" or not lost:
            return Ruling(INCONCLUSIVE, f"no acknowledged {self.f} was lost ({verdict.result})")
        killed = min(t.killed for t in lines)
        survivors = acked.survivors(before=killed)
        holes = [(c, s) for c in lost
                 if (s := acked.survivor_after(c, survivors)) is not None]
        if holes:
            anomalies = [Anomaly("loss-beyond-lag", c.indices + s.indices + finals,
                                 f"{self.f} of {c.invoke.value!r} acknowledged at "
                                 f"{_acked(c) / NS:.3f}s is lost, but {s.invoke.value!r}, "
                                 f"invoked after it ({s.invoke.time / NS:.3f}s), survived")
                         for c, s in holes[:20]]
            return Ruling(REFUTED, f"{len(holes)} lost writes were acknowledged before writes "
                                   "that survived: a hole, not the lag's tail", anomalies)
        first = min(_acked(c) for c in lost)
        cut = min((t.cut for t in lines if t.cut is not None), default=None)
        where = ("" if cut is None else
                 f"; the standby was cut {(killed - cut) / NS:.2f}s before the kill")
        return Ruling(UPHELD, f"{len(lost)} acknowledged {self.f}s lost, all after the last "
                              f"surviving one: the last {(killed - first) / NS:.2f}s before the "
                              f"primary died{where}")


@dataclass
class FailoverResumes:
    """Writes resume after a failover within what PostgreSQL took to promote the standby
    (the window opens once it is primary: ``since_kill_s`` after the kill, measured) plus what
    a client needs to notice and reconnect (its ``op_timeout``, after which a call on a dead
    connection is abandoned, and its ``connect_timeout``), on the promoted node, with no
    acknowledged write lost. ``checkers.recovery.Resumes`` with the onset at the kill.

    Exercised: writes made during the failover window, writes acknowledged before it, and a
    final read (a loss could be seen)."""

    client_bound_s: float
    lost: str = "lost-writes"
    f: str = "add"
    fault: str = FAILOVER
    name: str = "failover-resumes"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = (f"{self.f}s made during the {self.fault} window and acknowledged "
                          "before it, and a final read")

    def _resumes(self, history: History) -> Resumes | None:
        lines = timelines(history, self.fault)
        if not lines:
            return None
        since = max((t.window.start - t.killed) / NS for t in lines)
        kills = {t.window.start: t.killed for t in lines}
        # Resumed on the promoted standby: the old primary is dead (the fault proved it) and
        # stays down, so any write acknowledged after its death was acknowledged there.
        return Resumes(self.f, self.fault, bound_s=since + self.client_bound_s,
                       no_loss=self.lost,
                       onset=lambda w: kills.get(w.start, w.start),
                       onset_name="the primary's kill")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        resumes = self._resumes(history)
        if resumes is None:
            return Exercise(False, f"no {self.fault} with a recorded kill")
        made = resumes.exercised(history, verdicts)
        if not made.done:
            return made
        first = min(w.start for w in windows_of(history, self.fault))
        acked = sum(1 for c in client_ops(history)
                    if c.f == self.f and c.type == "ok" and _acked(c) < first)
        if not acked:
            return Exercise(False, f"no {self.f} was acknowledged before the {self.fault}")
        if not final_reads_ok(history):
            return Exercise(False, "no final read succeeded: a loss could not be seen")
        return Exercise(True, f"{made.why}; {acked} acknowledged before it; final read ok")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        resumes = self._resumes(history)
        if resumes is None:
            return Ruling(INCONCLUSIVE, f"no {self.fault} with a recorded kill")
        made = resumes.exercised(history, verdicts)
        lost = verdicts[self.lost]
        if not made.done and lost.result != "invalid":
            # Resumes refutes a window with no call at all; nobody tried, nothing is known.
            return Ruling(INCONCLUSIVE, made.why)
        ruling = resumes.rule(history, verdicts)
        if ruling.outcome == UPHELD:
            ruling.reason += (f" (bound: the promotion, measured, + {self.client_bound_s:g}s "
                              "for a client to reconnect); "
                              f"{self.lost}: {verdicts[self.lost].result}")
        return ruling


@dataclass
class NoDowntimeNoLoss:
    """A failover (a standby elsewhere) prevents data loss and downtime: no acknowledged write
    is lost, and no write made after the primary died fails or times out.

    Exercised: writes made after the primary died, during the failover, and a final read.
    Refuted: a lost write (the lost-writes evidence) or a write that failed after the death
    (each with the first write that succeeded after it, so the evidence shows the gap)."""

    lost: str = "lost-writes"
    f: str = "add"
    fault: str = FAILOVER
    name: str = "no-downtime-no-loss"
    exercises: str = "writes made after the primary died, and a final read"

    def _after_kill(self, history: History) -> list[tuple[Timeline, list[Completed]]]:
        out = []
        ops = [c for c in client_ops(history) if c.f == self.f]
        for t in timelines(history, self.fault):
            end = t.window.end if t.window.end is not None else float("inf")
            out.append((t, [c for c in ops if t.killed <= c.invoke.time < end]))
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        per = self._after_kill(history)
        if not per:
            return Exercise(False, f"no {self.fault} with a recorded kill")
        counts = [len(ops) for _, ops in per]
        if not all(counts):
            return Exercise(False, f"no {self.f} was made after the primary died in "
                                   f"{counts.count(0)} of {len(per)} failovers")
        if not final_reads_ok(history):
            return Exercise(False, "no final read succeeded: a loss could not be seen")
        return Exercise(True, f"{sum(counts)} {self.f}s made after the primary died, "
                              "final read ok")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        per = self._after_kill(history)
        if not per:
            return Ruling(INCONCLUSIVE, f"no {self.fault} with a recorded kill")
        lost = verdicts[self.lost]
        anomalies: list[Anomaly] = [a for a in lost.anomalies if a.kind == "lost-write"]
        failed = 0
        gaps = []
        for t, ops in per:
            bad = [c for c in ops if c.type != "ok"]
            failed += len(bad)
            oks = sorted((c for c in ops if c.type == "ok"), key=_acked)
            for c in bad[:20]:
                after = next((o for o in oks if o.invoke.time >= c.invoke.time), None)
                # The failover's own record is part of the evidence: the window opens once
                # the standby is primary, after writes failed for want of a primary.
                idx = c.indices + (after.indices if after else []) + [t.window.start_index]
                error = c.completion.error if c.completion is not None else "no answer"
                anomalies.append(Anomaly("downtime", idx, f"{self.f} invoked "
                                         f"{(c.invoke.time - t.killed) / NS:.2f}s after the "
                                         f"primary died: {c.type} ({error})"))
            if oks:
                gaps.append((_acked(oks[0]) - t.killed) / NS)
        if lost.result == "invalid" or failed:
            resumed = f"; writes resumed {max(gaps):.2f}s after the death" if gaps else ""
            return Ruling(REFUTED, f"{len(lost.anomalies)} acknowledged writes lost, {failed} "
                                   f"writes failed or timed out during the failover{resumed}",
                          anomalies)
        if lost.result != "valid":
            return Ruling(INCONCLUSIVE, f"{self.lost}: {lost.reason or lost.result}")
        return Ruling(UPHELD, f"no acknowledged write lost and none of "
                              f"{sum(len(o) for _, o in per)} writes failed through the failover")
