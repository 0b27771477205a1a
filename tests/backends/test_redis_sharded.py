"""Redis Cluster's pieces that need no server: the failover bound from cluster-node-timeout,
the resharding exercise rule, and the router that follows Sentinel's failovers."""

from __future__ import annotations

from pytest_sdconform.backends.redis.apps import FollowingRouter
from pytest_sdconform.backends.redis.sharded import cluster_rto_bound_s, keys_moved
from pytest_sdconform.history import History
from tests.compact import timed


def test_the_failover_bound_adds_detection_election_delay_election_and_cron() -> None:
    # 2 s node timeout: 3 s to FAIL, 1 s delay, 4 s election, 0.1 s cron.
    assert cluster_rto_bound_s(2000) == 8.1
    # A short timeout still allows the 2 s minimum election.
    assert cluster_rto_bound_s(500) == 0.75 + 1.0 + 2.0 + 0.1


def served(*nodes: str) -> History:
    events = ["1.0 n info reshard-start"]
    t = 1.1
    for i in range(len(nodes)):
        events += [f"{t:.1f} {i} invoke add k {i}", f"{t + 0.05:.2f} {i} ok add k {i}"]
        t += 0.1
    h = timed(*events, "3.0 n info reshard-stop")
    for op, node in zip([o for o in h.ops if o.type == "ok"], nodes, strict=True):
        op.node = node
    return h


def test_keys_moved_needs_a_key_served_by_two_nodes() -> None:
    moved = keys_moved()(served("n1", "n1", "n2"), {})
    assert moved.done and "1 keys moved" in moved.why
    stayed = keys_moved()(served("n1", "n1"), {})
    assert not stayed.done and "no slot with our keys moved" in stayed.why


def test_keys_moved_needs_calls_during_the_reshard() -> None:
    h = timed("0.1 1 invoke add k 1", "0.2 1 ok add k 1", "1.0 n info reshard-start",
              "3.0 n info reshard-stop")
    assert not keys_moved()(h, {}).done


def test_the_following_router_asks_again_after_its_period_and_after_an_error() -> None:
    answers = iter(["a", "b", "c"])
    router = FollowingRouter(lambda: next(answers), "fallback", every_s=3600)
    assert router.primary() == "a" and router.primary() == "a"  # cached
    router.forget()
    assert router.primary() == "b"
    eager = FollowingRouter(lambda: None, "fallback", every_s=0)
    assert eager.primary() == "fallback"  # no sentinel answered: the primary it was given
