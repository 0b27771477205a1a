"""Generic claim gen-chat-dedup (claims.md §1): an offline chat store written to two storage
partitions in parallel, read back from both, merged and de-duplicated by message id, so each
message reaches the device once. The two partitions are two independent Redis servers without
persistence (a killed one comes back empty).

Run: ``pytest --sdconform suites/generic``. Senders push each message to both stores and are
acknowledged once one of them took it; the device polls both, merges and drops what it has
already delivered. One store is killed (its copies are gone for good) while messages keep
coming; the final drain polls both. Decided by the delivery checker: every acknowledged
message received (none lost), none received twice.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_sdconform.backends import redis as rb
from pytest_sdconform.case import Case
from pytest_sdconform.checkers.judge import (
    Exercise,
    ExerciseRule,
    acked_before_every_window,
    described,
    ok_in_every_window,
)
from pytest_sdconform.history import History
from pytest_sdconform.nodes.routes import via
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation, Result
from pytest_sdconform.workloads.log import Log

pytestmark = pytest.mark.backend("redis")

INBOX = "inbox"
RUN = RunConfig(quiet=1.5, fault_duration=2.0, op_delay=0.005)


class Device:
    """The recipient's device: what it has delivered, and how far it read each store (a store
    that restarted, seen by its new ``run_id``, is read again from the start)."""

    def __init__(self, stores: int, dedup: bool) -> None:
        self.lock = threading.Lock()
        self.dedup = dedup
        self.delivered: list[set[int]] = [set() for _ in range(1 if dedup else stores)]
        self.cursor = [0] * stores
        self.run_id: list[str | None] = [None] * stores


class ChatStoresClient:
    """Sends go to every store (``RPUSH``), acknowledged when one took them: ``fail`` when every
    store refused the connection, ``info`` when none acknowledged but one may have applied it.
    A poll reads each store from the device's cursor, merges, and hands over what the device
    has not delivered yet (by message id; without ``dedup`` each store's copy counts apart)."""

    def __init__(self, stores: Sequence[str], device: Device, timeout: float = 0.5) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._redis = redis
        self.stores = [redis.Redis(*via(a, rb.PORT), socket_timeout=timeout,
                                   socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
                       for a in stores]
        self.device = device

    def invoke(self, op: Invocation) -> Result:
        if op.f == "send":
            return self._send(int(op.value))
        if op.f == "poll":
            return self._poll()
        raise ValueError(f"chat stores: no operation {op.f!r} (send, poll)")

    def _send(self, message: int) -> Result:
        acked, maybe, errors = 0, False, []
        for r in self.stores:
            try:
                r.rpush(INBOX, message)
                acked += 1
            except self._redis.ConnectionError as e:
                maybe = maybe or "refused" not in str(e).lower()
                errors.append(str(e))
            except self._redis.TimeoutError as e:
                maybe = True
                errors.append(str(e))
        if acked:
            return Result("ok", extra={"stores_acked": acked})
        return Result("info" if maybe else "fail", error="; ".join(errors))

    def _poll(self) -> Result:
        d = self.device
        out: list[list[Any]] = []
        answered = 0
        with d.lock:
            for i, r in enumerate(self.stores):
                try:
                    run_id = str(r.info("server")["run_id"])
                    if run_id != d.run_id[i]:
                        d.run_id[i], d.cursor[i] = run_id, 0
                    batch = r.lrange(INBOX, d.cursor[i], -1)
                except (self._redis.ConnectionError, self._redis.TimeoutError):
                    continue
                answered += 1
                d.cursor[i] += len(batch)
                seen = d.delivered[0 if d.dedup else i]
                for raw in batch:
                    message = int(raw)
                    if message not in seen:
                        seen.add(message)
                        out.append([None, None, message])
        if not answered:
            return Result("fail", error="no store answered")
        return Result("ok", out)

    def close(self) -> None:
        for r in self.stores:
            r.close()


def all_of(*rules: ExerciseRule) -> ExerciseRule:
    def rule(history: History, verdicts: Any) -> Exercise:
        found = [r(history, verdicts) for r in rules]
        return Exercise(all(e.done for e in found), "; ".join(e.why for e in found))

    return described(rule, "; ".join(r.__doc__ or "" for r in rules))


# Messages acknowledged before the kill (n1's copies of them are lost with it) and while n1 is
# down (n2 alone holds them), and a final drain: what the claim's "no loss" is about.
EXERCISE = all_of(acked_before_every_window("send", "kill"), ok_in_every_window("kill"))


def chat_case(sdconform: Case, dedup: bool) -> None:
    # Two servers of one case (a case's nodes share its run): the second starts as a replica
    # and is made a primary of its own before any message, so they share nothing. Only n1 is
    # killed: it restarts empty and standalone (n2's restart would resync it from n1).
    cluster = sdconform.start(rb.Topology(replicas=1))
    stores = [cluster.info.addresses["n1"], cluster.info.addresses["n2"]]
    with rb.admin(stores[1]) as r:
        r.execute_command("REPLICAOF", "NO", "ONE")
        r.flushall()
    device = Device(len(stores), dedup)
    sdconform.run(Log(poll_ratio=0.3), lambda i: ChatStoresClient(stores, device),
                  [cluster.kill(["n1"])],
                  decide_by=["delivery"], exercise=EXERCISE,
                  run=RUN,
                  config={"stores": "two Redis servers, no persistence",
                          "ack": "after one store took the message",
                          "device": "merges both stores" + (", de-duplicates by message id"
                                                            if dedup else ", no de-duplication")})


@pytest.mark.claim("gen-chat-dedup")
def test_two_stores_merged_and_deduplicated_deliver_each_message_once(sdconform: Case) -> None:
    """One store is killed and comes back empty: every message it lost is still in the other,
    and the device, de-duplicating by id, receives each acknowledged message exactly once."""
    chat_case(sdconform, dedup=True)


@pytest.mark.claim("gen-chat-dedup", config="no-dedup")
def test_two_stores_merged_without_dedup_deliver_messages_twice(sdconform: Case) -> None:
    """The same stores, a device that merges without the de-duplication step: a message held
    by both stores reaches it twice."""
    chat_case(sdconform, dedup=False)
