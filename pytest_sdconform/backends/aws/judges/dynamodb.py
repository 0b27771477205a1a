"""Judges of the DynamoDB claims: conditional writes that race (``conflicts``), reads after
one's own write, strong versus eventual reads (``StrongReadsLinearizable``: the strong reads
must be linearizable, the eventual ones may be stale), and transactions: all or nothing across
accounts (``AllOrNothing``, over the snapshots a ``Ledger`` reads), the item limit
(``ItemLimit``) and idempotency by ClientRequestToken (``OncePerToken``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ....checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    ExerciseRule,
    Ruling,
    Verdicts,
    client_ops,
    described,
    evidence,
)
from ....checkers.linearizable import LinearizabilityChecker
from ....history import Completed, History, renumber
from .common import path_faults

# --- DynamoDB: conditional writes and reads of one's own writes ------------------------------


def conflicts(f: str = "cas", error: str = "ConditionalCheckFailedException") -> ExerciseRule:
    """Some conditional write lost to a concurrent one (refused by its condition): the race the
    claim is about happened."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        lost = [c for c in client_ops(history) if c.f == f and c.type == "fail"
                and c.completion is not None and c.completion.error == error]
        won = sum(1 for c in client_ops(history) if c.f == f and c.type == "ok")
        return Exercise(bool(lost) and won > 0,
                        f"{won} conditional writes won, {len(lost)} refused by their condition")

    return described(rule, "conditional writes both won and lost races")


def read_after_own_write(history: History, verdicts: Verdicts) -> Exercise:
    """a process read a key after its own acknowledged write of it"""
    last: dict[tuple[Any, Any], int] = {}
    n = 0
    for c in sorted(client_ops(history), key=lambda c: c.invoke.time):
        if c.f in ("write", "cas") and c.type == "ok" and c.end is not None:
            last[(c.process, c.key)] = c.end
        elif (c.f == "read" and c.type == "ok"
              and last.get((c.process, c.key), c.invoke.time + 1) <= c.invoke.time):
            n += 1
    return Exercise(n > 0, f"{n} reads followed the reader's own acknowledged write")


# --- DynamoDB: strong and eventual reads ------------------------------------------------------


def strong_reads_only(history: History) -> History:
    """The history without the reads made with ConsistentRead=false (their completions say
    ``consistent_read: false``): those may rightly be stale."""
    drop: set[int] = set()
    for c in history.complete():
        done = c.completion
        if c.f == "read" and done is not None and done.get("consistent_read") is False:
            drop.update((c.invoke.index, done.index))
    return History(renumber([replace(op) for op in history.ops if op.index not in drop]))


@dataclass
class StrongReadsLinearizable:
    """"Reads can be eventually or strongly consistent": the strong reads and the writes
    must be linearizable; eventual reads may be stale (what they return is not judged, but
    both kinds must have been answered, or the choice was never exercised)."""

    budget_s: float = 60.0
    name: str = "strong-reads-linearizable"
    exercises: str = ("strong and eventual reads both answered, after acknowledged writes")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        reads = [c for c in client_ops(history) if c.f == "read" and c.type == "ok"]
        strong = sum(1 for c in reads if c.completion and c.completion.get("consistent_read"))
        eventual = len(reads) - strong
        writes = sum(1 for c in client_ops(history) if c.f in ("write", "cas") and c.type == "ok")
        return Exercise(strong > 0 and eventual > 0 and writes > 0,
                        f"{strong} strong and {eventual} eventual reads, {writes} writes")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        v = LinearizabilityChecker("cas-register", self.budget_s).check(strong_reads_only(history))
        if v.result == "invalid":
            return Ruling(REFUTED, f"strong reads are not linearizable: {len(v.anomalies)} "
                                   "anomalies", v.anomalies)
        if v.result == "unknown":
            return Ruling(INCONCLUSIVE, f"linearizability of the strong reads: {v.reason}")
        return Ruling(UPHELD, "strong reads and writes are linearizable (eventual reads not "
                              "judged: they may be stale)")


# --- DynamoDB: transactions -------------------------------------------------------------------

CANCELLED = "TransactionCanceledException"  # a condition failed: the whole transaction refused
TOO_MANY = "ValidationException"  # over the item limit: the request refused before it ran


def txn_size(c: Completed) -> int:
    return len(c.invoke.value or ())


@dataclass
class Ledger:
    """What the snapshots of a transfers history say. Accounts start at ``balance`` each;
    ordinary transfers move money (deltas summing to zero); an over-limit transaction adds
    ``over`` to every account (and checks spare items, to pass the item limit), so that
    what it changed shows in the total: ``over`` times the number of accounts if it was
    applied whole, a smaller multiple of ``over`` if in part. ``over`` is far above what
    partly applied transfers could add up to, so the two kinds of trouble stay apart."""

    accounts: int
    balance: int
    over: int

    @property
    def total(self) -> int:
        return self.accounts * self.balance

    def snapshots(self, history: History) -> list[Completed]:
        return [c for c in history.complete() if c.f == "read" and c.type == "ok"]

    def partial(self, history: History) -> tuple[list[Completed], str]:
        """Snapshots that show a transaction applied in part, and what they show."""
        over_txns = [c for c in history.complete() if c.f == "txn" and self.is_over(c)]
        possible = sum(1 for c in over_txns if c.type != "fail")  # applied or maybe
        broken, whys = [], []
        for c in self.snapshots(history):
            total = sum(b or 0 for b in c.value)
            d = total - self.total
            m = round(d / self.over)
            drift = d - m * self.over
            if drift:
                broken.append(c)
                whys.append(f"a total of {total}, {drift:+d} off: a transfer applied in part")
            elif m % self.accounts:
                broken.append(c)
                whys.append(f"{m} of the {self.accounts} updates of over-limit transactions "
                            "applied: one applied in part")
            elif m // self.accounts > possible:
                broken.append(c)
                whys.append(f"{m // self.accounts} over-limit transactions applied, but only "
                            f"{possible} were not refused")
        return broken, (whys[0] if whys else "")

    def is_over(self, c: Completed) -> bool:
        return any(item[0] == "add" and item[2] == self.over for item in c.invoke.value or ())

    def summary(self, history: History) -> str:
        txns = [c for c in client_ops(history) if c.f == "txn"]
        ok = [c for c in txns if c.type == "ok"]
        cancelled = sum(1 for c in txns if c.type == "fail" and _error(c) == CANCELLED)
        rejected = sum(1 for c in txns if c.type == "fail" and _error(c) == TOO_MANY)
        unknown = sum(1 for c in txns if c.type == "info")
        sizes = sorted(txn_size(c) for c in ok)
        span = f"{sizes[0]}-{sizes[-1]} items" if sizes else "none"
        return (f"{len(ok)} committed ({span}), {cancelled} cancelled by a condition, "
                f"{rejected} rejected as too large, {unknown} of unknown outcome; "
                f"{len(self.snapshots(history))} snapshots")


def _error(c: Completed) -> str:
    return str(c.completion.error) if c.completion is not None and c.completion.error else ""


@dataclass
class AllOrNothing:
    """A transaction applies whole or not at all: every snapshot (TransactGetItems of every
    account) and the final state hold the total, counting over-limit transactions only
    whole. A transaction over the item limit that the service rejects whole is fine; one
    applied in part refutes. Exercised: committed transactions, refused ones (cancelled by a
    condition or rejected as too large: the "nothing" half), snapshots during the run and a
    final one, and transactions in flight during every fault."""

    ledger: Ledger
    name: str = "all-or-nothing"
    exercises: str = ("transactions committed and refused, snapshots during the run and a final "
                      "one, and transactions in flight during every fault window")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        txns = [c for c in client_ops(history) if c.f == "txn"]
        ok = sum(1 for c in txns if c.type == "ok" and txn_size(c) > 1)
        refused = sum(1 for c in txns if c.type == "fail" and _error(c) in (CANCELLED, TOO_MANY))
        snaps = [c for c in self.ledger.snapshots(history)]
        during = sum(1 for c in snaps if not c.is_final)
        final = any(c.is_final for c in snaps)
        why = self.ledger.summary(history)
        if not (ok and refused and during and final):
            return Exercise(False, why)
        faults = path_faults("txn")(history, verdicts)
        if not faults.done:
            return faults
        return Exercise(True, f"{why}; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        broken, why = self.ledger.partial(history)
        if broken:
            final = " (the final state too)" if any(c.is_final for c in broken) else ""
            text = (f"{len(broken)} of {len(self.ledger.snapshots(history))} snapshots do not "
                    f"hold the total{final}: {why}")
            return Ruling(REFUTED, text, evidence("partial-transaction", broken, text))
        if not any(c.is_final for c in self.ledger.snapshots(history)):
            return Ruling(INCONCLUSIVE, "no final snapshot")
        over_ok = [c for c in history.complete() if c.f == "txn" and c.type == "ok"
                   and self.ledger.is_over(c)]
        extra = (f"; {len(over_ok)} over-limit transactions were accepted, and applied whole"
                 if over_ok else "")
        return Ruling(UPHELD, f"every snapshot holds the total: {self.ledger.summary(history)}"
                              f"{extra}")


@dataclass
class ItemLimit:
    """"Transactions with up to ``claimed`` items": refuted when a transaction of more items
    (and no more than ``limit``, the service's documented limit) committed whole; upheld when
    every such transaction was rejected. A history where a transaction was applied in part
    says nothing about the limit (that is an atomicity violation, which ``AllOrNothing``
    refutes): inconclusive, never the refutation this claim expects."""

    ledger: Ledger
    claimed: int = 10
    limit: int = 100
    name: str = "item-limit"
    exercises: str = ""

    def __post_init__(self) -> None:
        self.exercises = (f"transactions of more than {self.claimed} items answered, and a "
                          "final snapshot")

    def _big(self, history: History) -> list[Completed]:
        return [c for c in client_ops(history) if c.f == "txn"
                and self.claimed < txn_size(c) <= self.limit and c.type in ("ok", "fail")]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        big = self._big(history)
        final = any(c.is_final for c in self.ledger.snapshots(history))
        return Exercise(bool(big) and final,
                        f"{len(big)} transactions of {self.claimed + 1}-{self.limit} items "
                        f"answered; final snapshot {'taken' if final else 'missing'}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        broken, why = self.ledger.partial(history)
        if broken:
            return Ruling(INCONCLUSIVE, f"a transaction was applied in part ({why}): an "
                          "atomicity violation, not a finding about the item limit")
        if not any(c.is_final for c in self.ledger.snapshots(history)):
            return Ruling(INCONCLUSIVE, "no final snapshot: whether the transactions applied "
                                        "whole cannot be seen")
        big = self._big(history)
        committed = [c for c in big if c.type == "ok"]
        over = [c for c in client_ops(history) if c.f == "txn" and txn_size(c) > self.limit]
        rejected_over = sum(1 for c in over if c.type == "fail" and _error(c) == TOO_MANY)
        beyond = (f"; {rejected_over} of {len(over)} transactions of more than {self.limit} "
                  "items were rejected as too large" if over else "")
        if committed:
            sizes = sorted(txn_size(c) for c in committed)
            text = (f"{len(committed)} transactions of {sizes[0]}-{sizes[-1]} items committed "
                    f"whole (every snapshot holds the total): the limit is not {self.claimed} "
                    f"items{beyond}")
            return Ruling(REFUTED, text, evidence("over-claimed-limit", committed, text))
        if not big:
            return Ruling(INCONCLUSIVE, f"no transaction of more than {self.claimed} items "
                                        "was answered")
        return Ruling(UPHELD, f"all {len(big)} transactions of more than {self.claimed} items "
                              f"were rejected{beyond}")


@dataclass
class OncePerToken:
    """A transaction resubmitted with its ClientRequestToken applies once: the counter (the
    first value of the final snapshot, starting at ``start``) rises by one per acknowledged
    token, plus at most one per token of unknown outcome. Exercised: tokens acknowledged
    after both submissions, and a final read."""

    start: int
    name: str = "once-per-token"
    exercises: str = "transactions submitted twice with one token, both submissions answered, " \
                     "and a final read of the counter"

    def _final(self, history: History) -> Completed | None:
        finals = [c for c in history.complete() if c.is_final and c.f == "read"
                  and c.type == "ok"]
        return finals[-1] if finals else None

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        ok = sum(1 for c in client_ops(history) if c.f == "txn" and c.type == "ok")
        final = self._final(history) is not None
        return Exercise(ok > 0 and final, f"{ok} tokens acknowledged after two submissions "
                                          f"each; final read {'ok' if final else 'missing'}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        final = self._final(history)
        if final is None:
            return Ruling(INCONCLUSIVE, "no final read of the counter")
        txns = [c for c in client_ops(history) if c.f == "txn"]
        ok = sum(1 for c in txns if c.type == "ok")
        maybe = sum(1 for c in txns if c.type == "info")
        applied = final.value[0] - self.start
        if ok <= applied <= ok + maybe:
            return Ruling(UPHELD, f"{ok} tokens submitted twice each (+{maybe} unknown), the "
                                  f"counter rose by {applied}")
        text = f"the counter rose by {applied} for {ok} tokens (+{maybe} of unknown outcome)"
        return Ruling(REFUTED, text, evidence("token-not-idempotent", [final], text))
