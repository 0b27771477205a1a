"""Session guarantees checker: golden histories in a compact notation, and Hypothesis properties."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.sessions import (
    MR,
    MW,
    RYW,
    WFR,
    SessionsChecker,
    check_sessions,
)
from pytest_sdconform.history import History, HistoryError, Operation

# A row is (process, type, f, key, value) or (process, type, f, key, value, extra-fields).
Row = tuple[Any, ...]
FINAL = {"final": True}


def history(*rows: Row, **meta: Any) -> History:
    """Rows become operations whose index is their position (so tests can name indices)."""
    ops = []
    for i, (process, typ, f, key, value, *rest) in enumerate(rows):
        ops.append(
            Operation(i, i * 10, process, typ, f, key, value, extra=rest[0] if rest else None)
        )
    return History(ops, meta=meta)


def w(p: Any, k: str, v: Any, **extra: Any) -> list[Row]:
    """An ok write, invocation and completion back to back."""
    return [(p, "invoke", "write", k, v), (p, "ok", "write", k, v, extra or None)]


def r(p: Any, k: str, v: Any, **extra: Any) -> list[Row]:
    """An ok read that returned v."""
    inv = {"final": True} if extra.get("final") else None
    return [(p, "invoke", "read", k, None, inv), (p, "ok", "read", k, v, extra or None)]


def of_kind(verdict: Any, kind: str) -> list[Any]:
    return [a for a in verdict.anomalies if a.kind == kind]


# --- the four violations, each alone where the history allows ----------------------------------


def test_read_your_writes_stale_read_after_own_write() -> None:
    v = check_sessions(history(*w(1, "x", 1), *w(1, "x", 2), *r(1, "x", 1)))
    assert v.result == "invalid"
    assert v.anomaly_kinds == [RYW]
    (a,) = v.anomalies
    assert a.key == "x"
    assert a.ops == [0, 1, 2, 3, 4, 5]  # write 1 (proves it is older), write 2, the read
    assert "wrote 2" in a.explanation and "read 1" in a.explanation
    # Without a version order, monotonic writes and writes-follow-reads cannot be judged.
    assert v.details["guarantees"] == {RYW: "invalid", MR: "valid", MW: "unknown", WFR: "unknown"}


def test_read_your_writes_initial_value_after_own_write() -> None:
    v = check_sessions(history(*w(1, "x", 1), *r(1, "x", None)))
    assert v.anomaly_kinds == [RYW]
    assert v.anomalies[0].ops == [0, 1, 2, 3]
    assert "initial value None" in v.anomalies[0].explanation


def test_monotonic_reads() -> None:
    h = history(*w(1, "x", 1), *w(2, "x", 2), *r(3, "x", 2), *r(3, "x", 1))
    v = check_sessions(h)
    assert v.anomaly_kinds == [MR]
    assert v.anomalies[0].ops == list(range(8))


def test_seeing_a_session_s_writes_out_of_order_is_a_monotonic_reads_violation_only() -> None:
    # Process 2 sees 2 and then 1. That proves 2's reads went back in time; it does not prove
    # the store applied process 1's writes out of order (2 may have read a lagging replica).
    h = history(*w(1, "x", 1), *w(1, "x", 2), *r(2, "x", 2), *r(2, "x", 1))
    v = check_sessions(h)
    assert v.anomaly_kinds == [MR]
    assert v.details["guarantees"][MW] == "unknown" and MW in v.details["unchecked"]


def test_a_final_read_of_an_earlier_write_is_not_proof_of_reordering() -> None:
    # The final read returns 1 after process 1 wrote 1 then 2: 2 may have been lost rather
    # than ordered before 1; the lost-writes checker judges that.
    h = history(*w(1, "x", 1), *w(1, "x", 2), *r(3, "x", 1, final=True))
    v = check_sessions(h)
    assert v.result == "valid" and v.details["guarantees"][MW] == "unknown"
    h = history(*w(1, "x", 1), *r(2, "x", 1), *w(2, "x", 2), *r(3, "x", 1, final=True))
    v = check_sessions(h)
    assert v.result == "valid" and v.details["guarantees"][WFR] == "unknown"


def test_a_write_made_before_reading_does_not_follow_the_read() -> None:
    # 2 wrote 2 (concurrently with 1's write of 1), then read 1, then wrote 3. Seeing 2 and
    # then 1 says nothing about writes-follow-reads: 2's write of 2 came before its read.
    h = history(
        (1, "invoke", "write", "x", 1),
        (2, "invoke", "write", "x", 2),
        (1, "ok", "write", "x", 1),
        (2, "ok", "write", "x", 2),
        *r(2, "x", 1),
        *w(2, "x", 3),
        *r(3, "x", 2),
        *r(3, "x", 1),
    )
    assert check_sessions(h).result == "valid"


def test_a_final_read_concurrent_with_the_later_write_proves_nothing() -> None:
    final_read = [(3, "invoke", "read", "x", None, FINAL), (3, "ok", "read", "x", 1, FINAL)]
    mw = [*w(1, "x", 1), (1, "invoke", "write", "x", 2), *final_read, (1, "ok", "write", "x", 2)]
    assert check_sessions(history(*mw)).result == "valid"
    wfr = [*w(1, "x", 1), *r(2, "x", 1), (2, "invoke", "write", "x", 2), *final_read]
    assert check_sessions(history(*wfr, (2, "ok", "write", "x", 2))).result == "valid"


def test_each_violation_is_per_key() -> None:
    h = history(*w(1, "x", 1), *w(1, "y", 2), *r(1, "x", 1), *r(1, "y", None))
    v = check_sessions(h)
    assert [(a.kind, a.key) for a in v.anomalies] == [(RYW, "y")]


# --- what the history does not prove is not reported -------------------------------------------

CONCURRENT = [
    (1, "invoke", "write", "x", 1),
    (2, "invoke", "write", "x", 2),
    (1, "ok", "write", "x", 1),
    (2, "ok", "write", "x", 2),
    *r(3, "x", 2),
    *r(3, "x", 1),
    *r(1, "x", 2),
    *r(2, "x", 1),
    *r(4, "x", 1, final=True),
]


def test_concurrent_writes_are_not_ordered() -> None:
    v = check_sessions(history(*CONCURRENT))
    assert v.result == "valid", v.anomalies
    assert v.details["order"] == "realtime"
    assert v.details["reads_checked"] == 5


def test_increasing_values_are_not_an_order_unless_asked() -> None:
    v = check_sessions(history(*CONCURRENT), order="value")
    assert v.details["order"] == "value"
    assert set(v.anomaly_kinds) == {MR, RYW}  # 3 read 2 then 1; 2 wrote 2 and read 1


def test_a_write_in_flight_is_not_older_than_a_read() -> None:
    # 2's write overlaps 1's read of the initial value: no read-your-writes, no stale read.
    h = history(
        *w(1, "x", 1),
        (2, "invoke", "write", "x", 2),
        *r(1, "x", 1),
        (2, "ok", "write", "x", 2),
        *r(2, "x", 2),
    )
    assert check_sessions(h).result == "valid"


# --- info, fail, ambiguous values ---------------------------------------------------------------


def test_info_write_may_have_happened_but_is_not_ordered_before_anything() -> None:
    rows = [*w(1, "x", 1), (2, "invoke", "write", "x", 2), (2, "info", "write", "x", 2)]
    assert check_sessions(history(*rows, *r(3, "x", 1))).result == "valid"
    # Once read, the info write is known to have taken effect after its invocation (index 2),
    # so after the write of 1 (completed at index 1): reading 1 again goes back in time.
    v = check_sessions(history(*rows, *r(3, "x", 1), *r(3, "x", 2), *r(3, "x", 1)))
    assert v.anomaly_kinds == [MR]
    assert v.anomalies[0].ops == [0, 1, 2, 3, 6, 7, 8, 9]


def test_info_write_is_not_your_write() -> None:
    # A process is retired after info; this history reuses one anyway, to show that the info
    # write is not counted as the session's own write.
    rows = [*w(1, "x", 1), (2, "invoke", "write", "x", 2), (2, "info", "write", "x", 2)]
    assert check_sessions(history(*rows, *r(2, "x", 1))).result == "valid"


def test_write_that_never_completed_can_be_observed() -> None:
    h = history(*w(1, "x", 1), (2, "invoke", "write", "x", 7), *r(3, "x", 7), *r(3, "x", 1))
    v = check_sessions(h)
    assert v.details["reads_checked"] == 2
    assert v.anomaly_kinds == [MR]  # 7 began (index 2) after 1 was acknowledged (index 1)
    assert v.anomalies[0].ops == list(range(7))


def test_a_read_bounds_when_an_info_write_took_effect() -> None:
    # 5's outcome is unknown until index 7, but 2 read it by index 2: it took effect by then,
    # before 3 began writing 6. So 3 reading 5 after its write of 6 is a stale read.
    h = history(
        (1, "invoke", "write", "x", 5),
        *r(2, "x", 5),
        *w(3, "x", 6),
        *r(3, "x", 5),
        (1, "info", "write", "x", 5),
    )
    v = check_sessions(h)
    assert v.anomaly_kinds == [RYW]
    assert v.anomalies[0].ops == list(range(8))


def test_failed_writes_never_happened() -> None:
    rows = [*w(1, "x", 1), (2, "invoke", "write", "x", 1), (2, "fail", "write", "x", 1)]
    v = check_sessions(history(*rows, *w(1, "x", 2), *r(1, "x", 1)))
    assert v.anomaly_kinds == [RYW]  # value 1 is still unique: the failed write does not count


def test_a_value_written_twice_is_ambiguous_and_skipped() -> None:
    rows = [*w(1, "x", 1), *w(2, "x", 1), *w(1, "x", 2), *r(1, "x", 1), *r(1, "x", 2)]
    v = check_sessions(history(*rows))
    assert v.result == "valid"
    assert v.details["reads_skipped"] == {"ambiguous": 1}
    assert v.details["reads_checked"] == 1


def test_writing_the_initial_value_makes_it_ambiguous() -> None:
    v = check_sessions(history(*w(1, "x", 0), *w(1, "x", 1), *r(1, "x", 0), initial=0))
    assert v.result == "unknown"
    assert v.details["reads_skipped"] == {"ambiguous": 1}


def test_a_read_that_returned_a_value_before_it_was_written_is_not_used() -> None:
    # Not a session anomaly (another checker's business), and it must not make 2's own
    # write look as if it took effect before it began.
    v = check_sessions(history(*r(1, "x", 5), *w(2, "x", 5), *r(2, "x", 5)))
    assert v.result == "valid"
    assert v.details["reads_skipped"] == {"unattributed": 1}


def test_reads_of_writes_without_a_version_are_unordered_under_versions() -> None:
    v = check_sessions(history(*w(1, "x", 1, version=1), *w(1, "x", 2), *r(1, "x", 2)))
    assert v.result == "unknown"
    assert v.details["reads_skipped"] == {"unordered": 1}


def test_cas_counts_as_a_write_of_its_new_value() -> None:
    rows = [(1, "invoke", "cas", "x", [None, 1]), (1, "ok", "cas", "x", [None, 1])]
    v = check_sessions(history(*rows, *w(1, "x", 2), *r(1, "x", 1)))
    assert v.anomaly_kinds == [RYW]


def test_unhashable_values() -> None:
    v = check_sessions(history(*w(1, "x", [1]), *w(1, "x", [2]), *r(1, "x", [1])))
    assert v.anomaly_kinds == [RYW]
    assert "[1]" in v.anomalies[0].explanation


# --- explicit versions --------------------------------------------------------------------------


def test_versions_order_writes_that_real_time_cannot() -> None:
    h = history(
        (1, "invoke", "write", "x", 1),
        (2, "invoke", "write", "x", 2),
        (1, "ok", "write", "x", 1, {"version": 2}),
        (2, "ok", "write", "x", 2, {"version": 1}),
        *r(1, "x", 2, version=1),
    )
    v = check_sessions(h)
    assert v.details["order"] == "version"
    assert v.anomaly_kinds == [RYW]
    assert v.anomalies[0].ops == [0, 1, 2, 3, 4, 5]
    assert "version 1" in v.anomalies[0].explanation


def test_versions_monotonic_reads() -> None:
    h = history(*r(1, "x", "b", version=3), *r(1, "x", "a", version=2))
    v = check_sessions(h)
    assert v.anomaly_kinds == [MR]  # versions alone order the reads; the writes are unseen
    assert v.anomalies[0].ops == [0, 1, 2, 3]


def test_versions_monotonic_writes() -> None:
    v = check_sessions(history(*w(1, "x", 1, version=5), *w(1, "x", 2, version=3), *r(2, "x", 2)))
    assert v.anomaly_kinds == [MW]
    assert v.anomalies[0].ops == [0, 1, 2, 3]


def test_versions_writes_follow_reads() -> None:
    h = history(*w(2, "x", 7, version=7), *r(1, "x", 7, version=7), *w(1, "x", 8, version=4))
    v = check_sessions(h)
    assert v.anomaly_kinds == [WFR]
    assert v.anomalies[0].ops == [0, 1, 2, 3, 4, 5]


def test_versions_overrule_real_time() -> None:
    # Last-write-wins with a skewed clock: 1 completed before 2 began, yet the store ordered it
    # later, and says so. Reading 2 then 1 is then no step back.
    h = history(*w(1, "x", 1, version=9), *w(2, "x", 2, version=4), *r(3, "x", 2), *r(3, "x", 1))
    assert check_sessions(h).result == "valid"
    assert check_sessions(h, order="realtime").anomaly_kinds == [MR]


def test_order_is_chosen_per_key() -> None:
    h = history(*w(1, "x", 1, version=1), *r(1, "x", 1), *w(1, "y", 1), *r(1, "y", 1))
    v = check_sessions(h)
    assert v.details["order"] == "mixed"
    assert v.details["keys_by_order"] == {"version": 1, "realtime": 1}


# --- unknown, options, the Checker protocol ------------------------------------------------------


def test_no_reads_is_unknown_never_valid() -> None:
    for h in (history(), history(*w(1, "x", 1)), history((1, "invoke", "read", "x", None))):
        v = check_sessions(h)
        assert v.result == "unknown"
        assert "nothing to check" in v.reason
        assert set(v.details["guarantees"].values()) == {"unknown"}


def test_reads_of_values_nobody_wrote_are_unknown() -> None:
    v = check_sessions(history(*r(1, "x", 5)))
    assert v.result == "unknown"
    assert v.details["reads_skipped"] == {"unattributed": 1}
    assert "could be attributed" in v.reason


def test_only_the_asked_guarantees_are_checked() -> None:
    h = history(*w(1, "x", 1), *w(1, "x", 2), *r(2, "x", 2), *r(2, "x", 1))
    v = check_sessions(h, guarantees=(RYW, MR))
    assert v.anomaly_kinds == [MR]
    assert v.details["guarantees"] == {RYW: "valid", MR: "invalid"}
    only_mw = check_sessions(h, guarantees=(MW,))
    assert only_mw.result == "unknown" and "version order" in only_mw.reason


def test_anomalies_are_capped_but_counted() -> None:
    rows = [*w(1, "x", 1), *w(1, "x", 2)] + [row for _ in range(10) for row in r(1, "x", 1)]
    v = check_sessions(history(*rows), max_anomalies=3)
    assert v.result == "invalid"
    assert len(v.anomalies) == 3
    assert v.details["anomaly_counts"][RYW] == 10
    assert v.details["anomalies_truncated"] == 7


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="guarantees"):
        check_sessions(history(), guarantees=("causal",))
    with pytest.raises(ValueError, match="order"):
        check_sessions(history(), order="wallclock")


def test_indices_must_follow_file_order() -> None:
    h = history(*w(1, "x", 1), *r(1, "x", 1))
    h.ops[2].index = 0
    with pytest.raises(HistoryError, match="increase"):
        check_sessions(h)


def test_sessions_checker_is_a_checker() -> None:
    checker: Checker = SessionsChecker(guarantees=(RYW,))
    v = checker.check(history(*w(1, "x", 1), *r(1, "x", None)))
    assert checker.name == "sessions" == v.checker
    assert v.anomaly_kinds == [RYW]
    assert v.details["reads"] == 1 and v.details["writes"] == 1


def test_nemesis_and_other_operations_are_ignored() -> None:
    h = history(
        ("nemesis", "info", "partition-start", None, None),
        (1, "invoke", "append", "x", 3),
        (1, "ok", "append", "x", 3),
        *w(1, "x", 1),
        *r(1, "x", 1),
    )
    assert check_sessions(h).result == "valid"


# --- properties: a single-copy register never breaks a session guarantee ------------------------


class Register:
    """Threads on one atomic register per key. Each operation takes effect at one moment between
    its invocation and its completion; an info write may take effect later, or never."""

    def __init__(self, keys: list[str], threads: int, versions: bool):
        self.keys, self.versions = keys, versions
        self.procs = list(range(threads))  # each thread's current process id
        self.fresh_pid = itertools.count(threads)
        self.values = itertools.count(1)
        self.store: dict[str, Any] = dict.fromkeys(keys)
        self.version = dict.fromkeys(keys, 0)
        self.pending: dict[int, dict[str, Any]] = {}
        self.limbo: list[dict[str, Any]] = []  # info writes that have not taken effect yet
        self.rows: list[Row] = []

    def moves(self) -> list[tuple[str, int]]:
        out = [("invoke", t) for t in range(len(self.procs)) if t not in self.pending]
        out += [("apply", t) for t, op in self.pending.items() if not op["applied"]]
        out += [("complete", t) for t in self.pending]
        return out + [("limbo", i) for i in range(len(self.limbo))]

    def invoke(self, t: int, f: str, k: str) -> None:
        v = next(self.values) if f == "write" else None
        self.rows.append((self.procs[t], "invoke", f, k, v))
        self.pending[t] = {"f": f, "key": k, "value": v, "applied": False}

    def apply(self, op: dict[str, Any]) -> None:
        k = op["key"]
        if op["f"] == "write":
            self.store[k] = op["value"]
            self.version[k] += 1
        else:
            op["value"] = self.store[k]
        op["version"], op["applied"] = self.version[k], True

    def complete(self, t: int, outcome: str) -> None:
        op = self.pending.pop(t)
        extra = {"version": op["version"]} if self.versions and outcome == "ok" else None
        value = op["value"] if outcome == "ok" or op["f"] == "write" else None
        self.rows.append((self.procs[t], outcome, op["f"], op["key"], value, extra))
        if outcome == "info":
            self.procs[t] = next(self.fresh_pid)
            if op["f"] == "write" and not op["applied"]:
                self.limbo.append(op)

    def finish(self) -> list[Row]:
        """Complete what is in flight, then one final read per key by a fresh process."""
        for t in list(self.pending):
            self.complete(t, "ok" if self.pending[t]["applied"] else "fail")
        for k in self.keys:
            p = next(self.fresh_pid)
            extra = {"final": True, **({"version": self.version[k]} if self.versions else {})}
            self.rows += [
                (p, "invoke", "read", k, None, FINAL),
                (p, "ok", "read", k, self.store[k], extra),
            ]
        return self.rows


@st.composite
def register_runs(draw: st.DrawFn, versions: bool) -> tuple[list[Row], list[int]]:
    """A random interleaving on a Register: the rows, and each thread's process id at the end."""
    keys = ["x", "y", "z"][: draw(st.integers(1, 3))]
    reg = Register(keys, draw(st.integers(1, 4)), versions)
    for _ in range(draw(st.integers(0, 60))):
        move, t = draw(st.sampled_from(reg.moves()))
        if move == "invoke":
            reg.invoke(t, draw(st.sampled_from(["read", "write"])), draw(st.sampled_from(keys)))
        elif move == "apply":
            reg.apply(reg.pending[t])
        elif move == "limbo":
            reg.apply(reg.limbo.pop(t))
        else:
            done = reg.pending[t]["applied"]
            reg.complete(
                t, draw(st.sampled_from(["ok", "ok", "info"] if done else ["fail", "info"]))
            )
    return reg.finish(), reg.procs


@settings(max_examples=300, deadline=None)
@given(st.booleans().flatmap(lambda versions: register_runs(versions)))
def test_single_copy_register_upholds_every_session_guarantee(
    run: tuple[list[Row], list[int]],
) -> None:
    v = check_sessions(history(*run[0]))
    assert v.result == "valid", [a.to_json() for a in v.anomalies]
    assert v.details["guarantees"][RYW] == v.details["guarantees"][MR] == "valid"
    assert {v.details["guarantees"][g] for g in (MW, WFR)} <= {"valid", "unknown"}


@settings(max_examples=300, deadline=None)
@given(st.data(), st.booleans())
def test_one_stale_read_after_an_own_write_breaks_read_your_writes(
    data: st.DataObject, versions: bool
) -> None:
    rows, procs = data.draw(register_runs(versions))
    rows = list(rows)
    k = data.draw(st.sampled_from(sorted({row[3] for row in rows})))
    writes = _ok_writes(rows, k)  # value -> (process, invocation index, completion index, version)
    mine = [x for x in writes.values() if x[0] in procs]
    if mine:
        p, started = mine[-1][0], max(x[1] for x in mine if x[0] == mine[-1][0])
    else:
        p, started = 10_000, len(rows)
        own = {"version": 10_000} if versions else None
        rows += [(p, "invoke", "write", k, 10_000), (p, "ok", "write", k, 10_000, own)]
    older = [(val, x[3]) for val, x in writes.items() if x[2] < started] + [(None, 0)]
    value, version = data.draw(st.sampled_from(older))
    seen = {"version": version} if versions else None
    rows += [(p, "invoke", "read", k, None), (p, "ok", "read", k, value, seen)]
    v = check_sessions(history(*rows), order="version" if versions else "auto")
    assert v.result == "invalid"
    stale = {len(rows) - 2, len(rows) - 1}
    assert any(stale <= set(a.ops) for a in of_kind(v, RYW)), [a.to_json() for a in v.anomalies]


def _ok_writes(rows: list[Row], key: str) -> dict[Any, tuple[Any, int, int, Any]]:
    invoked: dict[Any, int] = {}
    out: dict[Any, tuple[Any, int, int, Any]] = {}
    for i, (p, typ, f, k, value, *rest) in enumerate(rows):
        if f != "write" or k != key:
            continue
        if typ == "invoke":
            invoked[p] = i
        elif typ == "ok":
            version = (rest[0] or {}).get("version", 0) if rest else 0
            out[value] = (p, invoked[p], i, version)
    return out
