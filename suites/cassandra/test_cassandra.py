"""Cassandra claims (claims.md §4) against a real three-node Cassandra 5.0 cluster.

Run: ``pytest --sdconform suites/cassandra``. A JVM cluster takes about a minute to start on two
cores, so every test shares one cluster (``shared=True``) and uses keys of its own; each test
first waits until every node sees its peers up again (after a kill or a partition of the test
before). The keyspace has RF=3. Clients never retry; each statement carries its consistency
level. Where a claim holds only under some consistency level, the test says which.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pytest_sdconform.backends import cassandra as cb
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.history import History, window_lookup
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("cassandra")

# One cluster for every test of the session (JVM start-up dominates on two cores).
TOPOLOGY = cb.Topology()
NODES = ["n1", "n2", "n3"]
_prefixes = itertools.count(1)


def cluster_for(sdconform: Any) -> tuple[Any, dict[str, str]]:
    cluster = sdconform.start(TOPOLOGY, shared=True)
    waited = cb.healthy(cluster)
    sdconform.config.update(
        cluster_start_s=cluster.info["start_s"], healthy_wait_s=round(waited, 1)
    )
    return cluster, cluster.info["addresses"]


def prefix(name: str, owner: int | None = None, keys: int = 1) -> str:
    """A key prefix of the test's own; with ``owner``, every key's first replica is that node
    (so a read at ONE through a coordinator that is that node reads its own copy)."""
    while True:
        p = f"{name}{next(_prefixes)}-"
        if owner is None or all(
            cb.first_replica(f"{p}{i}", len(NODES)) == owner for i in range(keys)
        ):
            return p


def isolate_n3(sdconform: Any, cluster: Any) -> Any:
    return sdconform.fault(lambda: cluster.partition(cuts=[isolate(NODES, "n3")]))


def clients(
    sdconform: Any,
    coordinators: Callable[[int], Sequence[str] | str],
    final: Sequence[str] | str | None = None,
    final_cl: str | None = None,
    **kwargs: Any,
) -> Callable[[int], cb.CqlClient]:
    """Client ``i`` talks to ``coordinators(i)``; the final reader (index = concurrency) to
    ``final`` at ``final_cl`` when given."""
    workers = sdconform.session.options.concurrency

    def make(i: int) -> cb.CqlClient:
        if i >= workers and final is not None:
            return cb.CqlClient(
                final, **{**kwargs, "read_cl": final_cl or kwargs.get("read_cl", "QUORUM")}
            )
        return cb.CqlClient(coordinators(i), index=i, **kwargs)

    return make


# --- consistency levels: stale reads and read-your-writes ------------------------------------


@pytest.mark.claim("cass-quorum-intersection", expected="refuted")
def test_reads_at_one_go_stale_under_partition(sdconform: Any) -> None:
    """R + W <= N (ONE/ONE): a load-balanced client writes through one node and reads through
    another; with n3 cut off, its reads there miss its own writes."""
    cluster, addresses = cluster_for(sdconform)
    everyone = list(addresses.values())
    sdconform.run(
        Register(keys=2, prefix=prefix("one"), read_ratio=0.6),
        clients(sdconform, lambda i: everyone, read_cl="ONE", write_cl="ONE"),
        [isolate_n3(sdconform, cluster)],
        decide_by=["sessions"],
        quiet=1.0,
        fault_duration=4.0,
        config={"read_cl": "ONE", "write_cl": "ONE", "coordinators": "all nodes"},
    )


@pytest.mark.claim("cass-quorum-intersection")
def test_quorum_reads_and_writes_keep_read_your_writes(sdconform: Any) -> None:
    """R + W > N (QUORUM/QUORUM). Read-your-writes decides; linearizability is checked too and
    reported (Cassandra does not promise it without LWT: a timed-out write may surface later)."""
    cluster, addresses = cluster_for(sdconform)
    everyone = list(addresses.values())
    sdconform.run(
        Register(keys=2, prefix=prefix("quorum"), read_ratio=0.6),
        clients(sdconform, lambda i: everyone, read_cl="QUORUM", write_cl="QUORUM"),
        [isolate_n3(sdconform, cluster)],
        decide_by=["sessions"],
        quiet=1.0,
        fault_duration=4.0,
        config={
            "read_cl": "QUORUM",
            "write_cl": "QUORUM",
            "coordinators": "all nodes",
            "linearizable": "checked, not deciding",
        },
    )


# --- lightweight transactions ----------------------------------------------------------------

LWT = Register(keys=2, read_ratio=0.4, cas_ratio=0.4)


def lwt_case(
    sdconform: Any, cluster: Any, addresses: dict[str, str], fault: Any, **run: Any
) -> None:
    everyone = list(addresses.values())
    workload = Register(
        keys=LWT.keys, prefix=prefix("lwt"), read_ratio=LWT.read_ratio, cas_ratio=LWT.cas_ratio
    )
    sdconform.run(
        workload,
        clients(sdconform, lambda i: everyone, lwt=True),
        [fault],
        decide_by=["linearizable"],
        config={
            "writes": "LWT (IF ...), consistency QUORUM, serial SERIAL",
            "reads": "SERIAL",
            "coordinators": "all nodes",
        },
        **run,
    )


@pytest.mark.claim("cass-tunable")
def test_lwt_compare_and_set_is_linearizable_under_partition(sdconform: Any) -> None:
    cluster, addresses = cluster_for(sdconform)
    lwt_case(
        sdconform,
        cluster,
        addresses,
        sdconform.fault(lambda: cluster.partition()),
        # Paxos rounds that meet a cut wait out their 1 s timeouts: a longer cut than the
        # other cases so that rounds on the majority side complete while it is on.
        duration=9.0,
        quiet=1.0,
        fault_duration=7.0,
    )


@pytest.mark.claim("cass-tunable")
def test_lwt_compare_and_set_is_linearizable_through_a_kill(sdconform: Any) -> None:
    cluster, addresses = cluster_for(sdconform)
    lwt_case(sdconform, cluster, addresses, cluster.kill(["n3"]), quiet=1.0, fault_duration=3.0)


@pytest.mark.claim("cass-tunable")
def test_lwt_compare_and_set_is_linearizable_through_a_pause(sdconform: Any) -> None:
    cluster, addresses = cluster_for(sdconform)
    lwt_case(
        sdconform, cluster, addresses, cluster.pause(), duration=9.0, quiet=1.0, fault_duration=7.0
    )


# --- last write wins -------------------------------------------------------------------------


@pytest.mark.claim("cass-lww")
def test_last_write_wins_drops_acknowledged_writes_under_clock_skew(sdconform: Any) -> None:
    """Client-supplied timestamps (USING TIMESTAMP), half the clients' clocks 2 s behind: a
    write acknowledged after another loses to it, and its writer reads the older value."""
    _, addresses = cluster_for(sdconform)
    everyone = list(addresses.values())
    clock = cb.ClientClock()
    skew = cb.ClientClockSkew(clock, sdconform.session.options.concurrency, ms=2000)
    sdconform.run(
        Register(keys=1, prefix=prefix("lww"), read_ratio=0.5),
        clients(sdconform, lambda i: everyone, clock=clock),
        [skew],
        decide_by=["sessions", "linearizable"],
        quiet=0.5,
        fault_duration=4.0,
        config={
            "read_cl": "QUORUM",
            "write_cl": "QUORUM",
            "timestamps": "client-supplied, half the clients 2 s behind",
        },
    )


# --- hinted handoff and repair ---------------------------------------------------------------

HINT_RUN = {"duration": 6.0, "quiet": 1.0, "fault_duration": 4.0, "settle": 15.0, "op_timeout": 3.0}


class CutThenCrash:
    """n3 cut off while writes at ONE go through n1, which makes hints for n3 (each when n3's
    answer times out, buffered in memory, then written to a hint file). When the cut ends, n1
    is killed first (SIGKILL): the hints not yet made or not yet written die with it. Then the
    cut heals, n1 restarts and replays the hint files it did write."""

    name = "partition+kill"

    def __init__(self, partition: Any, kill: Any):
        self.partition, self.kill, self.active = partition, kill, False

    def start(self) -> dict[str, Any]:
        cut = self.partition.start()
        self.active = True
        return {"cut": cut, "then": "kill n1 (the hint holder) before the heal"}

    def stop(self) -> dict[str, Any]:
        if not self.active:
            self.partition.stop()
            return {}
        self.active = False
        killed = self.kill.start()
        self.partition.stop()
        return {"killed": killed, **self.kill.stop()}


def missing_on_n3(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """Lost writes (missing from n3's copy) decide; the reason counts them."""
    lost = verdicts["lost-writes"]
    if lost.result == "unknown":
        return INCONCLUSIVE, lost.reason
    windows = history.fault_windows()
    if not windows:
        return INCONCLUSIVE, "n3 was never cut off"
    w = windows[0]
    during = sum(
        1
        for c in history.complete()
        if c.type == "ok"
        and c.f == "add"
        and c.completion is not None
        and w.covers(c.completion.time)
    )
    if lost.result == "valid":
        return UPHELD, f"n3 has every acknowledged write (of them {during} while it was cut)"
    acks = [
        history[i].time
        for a in lost.anomalies
        for i in a.ops
        if history[i].type == "ok" and history[i].f == "add"
    ]
    before = sum(1 for t in acks if t < w.start)
    return REFUTED, (
        f"{len(lost.anomalies)} acknowledged writes are missing on n3 after the heal, n1's "
        f"restart and {HINT_RUN['settle']:g}s of settling ({before} acknowledged before the "
        f"cut but not yet applied on n3, the rest of the {during} acknowledged during it): no "
        "hint of them survived n1's crash (a hint is made when the replica's answer times "
        "out, then buffered in memory before it is written to a hint file)"
    )


def lagging_replica(sdconform: Any, repair: bool) -> None:
    """Writes at ONE through n1 on a key n3 owns; n3 cut off, then n1 killed and restarted; the
    final read asks n3 at ONE (n3 reads its own copy)."""
    cluster, addresses = cluster_for(sdconform)
    converged = None
    if repair:

        def converged() -> bool:
            cb.repair(cluster)
            return True

    fault = CutThenCrash(isolate_n3(sdconform, cluster), cluster.kill(["n1"]))
    sdconform.run(
        SetAdd(prefix=prefix("set:hints", owner=3)),
        clients(
            sdconform,
            lambda i: addresses["n1"],
            final=addresses["n3"],
            final_cl="ONE",
            write_cl="ONE",
        ),
        [fault],
        judge=missing_on_n3,
        converged=converged,
        config={
            "write_cl": "ONE",
            "coordinator": "n1",
            "final_read": "n3 at ONE, a key n3 owns",
            "repair": "nodetool repair -full before the final read" if repair else "none",
        },
        **HINT_RUN,
    )


@pytest.mark.claim("cass-hinted-handoff")
def test_hinted_handoff_alone_leaves_a_lagging_replica_behind(sdconform: Any) -> None:
    lagging_replica(sdconform, repair=False)


@pytest.mark.claim("cass-hinted-handoff", expected="upheld")
def test_repair_brings_a_lagging_replica_back(sdconform: Any) -> None:
    lagging_replica(sdconform, repair=True)


# --- durability ------------------------------------------------------------------------------


@pytest.mark.claim("cass-replication-no-loss")
def test_quorum_writes_survive_the_loss_of_a_replica(sdconform: Any) -> None:
    cluster, addresses = cluster_for(sdconform)
    majority = [addresses["n1"], addresses["n2"]]
    sdconform.run(
        SetAdd(prefix=prefix("set:quorum")),
        clients(sdconform, lambda i: majority, write_cl="QUORUM", read_cl="QUORUM"),
        [cluster.kill(["n3"])],
        quiet=1.0,
        fault_duration=3.0,
        config={"write_cl": "QUORUM", "final_read": "QUORUM"},
    )


@pytest.mark.claim("cass-commitlog-no-loss")
def test_commitlog_keeps_acknowledged_writes_through_a_process_kill(sdconform: Any) -> None:
    """Writes at ALL (n3 acknowledged each one), n3 killed with SIGKILL and restarted; the final
    read asks n3 alone at ONE: what it acknowledged must come back from its commit log. (A
    process kill keeps the page cache; power loss with periodic sync is not tested.)"""
    cluster, addresses = cluster_for(sdconform)
    majority = [addresses["n1"], addresses["n2"]]
    sdconform.run(
        SetAdd(prefix=prefix("set:commitlog", owner=3)),
        clients(
            sdconform, lambda i: majority, final=addresses["n3"], final_cl="ONE", write_cl="ALL"
        ),
        [cluster.kill(["n3"])],
        need_overlap=False,
        quiet=1.0,
        fault_duration=1.0,
        config={
            "write_cl": "ALL",
            "final_read": "n3 at ONE, a key n3 owns",
            "commitlog_sync": "periodic 10 s",
            "crash": "process kill (SIGKILL)",
        },
    )


# --- which side of a partition answers (an empirical CAP row) --------------------------------


def cap_row(history: History, minority: str) -> dict[str, dict[str, int]]:
    """Per side of the partition (by coordinator), how operations begun during it ended."""
    active = window_lookup(history.fault_windows())
    row: dict[str, dict[str, int]] = {}
    for c in history.complete():
        if c.invoke.get("final") or not active(c.invoke.time):
            continue
        node = c.completion.node if c.completion is not None else None
        counts = row.setdefault(
            "minority" if node == minority else "majority", {"ok": 0, "fail": 0, "info": 0}
        )
        counts[c.type] = counts.get(c.type, 0) + 1
    return row


def answers(counts: dict[str, int] | None, at_least: float = 0.8) -> bool | None:
    """True when a side answered (>= 80 % ok), False when it refused (<= 20 %), else None."""
    total = sum(counts.values()) if counts else 0
    if not counts or total == 0:
        return None
    ratio = counts["ok"] / total
    return True if ratio >= at_least else False if ratio <= 1 - at_least else None


def sides_judge(minority: str, want: str) -> Any:
    """``want`` = "both": upheld when both sides answer; "none": upheld when neither does.
    The reason carries the CAP row: per side ok/fail/info, and the stale reads seen."""

    def judge(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
        row = cap_row(history, minority)
        stale = len(verdicts["sessions"].anomalies) if "sessions" in verdicts else 0
        text = "; ".join(
            f"{side}: {c['ok']} ok, {c['fail']} fail, {c['info']} info"
            for side, c in sorted(row.items())
        )
        text += f"; session anomalies: {stale}"
        if "linearizable" in verdicts:
            text += f"; linearizable: {verdicts['linearizable'].result}"
        sides = [answers(row.get(s)) for s in ("majority", "minority")]
        if want == "both" and False in sides:
            return REFUTED, f"a side refused: {text}"
        if want == "both" and all(sides):
            return UPHELD, f"both sides answered: {text}"
        if want == "none" and True in sides:
            return REFUTED, f"a side answered with a replica cut: {text}"
        if want == "none" and sides == [False, False]:
            return UPHELD, f"no side answered with a replica cut: {text}"
        return INCONCLUSIVE, f"no clear answer from a side: {text}"

    return judge


CAP_RUN = {"quiet": 0.5, "fault_duration": 4.5, "op_timeout": 3.0}


def cap_case(sdconform: Any, cl: str, want: str) -> None:
    """Two clients through n1 (majority side), two through n3 (cut off), all at ``cl``."""
    cluster, addresses = cluster_for(sdconform)
    pick = {0: addresses["n1"], 1: addresses["n3"]}
    sdconform.run(
        Register(keys=2, prefix=prefix(f"cap{cl}"), read_ratio=0.5),
        clients(sdconform, lambda i: pick[i % 2], read_cl=cl, write_cl=cl),
        [isolate_n3(sdconform, cluster)],
        judge=sides_judge(addresses["n3"], want),
        config={"read_cl": cl, "write_cl": cl, "coordinators": "n1 (majority side), n3 (cut off)"},
        **CAP_RUN,
    )


@pytest.mark.claim("cass-leaderless-available")
def test_at_one_both_sides_of_a_partition_answer(sdconform: Any) -> None:
    cap_case(sdconform, "ONE", "both")


@pytest.mark.claim("cass-leaderless-available", expected="refuted")
def test_at_quorum_the_cut_off_side_refuses(sdconform: Any) -> None:
    cap_case(sdconform, "QUORUM", "both")


@pytest.mark.claim("cass-all")
def test_at_all_no_side_answers_while_a_replica_is_cut(sdconform: Any) -> None:
    cap_case(sdconform, "ALL", "none")
