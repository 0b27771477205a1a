"""The linearizability checker: golden histories per model, properties, and budgets."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from compact import history
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pytest_sdconform.checkers.linearizable import check_linearizable
from pytest_sdconform.formats import read_history
from pytest_sdconform.history import History, Operation

CORPUS = Path(__file__).resolve().parent.parent / "conformance"


def test_sequential_register_is_valid() -> None:
    h = history("1 invoke write x 1", "1 ok write x 1", "2 invoke read x", "2 ok read x 1")
    assert check_linearizable(h, "register").result == "valid"


def test_stale_read_is_invalid_with_the_operations_that_show_it() -> None:
    h = history(
        "1 invoke write x 1",
        "1 ok write x 1",
        "1 invoke write x 2",
        "1 ok write x 2",
        "2 invoke read x",
        "2 ok read x 1",
    )
    v = check_linearizable(h, "register")
    assert v.result == "invalid"
    (a,) = v.anomalies
    assert a.kind == "nonlinearizable" and a.key == "x"
    assert {4, 5} <= set(a.ops) and {2, 3} <= set(a.ops)


def test_concurrent_write_may_be_seen_or_not() -> None:
    h = history(
        "1 invoke write x 1",
        "2 invoke read x",
        "2 ok read x null",
        "3 invoke read x",
        "3 ok read x 1",
        "1 ok write x 1",
    )
    assert check_linearizable(h, "register").result == "valid"


def test_read_of_never_written_key_is_null() -> None:
    assert check_linearizable(history("1 invoke read x", "1 ok read x null")).valid
    assert not check_linearizable(history("1 invoke read x", "1 ok read x 0")).valid


def test_info_write_may_take_effect_late_or_never() -> None:
    late = history(
        "1 invoke write x 1",
        "1 info write x 1",
        "2 invoke read x",
        "2 ok read x null",
        "2 invoke read x",
        "2 ok read x 1",
    )
    never = history("1 invoke write x 1", "1 info write x 1", "2 invoke read x", "2 ok read x null")
    assert check_linearizable(late, "register").valid
    assert check_linearizable(never, "register").valid
    # ...but once seen it cannot be un-done by itself
    flip = history(
        "1 invoke write x 1",
        "1 info write x 1",
        "2 invoke read x",
        "2 ok read x 1",
        "2 invoke read x",
        "2 ok read x null",
    )
    assert check_linearizable(flip, "register").result == "invalid"


def test_failed_operation_never_happened() -> None:
    h = history("1 invoke write x 1", "1 fail write x 1", "2 invoke read x", "2 ok read x 1")
    assert check_linearizable(h, "register").result == "invalid"


def test_cas_register_and_etcd_compare_failed() -> None:
    ok = history(
        "1 invoke write - 1",
        "1 ok write - 1",
        "1 invoke cas - [1, 2]",
        "1 ok cas - [1, 2]",
        "2 invoke read -",
        "2 ok read - 2",
    )
    assert check_linearizable(ok, "cas-register").valid
    # etcd: a failed cas means the compare failed, which is impossible when the value matched
    h = history(
        "1 invoke write - 1", "1 ok write - 1", "1 invoke cas - [1, 2]", "1 fail cas - [1, 2]"
    )
    assert check_linearizable(h, "cas-register").valid  # fail: dropped
    assert check_linearizable(h, "etcd-cas-register").result == "invalid"


def test_keys_are_independent() -> None:
    h = history(
        "1 invoke write x 1",
        "1 ok write x 1",
        "1 invoke write y 2",
        "1 ok write y 2",
        "2 invoke read y",
        "2 ok read y 2",
        "2 invoke read x",
        "2 ok read x 1",
    )
    v = check_linearizable(h, "register")
    assert v.valid and v.details["partitions"] == 2


@pytest.mark.parametrize(
    ("model", "events", "expected"),
    [
        (
            "kv-append",
            [
                '1 invoke append k "a"',
                '1 ok append k "a"',
                '1 invoke append k "b"',
                '1 ok append k "b"',
                "2 invoke read k",
                '2 ok read k "ab"',
            ],
            "valid",
        ),
        (
            "kv-append",
            [
                '1 invoke append k "a"',
                '1 ok append k "a"',
                '1 invoke append k "b"',
                '1 ok append k "b"',
                "2 invoke read k",
                '2 ok read k "ba"',
            ],
            "invalid",
        ),
        (
            "kv-append",
            [
                "1 invoke append k 1",
                "2 invoke append k 2",
                "1 ok append k 1",
                "2 ok append k 2",
                "3 invoke read k",
                "3 ok read k [2, 1]",
            ],
            "valid",
        ),
        (
            "set",
            ["1 invoke add s 1", "1 ok add s 1", "2 invoke read s", "2 ok read s [1]"],
            "valid",
        ),
        (
            "set",
            ["1 invoke add s 1", "1 ok add s 1", "2 invoke read s", "2 ok read s []"],
            "invalid",
        ),
        (
            "queue",
            [
                "1 invoke enqueue q 1",
                "1 ok enqueue q 1",
                "1 invoke enqueue q 2",
                "1 ok enqueue q 2",
                "2 invoke dequeue q",
                "2 ok dequeue q 2",
            ],
            "invalid",
        ),
        (
            "queue",
            [
                "1 invoke enqueue q 1",
                "2 invoke enqueue q 2",
                "2 ok enqueue q 2",
                "1 ok enqueue q 1",
                "3 invoke dequeue q",
                "3 ok dequeue q 2",
            ],
            "valid",
        ),
        ("queue", ["1 invoke dequeue q", "1 ok dequeue q null"], "valid"),
        (
            "mutex",
            ["1 invoke acquire -", "1 ok acquire -", "2 invoke acquire -", "2 ok acquire -"],
            "invalid",
        ),
        (
            "mutex",
            [
                "1 invoke acquire -",
                "1 ok acquire -",
                "1 invoke release -",
                "1 ok release -",
                "2 invoke acquire -",
                "2 ok acquire -",
            ],
            "valid",
        ),
        (
            "multi-register",
            [
                '1 invoke txn - [["write", "x", 1], ["write", "y", 1]]',
                '1 ok txn - [["write", "x", 1], ["write", "y", 1]]',
                '2 invoke txn - [["read", "x", null], ["read", "y", null]]',
                '2 ok txn - [["read", "x", 1], ["read", "y", 0]]',
            ],
            "invalid",
        ),
    ],
)
def test_models(model: str, events: list[str], expected: str) -> None:
    assert check_linearizable(history(*events), model).result == expected


def test_budget_gives_unknown_with_partial_evidence_never_valid() -> None:
    h = read_history(str(CORPUS / "porcupine/jepsen/etcd_002.log"))  # valid, but a large search
    v = check_linearizable(h, "etcd-cas-register", max_states=200)
    assert v.result == "unknown"
    (part,) = v.details["unknown_partitions"]
    assert part["longest_prefix"] and part["unplaced"]
    assert check_linearizable(h, "etcd-cas-register", time_limit=0.0).result == "unknown"


def test_unknown_model_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        check_linearizable(history(), "nope")


# --- properties: a simulated atomic register is valid; one stale read makes it invalid --------


def simulate(seed: int, n_ops: int, n_procs: int, keys: str) -> History:
    """Run clients against one atomic register per key; each op takes effect at a random instant
    between its invocation and completion. Some ops time out (info) and may or may not apply."""
    rnd = random.Random(seed)
    free_at = [0.0] * n_procs
    pids = list(range(n_procs))
    next_pid = n_procs
    timeline: list[tuple[float, int, str, int, str, Any, Any]] = []
    planned = []
    for j in range(n_ops):
        p = rnd.randrange(n_procs)
        start = free_at[p] + rnd.random()
        point = start + rnd.random() * 3
        end = point + rnd.random() * 3
        free_at[p] = end
        f = rnd.choice(["read", "write", "cas"])
        arg: Any = None if f == "read" else j + 1 if f == "write" else [rnd.randrange(j + 1), j + 1]
        info = rnd.random() < 0.1
        planned.append(
            (point, start, end, pids[p], f, rnd.choice(keys), arg, info, rnd.random() < 0.5)
        )
        if info:  # a crashed client comes back with a new process id
            pids[p] = next_pid
            next_pid += 1
    state: dict[str, Any] = {}
    for _point, start, end, pid, f, key, arg, info, applies in sorted(planned):
        out: Any = arg
        typ = "ok"
        if f == "read":
            out = state.get(key)
        elif info and not applies:
            pass
        elif f == "write":
            state[key] = arg
        elif state.get(key) == arg[0]:
            state[key] = arg[1]
        else:
            typ = "fail"
        if info:
            typ = "info"
        timeline.append((start, 0, "invoke", pid, f, key, arg if f != "read" else None))
        if not (info and rnd.random() < 0.5):  # some crashed ops never complete at all
            timeline.append((end, 1, typ, pid, f, key, out))
    timeline.sort(key=lambda e: (e[0], e[1]))
    return History(
        [
            Operation(i, i, pid, typ, f, key, value)
            for i, (_, _, typ, pid, f, key, value) in enumerate(timeline)
        ]
    )


SIM = st.tuples(
    st.integers(0, 2**32),
    st.integers(1, 60),
    st.integers(1, 6),
    st.sampled_from(["x", "xy", "xyz"]),
)


@settings(max_examples=150, deadline=None)
@given(SIM)
def test_simulated_linearizable_histories_are_valid(args: tuple[int, int, int, str]) -> None:
    v = check_linearizable(simulate(*args), "cas-register", time_limit=30)
    assert v.result == "valid", v.anomalies


def stale_read_target(h: History) -> tuple[int, Any] | None:
    """A read that can be made provably stale: w1 < w2 < read in real time, all ok, same key."""
    done = h.complete()
    writes = [c for c in done if c.f == "write" and c.type == "ok"]
    for r in done:
        if r.f != "read" or r.type != "ok":
            continue
        for w1 in writes:
            for w2 in writes:
                if (
                    w1.key == w2.key == r.key
                    and w1.completion.index < w2.invoke.index  # type: ignore[union-attr]
                    and w2.completion.index < r.invoke.index
                ):  # type: ignore[union-attr]
                    return r.completion.index, w1.invoke.value  # type: ignore[union-attr]
    return None


@settings(max_examples=150, deadline=None)
@given(SIM)
def test_one_provably_stale_read_makes_it_invalid(args: tuple[int, int, int, str]) -> None:
    h = simulate(*args)
    target = stale_read_target(h)
    assume(target is not None)  # about 70% of simulated histories have one
    index, old = target  # type: ignore[misc]
    h.ops[index].value = old
    v = check_linearizable(h, "cas-register", time_limit=30)
    assert v.result == "invalid"
    assert v.anomalies[0].ops


def test_indices_that_are_not_positions_give_the_same_verdict() -> None:
    # A slice of a longer history keeps its original indices; the search must use positions.
    events = (
        "1 invoke write x 1",
        "1 ok write x 1",
        "1 invoke write x 2",
        "1 ok write x 2",
        "2 invoke read x",
        "2 ok read x 1",
    )
    h = history(*events)
    for op in h.ops:
        op.index = 1000 - 10 * op.index  # unique, but neither positions nor increasing
    assert check_linearizable(h, "register").result == "invalid"
    h.ops[-1].value = 2
    assert check_linearizable(h, "register").result == "valid"
