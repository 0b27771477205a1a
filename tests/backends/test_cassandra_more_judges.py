"""The Cassandra judges of consistency level ANY, concurrent writes across a partition, Dynamo's
promise and the two-data-centre claims, on synthetic histories: a violating history refutes
(with the operations that prove it), one that did not exercise the behaviour is inconclusive
through ``outcome.decide``, one where the claim holds is upheld."""

from __future__ import annotations

from pytest_sdconform.backends.cassandra.cql import replication
from pytest_sdconform.backends.cassandra.judges import (
    AckedWithoutReplica,
    AvailableThenConverges,
    DeletesStayDeleted,
    QuorumIsWeak,
    RefusesOnlyWhenCut,
    SiblingsKept,
    SurvivesDcLoss,
)
from pytest_sdconform.backends.cassandra.topology import Topology
from pytest_sdconform.checkers.cap import CapRow
from pytest_sdconform.checkers.convergence import check_convergence
from pytest_sdconform.checkers.durability import check_lost_writes
from pytest_sdconform.history import History
from pytest_sdconform.outcome import decide
from tests.backends.test_cassandra_judges import h

N1, N2, N3, N4 = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"

# --- ANY ---------------------------------------------------------------------------------------


def any_history(*during: str) -> History:
    return h("0.1 1 invoke add s 1", "0.2 1 ok add s 1 @10.0.0.1",
             "1.0 n info kill-start", *during, "5.0 n info kill-stop",
             "9.0 9 invoke read s #final", "9.1 9 ok read s [1] @10.0.0.3 #final")


def test_a_write_acknowledged_with_its_only_replica_down_refutes_any() -> None:
    history = any_history("1.1 1 invoke add s 2", "1.2 1 ok add s 2 @10.0.0.1")
    d = decide(history, {}, AckedWithoutReplica(replicas="n3 was down"), faults=["kill"])
    assert d.outcome == "refuted" and "1 writes acknowledged while n3" in d.reason
    assert [a["relative_to_faults"] for a in d.anomalies] == ["during"]


def test_writes_refused_with_the_replica_down_uphold_and_none_sent_is_inconclusive() -> None:
    history = any_history("1.1 1 invoke add s 2", "1.2 1 fail add s 2 @10.0.0.1")
    d = decide(history, {}, AckedWithoutReplica(), faults=["kill"])
    assert d.outcome == "upheld"
    # An add acknowledged before the window opened proves nothing about ANY.
    history = any_history()
    d = decide(history, {}, AckedWithoutReplica(), faults=["kill"])
    assert d.outcome == "inconclusive" and d.reason.startswith("not exercised")


# --- concurrent writes across a partition ------------------------------------------------------

SIDES = {"majority": [N1, N2], "minority": [N3]}


def split(final: str, *after: str) -> History:
    return h("1.0 n info partition-start",
             "1.1 1 invoke write k 1", "1.2 1 ok write k 1 @10.0.0.1",
             "1.3 2 invoke write k 2", "1.4 2 ok write k 2 @10.0.0.3",
             "1.5 1 invoke write k 3", "1.6 1 ok write k 3 @10.0.0.2",
             "5.0 n info partition-stop", *after,
             "9.0 9 invoke read k #final", f"9.1 9 ok read k {final} @10.0.0.1 #final")


def test_one_side_dropped_after_repair_refutes_conflict_resolution() -> None:
    history = split("3")
    d = decide(history, {}, SiblingsKept(SIDES, repaired=[True]),
               faults=["partition"])
    assert d.outcome == "refuted" and "1 acknowledged concurrent writes dropped" in d.reason
    assert "minority side's last write 2" in d.anomalies[0]["explanation"]


def test_siblings_kept_uphold_and_a_missing_repair_or_a_later_write_is_inconclusive() -> None:
    history = split("[2, 3]")
    assert decide(history, {}, SiblingsKept(SIDES, repaired=[True]),
                  faults=["partition"]).outcome == "upheld"
    d = decide(history, {}, SiblingsKept(SIDES), faults=["partition"])
    assert d.outcome == "inconclusive" and "repair" in d.reason
    later = split("4", "5.5 1 invoke write k 4", "5.6 1 ok write k 4 @10.0.0.1")
    d = decide(later, {}, SiblingsKept(SIDES, repaired=[True]),
               faults=["partition"])
    assert d.outcome == "inconclusive"


# --- Dynamo: available, then converges ---------------------------------------------------------


def dynamo(final_n3: str, minority: str = "ok") -> History:
    return h("1.0 n info partition-start",
             "1.1 1 invoke add s 1", "1.2 1 ok add s 1 @10.0.0.1",
             "1.3 1 invoke add s 2", "1.4 1 ok add s 2 @10.0.0.1",
             "1.5 2 invoke add s 3", f"1.6 2 {minority} add s 3 @10.0.0.3",
             "1.7 2 invoke add s 4", f"1.8 2 {minority} add s 4 @10.0.0.3",
             "5.0 n info partition-stop",
             "9.0 9 invoke read s #final", "9.1 9 ok read s [1, 2, 3, 4] @10.0.0.1 #final",
             "9.2 9 invoke read s #final", f"9.3 9 ok read s {final_n3} @10.0.0.3 #final")


def test_replicas_that_disagree_after_the_heal_refute_dynamo() -> None:
    judge = AvailableThenConverges({"majority": [N1], "minority": [N3]})
    history = dynamo("[3, 4]")
    d = decide(history, {"convergence": check_convergence(history)}, judge,
               faults=["partition"])
    assert d.outcome == "refuted" and "did not converge" in d.reason
    history = dynamo("[1, 2, 3, 4]", minority="fail")
    d = decide(history, {"convergence": check_convergence(history)}, judge,
               faults=["partition"])
    assert d.outcome == "refuted" and "minority" in d.reason
    history = dynamo("[1, 2, 3, 4]")
    d = decide(history, {"convergence": check_convergence(history)}, judge,
               faults=["partition"])
    assert d.outcome == "upheld"


# --- two data centres --------------------------------------------------------------------------


def cross_dc(stale: bool) -> History:
    events = ["1.0 n info kill-start"]
    t = 1.1
    for v in range(1, 12):
        events += [f"{t:.1f} 1 invoke write k {v}", f"{t + 0.1:.1f} 1 ok write k {v} @10.0.0.1"]
        seen = v - 1 if stale and v == 6 else v
        events += [f"{t + 0.2:.1f} 2 invoke read k",
                   f"{t + 0.3:.1f} 2 ok read k {seen} @10.0.0.3"]
        t += 0.4
    events.append(f"{t:.1f} n info kill-stop")
    return h(*events)


def test_a_stale_cross_dc_quorum_read_upholds_weak_and_none_refutes_it() -> None:
    judge = QuorumIsWeak(writers=[N1, N2], readers=[N3, N4], min_pairs=10)
    d = decide(cross_dc(stale=True), {}, judge, faults=["kill"])
    assert d.outcome == "upheld" and "1 of 11 cross-DC QUORUM reads" in d.reason
    d = decide(cross_dc(stale=False), {}, judge, faults=["kill"])
    assert d.outcome == "refuted" and "intersect" in d.reason
    too_few = QuorumIsWeak(writers=[N1, N2], readers=[N3, N4], min_pairs=50)
    d = decide(cross_dc(stale=False), {}, too_few, faults=["kill"])
    assert d.outcome == "inconclusive"


def dc_loss(final: str, during: str = "ok") -> History:
    return h("0.1 1 invoke add s 1", "0.2 1 ok add s 1 @10.0.0.1",
             "1.0 n info kill-start",
             "1.1 2 invoke add s 2", f"1.2 2 {during} add s 2 @10.0.0.3",
             "5.0 n info kill-stop",
             "9.0 9 invoke read s #final", f"9.1 9 ok read s {final} @10.0.0.3 #final")


def test_the_surviving_dc_missing_a_write_or_refusing_refutes_dr() -> None:
    judge = SurvivesDcLoss(survivors=[N3, N4])
    history = dc_loss("[2]")
    d = decide(history, {"lost-writes": check_lost_writes(history)}, judge,
               faults=["kill"])
    assert d.outcome == "refuted" and "lacks acknowledged writes" in d.reason
    history = dc_loss("[1]", during="fail")
    d = decide(history, {"lost-writes": check_lost_writes(history)}, judge,
               faults=["kill"])
    assert d.outcome == "refuted" and "refused" in d.reason
    history = dc_loss("[1, 2]")
    d = decide(history, {"lost-writes": check_lost_writes(history)}, judge,
               faults=["kill"])
    assert d.outcome == "upheld"


# --- topology and schema -----------------------------------------------------------------------


def test_data_centres_split_the_nodes_and_bad_shapes_are_refused() -> None:
    t = Topology(nodes=4, dcs=2, rf=2)
    assert [t.dc_of(f"n{i}") for i in range(1, 5)] == ["dc1", "dc1", "dc2", "dc2"]
    assert t.replication() == {"dc1": 2, "dc2": 2}
    assert "NetworkTopologyStrategy" in replication(t.replication())
    assert "SimpleStrategy" in replication(3)
    for bad in ({"nodes": 3, "dcs": 2}, {"nodes": 4, "dcs": 2, "rf": 3}):
        try:
            Topology(**bad)  # type: ignore[arg-type]
        except ValueError as e:
            assert "data centre" in str(e)
        else:
            raise AssertionError(f"{bad} accepted")
    for rf in (0, {"dc1": 0}, {}):
        try:
            replication(rf)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{rf!r} accepted")


# --- tombstones --------------------------------------------------------------------------------


def deleted(final: str, delete: str = "ok") -> History:
    return h("0.1 1 invoke write k 7", "0.2 1 ok write k 7 @10.0.0.1",
             "1.0 n info partition+purge-start",
             "2.0 1 invoke delete k", f"2.1 1 {delete} delete k @10.0.0.1",
             "5.0 n info partition+purge-stop",
             "9.0 9 invoke read k #final", f"9.1 9 ok read k {final} @10.0.0.1 #final")


def test_a_deleted_row_read_back_at_the_end_refutes_tombstones() -> None:
    judge = DeletesStayDeleted(fault="partition+purge", purged=[{"waited_s": 2}])
    d = decide(deleted("7"), {}, judge, faults=["partition+purge"])
    assert d.outcome == "refuted" and "1 of 1 deleted keys came back" in d.reason
    assert d.anomalies[0]["kind"] == "resurrected"
    assert decide(deleted("null"), {}, judge, faults=["partition+purge"]).outcome == "upheld"


def test_no_purge_or_no_acknowledged_delete_is_inconclusive() -> None:
    d = decide(deleted("null"), {}, DeletesStayDeleted(fault="partition+purge"),
               faults=["partition+purge"])
    assert d.outcome == "inconclusive" and "compaction did not complete" in d.reason
    judge = DeletesStayDeleted(fault="partition+purge", purged=[{}])
    d = decide(deleted("7", delete="fail"), {}, judge, faults=["partition+purge"])
    assert d.outcome == "inconclusive"


def each_quorum(before: str) -> History:
    return h("0.1 1 invoke add s 1", f"0.2 1 {before} add s 1 @10.0.0.1",
             "1.0 n info partition-start",
             "1.1 1 invoke add s 2", "1.2 1 info add s 2 @10.0.0.1",
             "1.3 1 invoke add s 3", "1.4 1 fail add s 3 @10.0.0.2",
             "1.5 2 invoke add s 4", "1.6 2 info add s 4 @10.0.0.3",
             "1.7 2 invoke add s 5", "1.8 2 fail add s 5 @10.0.0.4",
             "5.0 n info partition-stop")


def test_refusals_count_only_when_the_same_calls_succeed_before_the_cut() -> None:
    judge = RefusesOnlyWhenCut(CapRow(sides={"dc1": [N1, N2], "dc2": [N3, N4]},
                                      expect={"dc1": False, "dc2": False}))
    assert decide(each_quorum("ok"), {}, judge, faults=["partition"]).outcome == "upheld"
    d = decide(each_quorum("fail"), {}, judge, faults=["partition"])
    assert d.outcome == "inconclusive" and "prove nothing" in d.reason
    answers = RefusesOnlyWhenCut(CapRow(sides={"dc1": [N1, N2], "dc2": [N3, N4]},
                                        expect={"dc1": True, "dc2": False}))
    assert decide(each_quorum("ok"), {}, answers, faults=["partition"]).outcome == "refuted"
