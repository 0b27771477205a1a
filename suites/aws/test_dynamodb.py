"""DynamoDB claims (claims.md §5, §9) against moto's server, or real AWS with
``--sdconform-runtime external``.

Run: ``pytest --sdconform suites/aws``. moto is one strongly consistent process: claims it
cannot exhibit (eventual reads, client request tokens) come out ``inconclusive (emulator)``
here, and multi-AZ durability is listed untestable (configurations/aws.toml).
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from dataclasses import dataclass, field, replace

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, client, judges
from pytest_sdconform.backends.aws.resources import Resources
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.linearizable import LinearizabilityChecker
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.register import Register

pytestmark = pytest.mark.backend("dynamodb")

# Proving a latency fault takes seconds while moto is busy: 7 s of traffic, so that the
# faults overlap it even when CI asks for 5.
FAULTY = RunConfig(duration=7.0, quiet=0.5, fault_duration=2.0, op_timeout=3.0, settle=1.0)


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
    sdconform: Case, env: Env, path: aws.ClientPath
) -> None:
    _, resources = env
    table = resources.table("urls")
    ep = path.endpoint
    sdconform.run(
        ConditionalCreate(),
        lambda i: client.DynamoRegister(ep, table, timeout=1.0),
        path.latency_then_timeouts(),
        decide_by=["linearizable"],
        exercise=judges.all_of(judges.path_faults(), judges.conflicts("cas")),
        config={"path": path.describe(), "condition": "attribute_not_exists(k)"},
        run=FAULTY,
    )


@dataclass
class VersionedUpdates:
    """Optimistic updates racing on a few keys: each ``cas`` expects one of the last few
    values proposed for its key (what a client that just read it would expect), so that
    concurrent updates from one version both win and lose; blind writes (a fifth) keep the
    current value among the recent ones. Every value is unique."""

    name = "versioned-updates"
    keys: int = 2
    window: int = 3
    _values: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _recent: dict[str, list[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_op(self, rng: random.Random) -> Invocation:
        key = f"item{rng.randrange(self.keys)}"
        u = rng.random()
        if u < 0.3:
            return Invocation("read", key)
        with self._lock:
            value = next(self._values)
            recent = self._recent.setdefault(key, [])
            expected = rng.choice(recent) if recent else None
            recent.append(value)
            del recent[: -self.window]
        if u < 0.5 or expected is None:
            return Invocation("write", key, value)
        return Invocation("cas", key, [expected, value])

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", f"item{k}") for k in range(self.keys)]

    def checkers(self) -> list[Checker]:
        return [LinearizabilityChecker("cas-register", 60.0)]


@pytest.mark.claim("ddb-occ-versioning")
def test_version_conditioned_updates_lose_no_update(
    sdconform: Case, env: Env, path: aws.ClientPath
) -> None:
    """Read-modify-write guarded by ``v = :expected``: a conflicting update fails, none is lost
    (the history must be linearizable as a compare-and-set register)."""
    _, resources = env
    table = resources.table("occ")
    ep = path.endpoint
    sdconform.run(
        VersionedUpdates(),
        lambda i: client.DynamoRegister(ep, table, timeout=1.0),
        path.latency_then_timeouts(),
        decide_by=["linearizable"],
        exercise=judges.all_of(judges.path_faults(), judges.conflicts("cas")),
        config={"condition": "v = :expected", "expected": "one of the last 3 values proposed"},
        run=FAULTY,
    )


@pytest.mark.claim("ddb-ryw-consistentread")
def test_consistent_reads_read_your_writes(sdconform: Case, env: Env, path: aws.ClientPath) -> None:
    _, resources = env
    table = resources.table("ryw")
    ep = path.endpoint
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        lambda i: client.DynamoRegister(ep, table, consistent=True, timeout=1.0),
        path.latency(),
        decide_by=["sessions", "linearizable"],
        exercise=judges.all_of(judges.path_faults(), judges.read_after_own_write),
        config={"ConsistentRead": True},
        run=FAULTY,
    )


EVENTUAL = (
    "moto is one process with one copy of each item: a read with ConsistentRead=false "
    "cannot be stale there, so neither the eventual reads nor the strong ones mean "
    "what they mean on DynamoDB's three replicas"
)


@pytest.mark.claim("ddb-strong-or-eventual-read")
def test_strong_reads_are_linearizable_beside_eventual_ones(sdconform: Case, env: Env) -> None:
    """Strong reads and writes must be linearizable, eventual reads may be stale. On moto
    nothing can be stale: inconclusive (emulator); on AWS the judge decides."""
    cluster, resources = env
    table = resources.table("eventual")
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Register(keys=2, read_ratio=0.6),
        lambda i: client.DynamoRegister(ep, table, consistent=i % 2 == 0),
        [],
        judge=judges.StrongReadsLinearizable(),
        emulator_limit=EVENTUAL if aws.is_emulator(cluster) else None,
        config={"ConsistentRead": "on for even workers, off for odd"},
    )


# --- transactions ----------------------------------------------------------------------------

# A snapshot is one TransactGetItems of every account. moto refuses more than 25 items in a
# TransactGetItems (the emulator's limit; AWS's is 100, like TransactWriteItems'), so 24
# accounts; transactions reach their size with ConditionCheck items on keys that never exist
# (each counts as one of the transaction's items, and writes nothing).
ACCOUNTS = [f"acct{i}" for i in range(24)]
BALANCE = 100
CLAIMED_ITEMS = 10  # the claim: "transactions ... with up to 10 items"
AWS_ITEMS = 100  # AWS: 100 actions per TransactWriteItems since 2022 (moto 5 enforces 100 too)
OVER = 1_000_000  # what an over-limit transaction adds to every account (see judges.Ledger)
LEDGER = judges.Ledger(len(ACCOUNTS), BALANCE, OVER)
EMULATOR_LIMITS = {
    "TransactWriteItems": f"AWS {AWS_ITEMS} items; moto enforces {AWS_ITEMS}",
    "TransactGetItems": "AWS 100 items; moto enforces 25 (the emulator's): 24 accounts",
}


@dataclass
class Transfers:
    """Transactions of 2 to 110 items: transfers among the accounts (deltas summing to zero,
    padded with ConditionChecks beyond 24 items) up to AWS's limit of 100 items, and, one in
    ten, transactions over it (101-110 items, adding ``OVER`` to every account), which the
    service must reject whole; snapshot reads of every account in between."""

    name = "transfers"

    def next_op(self, rng: random.Random) -> Invocation:
        if rng.random() < 0.25:
            return Invocation("read", "accounts")
        u = rng.random()
        if u < 0.1:
            n = rng.randint(AWS_ITEMS + 1, AWS_ITEMS + 10)
            items = [["add", a, OVER] for a in ACCOUNTS]
        else:
            n = rng.randint(2, CLAIMED_ITEMS) if u < 0.45 else rng.randint(CLAIMED_ITEMS + 1,
                                                                            AWS_ITEMS)
            chosen = rng.sample(ACCOUNTS, rng.randint(2, min(n, len(ACCOUNTS))))
            deltas = [rng.randint(-30, 30) for _ in chosen[1:]]
            deltas.insert(0, -sum(deltas))
            items = [["add", a, d] for a, d in zip(chosen, deltas, strict=True)]
        items += [["check", f"spare{i}", None] for i in range(n - len(items))]
        return Invocation("txn", None, items)

    def final_ops(self) -> list[Invocation]:
        return [Invocation("read", "accounts")]

    def checkers(self) -> list[Checker]:
        return []


def seed_accounts(resources: Resources, table: str) -> None:
    ddb = resources.client("dynamodb")
    for a in ACCOUNTS:
        ddb.put_item(TableName=table, Item={"k": {"S": a}, "b": {"N": str(BALANCE)}})


@pytest.mark.claim("ddb-transactions", config="all-or-nothing")
def test_transactions_are_all_or_nothing(sdconform: Case, env: Env, path: aws.ClientPath) -> None:
    """Every snapshot holds the total: no transaction applied in part, whether committed,
    cancelled by a condition, rejected as too large, or of unknown outcome (timeouts)."""
    _, resources = env
    table = resources.table("bank")
    seed_accounts(resources, table)
    ep = path.endpoint
    sdconform.run(
        Transfers(),
        lambda i: client.DynamoTransfers(ep, table, ACCOUNTS, 2.0),
        # Timeouts make transactions of unknown outcome, which must still be all or nothing.
        # (No latency here: large transactions keep moto so busy that the latency proof,
        # a round trip through moto, cannot tell the delay from the queue.)
        path.timeouts(),
        judge=judges.AllOrNothing(LEDGER),
        checkers=[],
        config={"accounts": len(ACCOUNTS), "items_per_txn": f"2-{AWS_ITEMS + 10}",
                "limits": EMULATOR_LIMITS},
        run=replace(FAULTY, op_delay=0.02),
    )


@pytest.mark.claim("ddb-transactions")
def test_transactions_are_not_limited_to_ten_items(sdconform: Case, env: Env) -> None:
    """The claim's limit of 10 items: refuted when transactions of 11 to 100 items (AWS's
    limit) commit whole; those over 100 must be rejected whole."""
    cluster, resources = env
    table = resources.table("big")
    seed_accounts(resources, table)
    ep = aws.endpoint(cluster)
    sdconform.run(
        Transfers(),
        lambda i: client.DynamoTransfers(ep, table, ACCOUNTS, 3.0),
        [],
        judge=judges.ItemLimit(LEDGER, claimed=CLAIMED_ITEMS, limit=AWS_ITEMS),
        checkers=[],
        config={"claimed_items": CLAIMED_ITEMS, "aws_items": AWS_ITEMS,
                "items_per_txn": f"2-{AWS_ITEMS + 10}", "limits": EMULATOR_LIMITS},
        run=RunConfig(op_delay=0.02, settle=0.5),
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


TOKENS = (
    "moto ignores ClientRequestToken (no idempotency window): each resubmission applies "
    "again, which says nothing about DynamoDB's 10-minute window"
)


@pytest.mark.claim("ddb-client-token")
def test_client_request_token_applies_a_resubmitted_transaction_once(
    sdconform: Case, env: Env
) -> None:
    cluster, resources = env
    table = resources.table("tokens")
    seed_accounts(resources, table)
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = aws.endpoint(cluster)
    sdconform.run(
        TokenIncrements(),
        lambda i: client.DynamoTransfers(
            ep, table, [ACCOUNTS[0]], token=lambda op: str(op.key), submissions=2
        ),
        [],
        judge=judges.OncePerToken(BALANCE),
        emulator_limit=TOKENS if aws.is_emulator(cluster) else None,
        checkers=[],
        config={"submissions_per_token": 2},
    )
