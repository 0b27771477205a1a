"""Judges of the AWS suites (suites/aws): how a DynamoDB, S3, SQS, SNS or Kinesis history
decides its claim. Each says what the history must show before "no violation" may count as
upheld (``exercises``), and each refutation carries the operations that prove it.

The path faults of the local runtime are client latency (requests still succeed, slowly) and
timeouts (nothing comes back: outcomes unknown). ``path_faults`` is what such a case must show
for them: operations succeeded during every latency window and calls were in flight during
every timeout window. The external runtime injects no fault, so there it asks nothing.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...checkers.judge import (
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
    ok_in_every_window,
    ops_in_every_window,
)
from ...checkers.linearizable import LinearizabilityChecker
from ...history import Completed, History, renumber

# --- exercise rules ----------------------------------------------------------------------------


def all_of(*rules: ExerciseRule) -> ExerciseRule:
    """Exercised when every rule is; the first that is not says why."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        whys = []
        for r in rules:
            e = r(history, verdicts)
            if not e.done:
                return e
            whys.append(e.why)
        return Exercise(True, "; ".join(whys))

    return described(rule, "; ".join((r.__doc__ or "").strip() for r in rules))


def path_faults(f: str | None = None) -> ExerciseRule:
    """Operations (``f``) succeeded during every latency window, and calls were in flight
    during every timeout window (their outcome unknown: what a lost answer does). A history
    without fault windows (the external runtime injects none) asks nothing here: whether the
    case's faults were started at all is ``outcome.decide``'s check."""
    ok_latency = ok_in_every_window("latency")
    calls_timeout = ops_in_every_window("timeout", f)

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        names = {w.fault for w in history.fault_windows()}
        if not names:
            return Exercise(True, "no fault injected (none on this runtime)")
        parts = []
        if "latency" in names:
            parts.append(ok_latency(history, verdicts))
        if "timeout" in names:
            parts.append(calls_timeout(history, verdicts))
        missing = [p for p in parts if not p.done]
        if missing:
            return missing[0]
        return Exercise(True, "; ".join(p.why for p in parts) or "no path fault")

    return described(rule, "operations succeed during every latency window and calls are in "
                           "flight during every timeout window")


def ok_count(f: str, at_least: int = 1, what: str = "") -> ExerciseRule:
    """At least ``at_least`` acknowledged ``f`` operations (final ones included)."""

    def rule(history: History, verdicts: Verdicts) -> Exercise:
        n = sum(1 for c in history.complete() if c.f == f and c.type == "ok")
        text = what or f"acknowledged {f}s"
        return Exercise(n >= at_least, f"{n} {text}")

    return described(rule, f"at least {at_least} {what or f'acknowledged {f}'}")


def final_ok(history: History, verdicts: Verdicts) -> Exercise:
    """a final read (or drain) that succeeded"""
    finals = [c for c in history.complete() if c.is_final]
    ok = sum(1 for c in finals if c.type == "ok")
    if not finals:
        return Exercise(False, "no final read")
    if ok < len(finals):
        return Exercise(False, f"{len(finals) - ok} of {len(finals)} final reads failed")
    return Exercise(True, f"all {ok} final reads succeeded")


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


# --- SQS: receipts, holders, visibility ------------------------------------------------------


def receipts(history: History) -> Iterator[tuple[Completed, Any, Any]]:
    """(poll, key, message) for every message an ok poll received."""
    for c in history.complete():
        if c.f == "poll" and c.type == "ok":
            for _, _, message in c.value or ():
                yield c, c.key, message


def acked(history: History) -> set[Any]:
    return {c.invoke.value for c in history.complete() if c.f == "send" and c.type == "ok"}


@dataclass
class Holding:
    """A receipt and how long its consumer held the message (receive to delete)."""

    poll: Completed
    message: Any
    received_by: int  # ns: the receive had surely happened by then
    sent_at: int  # ns: the receive request left no earlier
    held_until: int  # ns: the delete was answered by then

    @property
    def process(self) -> Any:
        return self.poll.process


def received_by(c: Completed) -> int:
    """When a poll's receive had surely been answered: its invocation plus the ``received_ms``
    the client measured (a poll also holds and deletes what it got, which takes longer)."""
    assert c.completion is not None
    return c.invoke.time + int(float(c.completion.get("received_ms", 0)) * 1e6)


def holdings(history: History) -> dict[Any, list[Holding]]:
    out: dict[Any, list[Holding]] = defaultdict(list)
    for c, _, m in receipts(history):
        assert c.completion is not None
        out[m].append(Holding(c, m, received_by(c), c.invoke.time, c.completion.time))
    for hs in out.values():
        hs.sort(key=lambda h: h.sent_at)
    return out


@dataclass
class Holders:
    """Consumers that hold each message ``hold_s`` seconds (longer than the visibility timeout
    ``visibility_s``) before deleting it. The behaviour both visibility claims are about is a
    message whose timeout ran out while its consumer still held it, with another consumer
    asking for messages then: an *opportunity* (a poll by another process sent after the
    held message was surely visible again and answered before its holder deleted it)."""

    visibility_s: float
    hold_s: float

    def opportunities(self, history: History) -> list[tuple[Holding, Completed]]:
        polls = [(c, received_by(c)) for c in client_ops(history) if c.f == "poll"
                 and c.type == "ok" and c.completion is not None]
        out = []
        for held in holdings(history).values():
            for h in held:
                if h.poll.is_final:
                    continue
                visible = h.received_by + int(self.visibility_s * NS)
                deleted = h.received_by + int(self.hold_s * NS)  # the delete begins no sooner
                for p, got in polls:  # p's receive happened between its invoke and ``got``
                    if p.process != h.process and p.invoke.time >= visible and got <= deleted:
                        out.append((h, p))
        return out

    def exercise(self, history: History) -> Exercise:
        n = len(self.opportunities(history))
        return Exercise(n > 0, f"{n} polls by other consumers while a message held past its "
                               f"{self.visibility_s:g}s visibility timeout was still held")


@dataclass
class TwoHolders:
    """"Only one consumer can process a message at a time": refuted when a message was
    received by a consumer while another still held it (received, not yet deleted); upheld
    when, although other consumers polled while messages were held past their visibility
    timeout, none got a held message."""

    holders: Holders
    name: str = "two-holders"
    exercises: str = ("other consumers polled while a message was held past its visibility "
                      "timeout")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return self.holders.exercise(history)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        # A consumer's receive happened by received_by (when its answer arrived), and its
        # delete began hold_s after that answer: the one that received first still held the
        # message when the other received it if the later answer arrived before the earlier
        # one's delete began.
        hold = int(self.holders.hold_s * NS)
        overlaps = []
        for m, held in holdings(history).items():
            for a, b in itertools.combinations(held, 2):
                both = min(a.received_by, b.received_by) + hold - max(a.received_by,
                                                                       b.received_by)
                if a.process != b.process and both > 0:
                    overlaps.append((m, a, b, both))
        if overlaps:
            m, a, b, both = overlaps[0]
            text = (f"{len(overlaps)} times a message was held by two consumers at once, e.g. "
                    f"message {m} by consumers {a.process} and {b.process} for at least "
                    f"{both / NS:.2f}s (processing takes {self.holders.hold_s:g}s, "
                    f"visibility timeout {self.holders.visibility_s:g}s)")
            ops = [x for _, a, b, _ in overlaps for x in (a.poll, b.poll)]
            return Ruling(REFUTED, text, evidence("two-holders", ops, text))
        return Ruling(UPHELD, "no message was received while another consumer held it")


@dataclass
class RedeliveredAfterTimeout:
    """"After the visibility timeout the message is visible again and may be processed
    twice": refuted when a message came back sooner than its visibility timeout, or when it
    never came back although other consumers polled (and got nothing) while it was surely
    visible again, at least ``misses`` times; upheld when messages held past the timeout
    were received again, none sooner."""

    holders: Holders
    misses: int = 5
    name: str = "redelivered-after-timeout"
    exercises: str = ("other consumers polled while a message was held past its visibility "
                      "timeout")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        return self.holders.exercise(history)

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        vt = self.holders.visibility_s
        early, gaps = [], 0
        for m, held in holdings(history).items():
            for a, b in itertools.pairwise(held):
                longest = (b.received_by - a.sent_at) / NS  # the most the gap can have been
                if longest < vt - 0.05:
                    early.append((m, a, b, longest))
                gaps += 1
        if early:
            m, a, b, longest = early[0]
            text = (f"{len(early)} messages received again before the {vt:g}s visibility "
                    f"timeout, e.g. {m} within {longest:.2f}s")
            ops = [x for _, a, b, _ in early for x in (a.poll, b.poll)]
            return Ruling(REFUTED, text, evidence("early-redelivery", ops, text))
        if gaps:
            return Ruling(UPHELD, f"{gaps} redeliveries of messages held past the {vt:g}s "
                                  "visibility timeout, none earlier")
        empty = [p for _, p in self.holders.opportunities(history) if not p.value]
        if len(empty) >= self.misses:
            text = (f"no message was ever received again, although {len(empty)} polls by "
                    f"other consumers came back empty while a message held past its {vt:g}s "
                    "visibility timeout was visible again")
            return Ruling(REFUTED, text, evidence("never-redelivered", empty, text))
        return Ruling(INCONCLUSIVE, f"no message was received twice, and only {len(empty)} "
                                    "empty polls came while one should have been visible")


@dataclass
class FifoGroups:
    """SQS FIFO order per message group: if message a was acknowledged before b was sent (same
    group), b is not received before a. A poll receives, then deletes what it got, in one
    operation, so its completion says nothing about when it received: the receive happened
    between the poll's invocation and its ``received_ms``. b counts as received first only
    when its first receive surely ended before a's first receive began. Loss is the
    delivery checker's (``lost-message``). Exercised: two messages of one group sent one
    after the other and both received, and the path faults exercised."""

    name: str = "fifo-groups"
    exercises: str = ("two messages of one group sent one after the other, both received, and "
                      "the path faults exercised")

    def _pairs(self, history: History) -> Iterator[tuple[Completed, Completed, Completed,
                                                         Completed]]:
        """(send a, send b, first poll of a, first poll of b), a acked before b was sent."""
        first: dict[Any, Completed] = {}
        for c, _, m in receipts(history):
            if m not in first or c.invoke.time < first[m].invoke.time:
                first[m] = c
        sends: dict[Any, list[Completed]] = defaultdict(list)
        for c in history.complete():
            if c.f == "send" and c.type == "ok" and c.invoke.value in first:
                sends[c.key].append(c)
        for group in sends.values():
            group.sort(key=lambda c: c.invoke.time)
            for a, b in itertools.combinations(group, 2):
                if a.end is not None and a.end < b.invoke.time:
                    yield a, b, first[a.invoke.value], first[b.invoke.value]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        n = sum(1 for _ in self._pairs(history))
        if not n:
            return Exercise(False, "no two messages of one group sent one after the other "
                                   "were both received")
        faults = path_faults()(history, verdicts)
        return Exercise(faults.done, f"{n} ordered pairs of one group received; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        overtaken = [(a, b, pa, pb) for a, b, pa, pb in self._pairs(history)
                     if received_by(pb) < pa.invoke.time]
        if overtaken:
            a, b, _, _ = overtaken[0]
            text = (f"{len(overtaken)} messages received after a later one of their group, e.g. "
                    f"{a.invoke.value} (group {a.key}) after {b.invoke.value}")
            ops = [x for quad in overtaken for x in quad]
            return Ruling(REFUTED, text, evidence("reorder", ops, text))
        v = verdicts["delivery"]
        lost = [a for a in v.anomalies if a.kind in ("lost-message", "unexpected-message")]
        if lost:
            return Ruling(REFUTED, f"delivery: {len(lost)} messages lost or unexpected", lost)
        if v.result == "unknown":
            return Ruling(INCONCLUSIVE, f"delivery: {v.reason}")
        n = sum(1 for _ in self._pairs(history))
        return Ruling(UPHELD, f"{n} ordered pairs of messages of one group received in order; "
                              "none lost")


@dataclass
class Deduplicated:
    """FIFO deduplication: every message sent twice with one MessageDeduplicationId (within
    the 5-minute window) is received once; decided by the delivery checker's at-most-once
    part (``duplicate`` anomalies). Exercised: messages whose both sends were acknowledged,
    and a drain."""

    name: str = "deduplicated"
    exercises: str = "messages sent twice with one deduplication id, both acknowledged, and " \
                     "a drain that succeeded"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        twice = sum(1 for c in client_ops(history) if c.f == "send" and c.type == "ok"
                    and len((c.completion.get("message_ids") if c.completion else None) or ())
                    >= 2)
        drained = final_ok(history, verdicts)
        return Exercise(twice > 0 and drained.done,
                        f"{twice} messages sent twice and acknowledged twice; {drained.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        v = verdicts["delivery"]
        bad = [a for a in v.anomalies if a.kind in ("duplicate", "lost-message",
                                                   "unexpected-message")]
        if bad:
            kinds = sorted({a.kind for a in bad})
            dups = sum(1 for a in bad if a.kind == "duplicate")
            return Ruling(REFUTED, f"{dups} messages sent twice with one deduplication id were "
                                   f"received twice ({', '.join(kinds)})", bad)
        part = (v.details.get("guarantees") or {}).get("at-most-once") or {}
        if part.get("result", v.result) == "unknown":
            return Ruling(INCONCLUSIVE, f"delivery (at-most-once): "
                                        f"{part.get('reason') or v.reason}")
        return Ruling(UPHELD, "no message sent twice with one deduplication id was received "
                              "twice")


@dataclass
class DeadLetters:
    """A message never deleted is received at most ``max_receives`` times from its queue,
    then moves to the dead-letter queue, never sooner (the DLQ's ApproximateReceiveCount,
    carried over, says how often it was received in the source queue, also by receives whose
    answer was lost), and nothing reaches the DLQ that was not sent. Exercised: a message
    received ``max_receives`` times in the source queue and then found in the DLQ."""

    max_receives: int
    name: str = "dead-letters"
    exercises: str = ""

    def __post_init__(self) -> None:
        self.exercises = (f"a message received {self.max_receives} times in its queue, then "
                          "found in the dead-letter queue")

    def _counts(self, history: History) -> tuple[dict[Any, list[Completed]],
                                                 dict[Any, tuple[int, Completed]]]:
        main: dict[Any, list[Completed]] = defaultdict(list)
        arrived: dict[Any, tuple[int, Completed]] = {}
        for c in history.complete():
            if c.f != "poll" or c.type != "ok" or c.completion is None:
                continue
            counts = c.completion.get("receive_counts") or [None] * len(c.value or ())
            for (_, _, m), n in zip(c.value or (), counts, strict=True):
                if c.key == "dlq":
                    arrived.setdefault(m, ((n or 1) - 1, c))  # minus this receive from the DLQ
                else:
                    main[m].append(c)
        return main, arrived

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        main, arrived = self._counts(history)
        full = [m for m in arrived if len(main.get(m, ())) >= self.max_receives]
        return Exercise(bool(full), f"{len(arrived)} messages found in the dead-letter queue, "
                                    f"{len(full)} of them seen received {self.max_receives} "
                                    "times first")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        main, arrived = self._counts(history)
        over = {m: cs for m, cs in main.items() if len(cs) > self.max_receives}
        if over:
            m, cs = next(iter(over.items()))
            text = (f"{len(over)} messages received more than maxReceiveCount "
                    f"({self.max_receives}) times, e.g. {m} {len(cs)} times")
            return Ruling(REFUTED, text, evidence("received-too-often", cs, text))
        early = {m: (n, c) for m, (n, c) in arrived.items() if n < self.max_receives}
        if early:
            m, (n, _) = next(iter(early.items()))
            text = (f"{len(early)} messages reached the dead-letter queue before "
                    f"{self.max_receives} receives (e.g. {m} after {n})")
            return Ruling(REFUTED, text, evidence("dead-lettered-early",
                                                  [c for _, c in early.values()], text))
        sent = {c.invoke.value for c in history.complete()
                if c.f == "send" and c.type in ("ok", "info")}
        strays = {m: c for m, (_, c) in arrived.items() if m not in sent}
        if strays:
            text = f"{len(strays)} messages in the dead-letter queue were never sent"
            return Ruling(REFUTED, text, evidence("unexpected-message", list(strays.values()),
                                                  text))
        if not arrived:
            return Ruling(INCONCLUSIVE, "no message reached the dead-letter queue")
        return Ruling(UPHELD, f"{len(arrived)} messages moved to the dead-letter queue after "
                              f"exactly {self.max_receives} receives; none received more often")


# --- SNS ---------------------------------------------------------------------------------------


@dataclass
class EverySubscriber:
    """Every acknowledged publish reaches every subscribed queue (duplicates allowed).
    Exercised: publishes acknowledged, every queue drained to empty at the end (or a missing
    message could still be waiting in it), and the path faults exercised."""

    subscribers: Sequence[Any]
    name: str = "every-subscriber"
    exercises: str = ("acknowledged publishes, every subscriber queue drained to empty, and "
                      "the path faults exercised")

    def _drained(self, history: History) -> list[Any]:
        """The subscriber queues whose last final poll came back empty."""
        last: dict[Any, Completed] = {}
        for c in history.complete():
            if c.f == "poll" and c.is_final:
                last[c.key] = c
        return [q for q in self.subscribers if q in last and last[q].type == "ok"
                and not last[q].value]

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        sent = acked(history)
        drained = self._drained(history)
        why = (f"{len(sent)} publishes acknowledged; {len(drained)} of "
               f"{len(self.subscribers)} subscriber queues drained to empty")
        if not sent or len(drained) < len(self.subscribers):
            return Exercise(False, why)
        faults = path_faults("send")(history, verdicts)
        return Exercise(faults.done, f"{why}; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        sent = acked(history)
        if not sent:
            return Ruling(INCONCLUSIVE, "no publish was acknowledged")
        got: dict[Any, set[Any]] = {q: set() for q in self.subscribers}
        for _, key, m in receipts(history):
            got.setdefault(key, set()).add(m)
        missing = {q: sorted(sent - got[q]) for q in self.subscribers if sent - got[q]}
        if missing:
            drained = self._drained(history)
            if any(q not in drained for q in missing):
                return Ruling(INCONCLUSIVE, f"publishes missing from {sorted(missing)}, whose "
                                            "queues were not drained to empty")
            q, ms = next(iter(missing.items()))
            lost = set().union(*map(set, missing.values()))
            sends = [c for c in history.complete() if c.f == "send" and c.type == "ok"
                     and c.invoke.value in lost]
            text = (f"{len(lost)} acknowledged publishes missing from subscribers "
                    f"{sorted(missing)} (e.g. {q}: {ms[:5]})")
            return Ruling(REFUTED, text, evidence("lost-message", sends, text))
        return Ruling(UPHELD, f"each of {len(self.subscribers)} subscriber queues received all "
                              f"{len(sent)} acknowledged publishes")


# --- Kinesis -----------------------------------------------------------------------------------


def ordered_per_key(history: History, verdicts: Verdicts) -> Exercise:
    """records of one partition key acknowledged one after another, and read"""
    got = {m for _, _, m in receipts(history)}
    per_key: dict[Any, int] = defaultdict(int)
    for c in history.complete():
        if c.f == "send" and c.type == "ok" and c.invoke.value in got:
            per_key[c.key] += 1
    best = max(per_key.values(), default=0)
    return Exercise(best >= 2, f"at most {best} acknowledged records of one partition key read")


@dataclass
class SharedShard:
    """"Only one consumer per shard": refuted when two consumers (independent iterators)
    read the same records of one shard; upheld when consumers that polled after records
    were in a shard did not read the same ones (or were refused). Exercised: two consumers
    polled (whatever the answer) after ``at_least`` records of one shard were acknowledged."""

    at_least: int = 5
    name: str = "shared-shard"
    exercises: str = "two consumers polled after records of one shard were acknowledged"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        acks = sorted((c.end, c.completion.get("partition")) for c in client_ops(history)
                      if c.f == "send" and c.type == "ok" and c.end is not None
                      and c.completion is not None)
        count: dict[Any, int] = defaultdict(int)
        ready = None  # when some shard first held at_least acknowledged records
        for t, shard in acks:
            count[shard] += 1
            if count[shard] >= self.at_least:
                ready = t
                break
        if ready is None:
            return Exercise(False, f"no shard got {self.at_least} acknowledged records")
        pollers = {c.process for c in client_ops(history) if c.f == "poll"
                   and c.type in ("ok", "fail") and c.invoke.time >= ready}
        return Exercise(len(pollers) >= 2, f"{len(pollers)} consumers polled after a shard "
                                           f"held {self.at_least} records")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        seen: dict[tuple[Any, Any], dict[Any, Completed]] = defaultdict(dict)
        for c in client_ops(history):
            if c.f == "poll" and c.type == "ok":
                for shard, _, m in c.value or ():
                    seen[(shard, c.process)].setdefault(m, c)
        best: tuple[int, Any, Any, Any] = (0, None, None, None)
        for (s1, p1), (s2, p2) in itertools.combinations(seen, 2):
            if s1 == s2 and p1 != p2:
                common = len(seen[(s1, p1)].keys() & seen[(s2, p2)].keys())
                if common > best[0]:
                    best = (common, s1, p1, p2)
        common, shard, p1, p2 = best
        if common:
            shared = seen[(shard, p1)].keys() & seen[(shard, p2)].keys()
            ops = {id(c): c for m in shared for c in (seen[(shard, p1)][m], seen[(shard, p2)][m])}
            text = (f"consumers {p1} and {p2} both read the same {common} records of {shard}: "
                    "a shard has as many consumers as read it")
            return Ruling(REFUTED, text, evidence("shared-shard", list(ops.values()), text))
        return Ruling(UPHELD, "no two consumers read the same records of a shard")


# --- S3 ---------------------------------------------------------------------------------------


def read_after_write(history: History) -> list[tuple[Completed, Completed]]:
    """(write, read) for reads invoked after a write (or delete) of their key completed, with
    no other write of that key in flight since: reads that could have been stale, whatever
    they returned."""
    ops = sorted(client_ops(history), key=lambda c: c.invoke.time)
    writes = [c for c in ops if c.f == "write"]
    out = []
    for r in ops:
        if r.f != "read" or r.type != "ok":
            continue
        before = [w for w in writes if w.key == r.key and w.type == "ok" and w.end is not None
                  and w.end <= r.invoke.time]
        if not before:
            continue
        last = max(before, key=lambda w: w.end or 0)
        busy = any(w.key == r.key and w is not last and w.type != "fail"
                   and w.invoke.time < r.invoke.time
                   and (w.end is None or w.end > last.invoke.time) for w in writes)
        if not busy:
            out.append((last, r))
    return out


@dataclass
class StrongRefutesEventual:
    """"S3 is eventually consistent", read as "reads may miss a completed write": refuted
    when every read saw the latest completed put, overwrite or delete (the history is
    linearizable), as S3 promises since December 2020; upheld by a stale read. Exercised:
    reads made right after a completed write or delete of their key (where a stale answer
    could show), and the path faults exercised."""

    name: str = "strong-refutes-eventual"
    exercises: str = ("reads right after a completed write or delete of their key, of both "
                      "kinds, and the path faults exercised")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        pairs = read_after_write(history)
        deleted = sum(1 for w, _ in pairs if w.invoke.value is None)
        why = (f"{len(pairs)} reads right after a completed write of their key, {deleted} of "
               "them after a delete")
        if not deleted or deleted == len(pairs):
            return Exercise(False, why)
        faults = path_faults()(history, verdicts)
        return Exercise(faults.done, f"{why}; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        lin = verdicts["linearizable"]
        if lin.result == "unknown":
            return Ruling(INCONCLUSIVE, lin.reason or "linearizability unknown")
        if lin.result == "invalid":
            return Ruling(UPHELD, f"a read missed a completed write or delete: "
                                  f"{len(lin.anomalies)} anomalies")
        # No stale read: the refutation this claim expects, which only means something when
        # reads could have been stale (decide checks exercise for upheld alone).
        exercise = self.exercised(history, verdicts)
        if not exercise.done:
            return Ruling(INCONCLUSIVE, f"not exercised: {exercise.why} (needed: "
                                        f"{self.exercises})")
        rs = [r for _, r in read_after_write(history)]
        reads = sum(1 for c in client_ops(history) if c.f == "read" and c.type == "ok")
        text = (f"strong, not merely eventual: all {reads} reads saw the latest completed put, "
                f"overwrite or delete (linearizable), {len(rs)} of them right after it")
        return Ruling(REFUTED, text, evidence("read-after-write", rs, text))


@dataclass
class VersionsKept:
    """A versioned bucket keeps every acknowledged put as a version, readable by its version
    id, "even a deleted file": the loss half is the lost-writes checker's (every acknowledged
    put is among the versions the final read lists and reads back by id), the deletion half
    this judge's: each key is deleted (a delete marker) before its final read, which must
    find the object gone and still read every earlier version by its id. A version listed
    but unreadable refutes. Exercised: every key's final delete acknowledged, then its final
    read seeing it deleted and reading its earlier versions by id."""

    name: str = "versions-kept"
    exercises: str = ("each key deleted, then its earlier versions read back by version id, "
                      "and the path faults exercised")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        finals = [c for c in history.complete() if c.is_final]
        keys = {c.key for c in finals}
        done = []
        for k in keys:
            mine = [c for c in finals if c.key == k]
            dels = [c for c in mine if c.f == "delete" and c.type == "ok"]
            reads = [c for c in mine if c.f == "read" and c.type == "ok" and c.completion
                     and c.completion.get("deleted") and c.value
                     and dels and c.invoke.time >= (dels[-1].end or 0)]
            if reads:
                done.append(k)
        why = (f"{len(done)} of {len(keys)} keys deleted and then read back by version id "
               "(the object gone, its earlier versions there)")
        if not keys or len(done) < len(keys):
            return Exercise(False, why)
        # Any call during a timeout window (a read or delete too): the claim is about
        # acknowledged puts, which the latency windows give; under load a late timeout
        # window once caught no put.
        faults = path_faults()(history, verdicts)
        return Exercise(faults.done, f"{why}; {faults.why}")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        unreadable = [c for c in history.complete() if c.f == "read" and c.type == "ok"
                      and c.completion is not None and c.completion.get("unreadable")]
        if unreadable:
            text = (f"{len(unreadable)} reads listed versions they could not read by version "
                    f"id, e.g. {unreadable[0].completion.get('unreadable')}")  # type: ignore
            return Ruling(REFUTED, text, evidence("unreadable-version", unreadable, text))
        lost = verdicts["lost-writes"]
        if lost.result == "invalid":
            return Ruling(REFUTED, f"lost-writes: {len(lost.anomalies)} acknowledged versions "
                                   "missing", lost.anomalies)
        if lost.result == "unknown":
            return Ruling(INCONCLUSIVE, f"lost-writes: {lost.reason}")
        return Ruling(UPHELD, "every acknowledged put is a version, read back by its id after "
                              "its key was deleted")
