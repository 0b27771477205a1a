"""The recorder's line writer (``jsonl.tail``) writes exactly what ``jsonl.dumps``, the
reference built on ``json``'s encoder, writes: any operation, byte for byte."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sdconform.formats import jsonl
from pytest_sdconform.history import Operation

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text()
           | st.sampled_from(["k1", "n1", "127.0.0.1", "timeout", "é", "\u2603", "\x00\"\\"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=12)
# Workload fields, some named like the operation's own (op_to_dict keeps the operation's).
names = st.sampled_from(["final", "version", "offset", "key", "value", "node", "error", "index",
                         "time", "process", "type", "f"]) | st.text(max_size=6)


class Odd:
    """A value json cannot write as itself: default=str writes its str."""

    def __str__(self) -> str:
        return "odd"


def line(op: Operation) -> str:
    return f'{{"index": {op.index}, "time": {op.time}' + jsonl.tail(
        op.process, op.type, op.f, op.key, op.value, op.node, op.error, op.extra)


@given(
    index=st.integers(0, 10**12),
    time=st.integers(0, 10**18),
    process=st.integers(-5, 10**6) | st.just("nemesis"),
    type=st.sampled_from(["invoke", "ok", "fail", "info"]),
    f=st.sampled_from(["read", "write", "cas", "poll", "dequeue", "txn", "kill-start"]) | st.text(),
    key=values,
    value=values,
    node=st.none() | st.text(max_size=8),
    error=st.none() | values,
    extra=st.none() | st.dictionaries(names, values, max_size=4),
)
def test_tail_writes_what_dumps_writes(index: int, time: int, process: int | str, type: str,
                                       f: str, key: Any, value: Any, node: str | None,
                                       error: Any, extra: dict[str, Any] | None) -> None:
    op = Operation(index, time, process, type, f, key, value, node, error, extra or None)
    assert line(op) == jsonl.dumps(op) + "\n"


def test_tail_on_values_json_writes_its_own_way() -> None:
    int_key: dict[Any, Any] = {"key": "x", 5: "an int key"}
    cases = [
        Operation(1, 2, 3, "ok", "read", "k", math.nan, extra={"t": math.inf, "b": True}),
        Operation(1, 2, 3, "ok", "read", "k", None),  # a read's null value is written
        Operation(1, 2, 3, "ok", "write", "k", None),  # a write's is not
        Operation(1, 2, True, "ok", "write", 7, [1, [2, None]], error={"b": 1, "a": Odd()}),
        Operation(1, 2, 3, "info", "write", "k", 1, extra={"key": "x", "index": 9, "v": 1}),
        Operation(1, 2, 3, "info", "write", None, 1, extra=int_key),
    ]
    for op in cases:
        assert line(op) == jsonl.dumps(op) + "\n"
    assert json.loads(line(cases[-1]))["key"] == "x"  # the operation had none: the field's


def circular() -> list[Any]:
    x: list[Any] = []
    x.append(x)
    return x


@pytest.mark.parametrize("bad", [{(1, 2): "a tuple key"}, circular()])
def test_tail_refuses_what_dumps_refuses(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)) as reference:
        jsonl.dumps(Operation(0, 0, 1, "ok", "write", "k", bad))
    with pytest.raises(reference.type, match=re.escape(str(reference.value))):
        jsonl.tail(1, "ok", "write", "k", bad)
