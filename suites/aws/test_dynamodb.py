"""DynamoDB claims (claims.md §5, §9) against moto's server, or real AWS with
SDCONFORM_AWS_RUNTIME=external.

Run: ``pytest --sdconform suites/aws``. moto is one strongly consistent process: claims about
replication (eventual reads, multi-AZ durability) come out ``inconclusive (emulator)`` here.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import clients
from pytest_sdconform.backends.aws.resources import Resources
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.linearizable import LinearizabilityChecker
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History, renumber
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD, decide
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("dynamodb")

# Proving a latency fault takes seconds while moto is busy: 7 s of traffic, so that the
# faults overlap it even when CI asks for 5.
FAULTY = {"duration": 7.0, "quiet": 0.5, "fault_duration": 2.0, "op_timeout": 3.0, "settle": 1.0}


@dataclass
class ConditionalCreate:
    """Create-if-absent races: every few operations a new key, which all workers then try to
    create (PutItem with attribute_not_exists) with values of their own, and read."""

    name = "conditional-create"
    per_key: int = 8
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: int = 0

    def next_op(self, rng: random.Random) -> Invocation:
        with self._lock:
            n = next(self._n)
            self._last = n
        key = f"url{n // self.per_key}"
        if rng.random() < 0.3:
            return Invocation("read", key)
        return Invocation("cas", key, [None, n])

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", f"url{k}") for k in range(self._last // self.per_key + 1)]

    def checkers(self) -> list[Checker]:
        return [LinearizabilityChecker("cas-register", 60.0)]


@pytest.mark.claim("ddb-conditional-put")
def test_conditional_put_has_one_winner_under_latency_and_timeouts(
    sdconform: Any, env: Any, path: aws.ClientPath
) -> None:
    _, resources = env
    table = resources.table("urls")
    ep = path.endpoint
    sdconform.run(
        ConditionalCreate(),
        lambda i: clients.DynamoRegister(ep, table, timeout=1.0),
        path.latency_then_timeouts(),
        decide_by=["linearizable"],
        config={"path": path.describe(), "condition": "attribute_not_exists(k)"},
        **FAULTY,
    )


@pytest.mark.claim("ddb-occ-versioning")
def test_version_conditioned_updates_lose_no_update(
    sdconform: Any, env: Any, path: aws.ClientPath
) -> None:
    """Read-modify-write guarded by ``v = :expected``: a conflicting update fails, none is lost
    (the history must be linearizable as a compare-and-set register)."""
    _, resources = env
    table = resources.table("occ")
    ep = path.endpoint
    sdconform.run(
        Register(keys=2, read_ratio=0.3, cas_ratio=0.5),
        lambda i: clients.DynamoRegister(ep, table, timeout=1.0),
        path.latency_then_timeouts(),
        decide_by=["linearizable"],
        config={"condition": "v = :expected"},
        **FAULTY,
    )


@pytest.mark.claim("ddb-ryw-consistentread")
def test_consistent_reads_read_your_writes(sdconform: Any, env: Any, path: aws.ClientPath) -> None:
    _, resources = env
    table = resources.table("ryw")
    ep = path.endpoint
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        lambda i: clients.DynamoRegister(ep, table, consistent=True, timeout=1.0),
        path.latency(),
        decide_by=["sessions", "linearizable"],
        config={"ConsistentRead": True},
        **FAULTY,
    )


EVENTUAL = (
    "moto is one process with one copy of each item: a read with ConsistentRead=false "
    "cannot be stale there, so neither the eventual reads nor the strong ones mean "
    "what they mean on DynamoDB's three replicas"
)


def strong_reads_only(history: History) -> History:
    """The history without the reads made with ConsistentRead=false (their completions say
    ``consistent_read: false``): those may rightly be stale."""
    drop = set()
    for c in history.complete():
        done = c.completion
        if c.f == "read" and done is not None and done.get("consistent_read") is False:
            drop.update((c.invoke.index, done.index))
    return History(renumber([replace(op) for op in history.ops if op.index not in drop]))


def strong_reads_linearizable(cluster: Any) -> Any:
    """Strong reads and writes must be linearizable (eventual reads may be stale). On the
    emulator never upheld: nothing there can be stale, whatever ConsistentRead says."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        strong = {
            "linearizable": LinearizabilityChecker("cas-register", 60.0).check(
                strong_reads_only(history)
            )
        }
        limit = EVENTUAL if aws.is_emulator(cluster) else None
        d = decide(strong, ["linearizable"], history, need_faults=False, emulator_limit=limit)
        return d.outcome, d.reason

    return judge


@pytest.mark.claim("ddb-strong-or-eventual-read", expected=aws.expected())
def test_eventual_reads_cannot_be_exhibited_by_an_emulator(sdconform: Any, env: Any) -> None:
    cluster, resources = env
    table = resources.table("eventual")
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        lambda i: clients.DynamoRegister(ep, table, consistent=i % 2 == 0),
        [],
        judge=strong_reads_linearizable(cluster),
        config={"ConsistentRead": "on for even workers, off for odd"},
    )


# --- transactions ----------------------------------------------------------------------------

ACCOUNTS = [f"acct{i}" for i in range(16)]
BALANCE = 100


@dataclass
class Transfers:
    """Transactions moving money among accounts, 2 to 16 items each (deltas sum to zero), and
    snapshot reads of every account: the total must never change."""

    name = "transfers"

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < 0.3:
            return Invocation("read", "accounts")
        chosen = rng.sample(ACCOUNTS, rng.randint(2, len(ACCOUNTS)))
        deltas = [rng.randint(-30, 30) for _ in chosen[1:]]
        deltas.insert(0, -sum(deltas))
        return Invocation("txn", None, [["add", a, d] for a, d in zip(chosen, deltas, strict=True)])

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", "accounts")]

    def checkers(self) -> list[Checker]:
        return []


def seed_accounts(resources: Resources, table: str) -> None:
    ddb = resources.client("dynamodb")
    for a in ACCOUNTS:
        ddb.put_item(TableName=table, Item={"k": {"S": a}, "b": {"N": str(BALANCE)}})


def all_or_nothing(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Every snapshot, and the final state, sums to the starting total (no transaction
    applied in part, cancelled ones not at all); then the claimed limit of 10 items is
    tested by what the service accepted."""
    total = BALANCE * len(ACCOUNTS)
    reads = [c for c in history.complete() if c.f == "read" and c.type == "ok"]
    broken = [c for c in reads if sum(b or 0 for b in c.value) != total]
    if broken:
        final = " (the final state too)" if any(c.is_final for c in broken) else ""
        return REFUTED, (
            f"{len(broken)} of {len(reads)} snapshots do not sum to {total}{final}: "
            "a transaction was applied in part"
        )
    committed = [len(c.invoke.value) for c in history.complete() if c.f == "txn" and c.type == "ok"]
    cancelled = sum(1 for c in history.complete() if c.f == "txn" and c.type == "fail")
    big = [n for n in committed if n > 10]
    if not any(c.is_final for c in reads) or not committed:
        return INCONCLUSIVE, "no final snapshot or no committed transaction"
    held = (
        f"all-or-nothing held in {len(reads)} snapshots ({len(committed)} committed, "
        f"{cancelled} cancelled by a condition)"
    )
    if big:
        return REFUTED, (
            f"{held}, but the limit of 10 items is outdated: {len(big)} transactions of up "
            f"to {max(big)} items committed (the limit is 100 since 2022)"
        )
    return UPHELD, f"{held}; no transaction above 10 items committed"


@pytest.mark.claim("ddb-transactions")
def test_transactions_are_all_or_nothing_and_exceed_ten_items(
    sdconform: Any, env: Any, path: aws.ClientPath
) -> None:
    _, resources = env
    table = resources.table("bank")
    seed_accounts(resources, table)
    ep = path.endpoint
    sdconform.run(
        Transfers(),
        lambda i: clients.DynamoTransfers(ep, table, ACCOUNTS, 1.0),
        # Timeouts make transactions of unknown outcome, which must still be all or nothing.
        # (No latency here: 16-item transactions keep moto so busy that the latency proof,
        # a round trip through moto, cannot tell the delay from the queue.)
        path.timeouts(),
        judge=all_or_nothing,
        checkers=[],
        config={"accounts": len(ACCOUNTS), "items_per_txn": f"2-{len(ACCOUNTS)}"},
        op_delay=0.02,
        **FAULTY,
    )


@dataclass
class TokenIncrements:
    """Each op adds 1 to one counter in a transaction with a fresh ClientRequestToken; the
    client submits it twice, as a retry after a lost answer would."""

    name = "token-increments"

    def next_op(self, rng: random.Random) -> Invocation:
        return Invocation(
            "txn", str(uuid.UUID(int=rng.getrandbits(128))), [["add", ACCOUNTS[0], 1]]
        )

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", "accounts")]

    def checkers(self) -> list[Checker]:
        return []


def once_per_token(cluster: Any) -> Any:
    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        done = [c for c in history.complete() if c.f == "txn"]
        ok = sum(c.type == "ok" for c in done)
        maybe = sum(c.type == "info" for c in done)
        finals = [c for c in history.complete() if c.f == "read" and c.type == "ok"]
        if not finals or not ok:
            return INCONCLUSIVE, "no final read of the counter, or no transaction committed"
        applied = finals[-1].value[0] - BALANCE
        if ok <= applied <= ok + maybe:
            return UPHELD, f"{ok} tokens submitted twice each, the counter rose by {applied}"
        if applied > ok + maybe and aws.is_emulator(cluster):
            return INCONCLUSIVE, (
                f"inconclusive (emulator): the counter rose by {applied} for "
                f"{ok} tokens: moto ignores ClientRequestToken (no "
                "idempotency window), so the claim cannot be tested on it"
            )
        return REFUTED, f"the counter rose by {applied} for {ok} tokens (+{maybe} unknown)"

    return judge


@pytest.mark.claim("ddb-client-token", expected=aws.expected())
def test_client_request_token_applies_a_resubmitted_transaction_once(
    sdconform: Any, env: Any
) -> None:
    """On moto the token is ignored (each resubmission applies again): inconclusive, marked
    emulator; against real AWS expect upheld."""
    cluster, resources = env
    table = resources.table("tokens")
    seed_accounts(resources, table)
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = aws.endpoint(cluster)
    sdconform.run(
        TokenIncrements(),
        lambda i: clients.DynamoTransfers(
            ep, table, [ACCOUNTS[0]], token=lambda op: str(op.key), submissions=2
        ),
        [],
        judge=once_per_token(cluster),
        checkers=[],
        config={"submissions_per_token": 2},
    )


# --- durability ------------------------------------------------------------------------------


def restart_loses_everything(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    kills = [w for w in history.fault_windows() if w.fault == "kill"]
    if not kills:
        return INCONCLUSIVE, "the emulator was never killed"
    before = [
        c
        for c in history.complete()
        if c.type == "ok"
        and c.f in ("write", "cas")
        and c.end is not None
        and c.end < kills[0].start
    ]
    finals = [c for c in history.complete() if c.is_final]
    lost = sum(1 for c in finals if c.type != "ok" or c.value is None)
    return INCONCLUSIVE, (
        f"inconclusive (emulator): moto keeps its state in memory and restarts empty "
        f"({len(before)} writes acknowledged before the kill; {lost} of {len(finals)} final "
        "reads found nothing, the table itself gone). That is moto, not DynamoDB's "
        "three-AZ replication, which a single local process cannot exhibit"
    )


@pytest.mark.claim("ddb-multi-az-durable", expected=aws.expected())
def test_an_emulator_restart_says_nothing_about_multi_az_durability(
    sdconform: Any, env: Any
) -> None:
    cluster, resources = env
    table = resources.table("durable")
    kill = sdconform.fault(lambda: aws.kill_emulator(cluster))
    sdconform.config["emulator"] = True
    ep = aws.endpoint(cluster)
    sdconform.run(
        Register(keys=2, read_ratio=0.3),
        lambda i: clients.DynamoRegister(ep, table, timeout=1.0),
        [kill],
        judge=restart_loses_everything,
        checkers=[],
        fault_duration=1.0,
        quiet=1.5,
        op_timeout=3.0,
    )
    # the restarted moto has none of this case's resources: nothing to delete
    resources.created.clear()
