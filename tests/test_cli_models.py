"""`sdconform check --model causal|convergence|monotonic-writes|read-after-ack`: exit codes and
the verdict's anomaly kinds, on small JSONL histories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_sdconform.cli import PROPERTY_CHECKERS, main


def jsonl(tmp_path: Path, name: str, *ops: tuple[Any, ...]) -> str:
    """Rows (process, type, f, key, value[, node[, extra]]) as a JSONL history file."""
    path = tmp_path / f"{name}.jsonl"
    lines = []
    for i, (p, t, f, k, v, *rest) in enumerate(ops):
        d: dict[str, Any] = {"index": i, "time": i * 1000, "process": p, "type": t, "f": f,
                             "key": k, "value": v}
        if rest and rest[0]:
            d["node"] = rest[0]
        if len(rest) > 1:
            d.update(rest[1])
        lines.append(json.dumps(d))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def op(p: Any, f: str, k: str, v: Any, node: str | None = None,
       **extra: Any) -> list[tuple[Any, ...]]:
    inv = None if f == "read" else v
    return [(p, "invoke", f, k, inv, node, extra), (p, "ok", f, k, v, node, extra)]


def check(capsys: pytest.CaptureFixture[str], path: str, model: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", path, "--model", model, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_new_properties_are_in_the_model_table_and_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # no line break inside a name
    names = ("causal", "convergence", "monotonic-writes", "read-after-ack")
    assert set(names) <= set(PROPERTY_CHECKERS)
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(n in text for n in names)


def test_causal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = jsonl(tmp_path, "good", *op(1, "write", "x", 1), *op(2, "read", "x", 1),
                 *op(2, "write", "y", 2), *op(3, "read", "y", 2), *op(3, "read", "x", 1))
    bad = jsonl(tmp_path, "bad", *op(1, "write", "x", 1), *op(2, "read", "x", 1),
                *op(2, "write", "y", 2), *op(3, "read", "y", 2), *op(3, "read", "x", None))
    empty = jsonl(tmp_path, "empty", *op(1, "write", "x", 1))
    assert check(capsys, good, "causal")[0] == 0
    code, fields = check(capsys, bad, "causal")
    assert code == 1 and fields["anomaly_kinds"] == ["causal-order-violated"]
    assert fields["checkers"] == {"causal": "invalid"}
    assert check(capsys, empty, "causal")[0] == 2


def test_convergence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fin = {"final": True}
    good = jsonl(tmp_path, "good", *op(1, "write", "x", 1, "n1"),
                 *op(2, "read", "x", 1, "n1", **fin), *op(3, "read", "x", 1, "n2", **fin))
    bad = jsonl(tmp_path, "bad", *op(1, "write", "x", 1, "n1"),
                *op(2, "read", "x", 1, "n1", **fin), *op(3, "read", "x", None, "n2", **fin))
    one = jsonl(tmp_path, "one", *op(1, "write", "x", 1, "n1"),
                *op(2, "read", "x", 1, "n1", **fin))
    assert check(capsys, good, "convergence")[0] == 0
    code, fields = check(capsys, bad, "convergence")
    assert code == 1 and fields["anomaly_kinds"] == ["divergent-final-reads"]
    assert "n1 said 1; n2 said None" in fields["anomalies"][0]["explanation"]
    assert check(capsys, one, "convergence")[0] == 2


def test_both_monotonic_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Process 1 writes 1 then 2 through n1; n2 returns 2 and later 1: the textbook guarantee
    # is broken (n2 applied 1 after 2), the document's is not (n2 acknowledged nothing).
    h = jsonl(tmp_path, "mw", *op(1, "write", "x", 1, "n1"), *op(1, "write", "x", 2, "n1"),
              *op(2, "read", "x", 2, "n2"), *op(3, "read", "x", 1, "n2"),
              *op(4, "read", "x", 2, "n1"))
    code, fields = check(capsys, h, "monotonic-writes")
    assert code == 1 and fields["anomaly_kinds"] == ["monotonic-writes"]
    assert check(capsys, h, "read-after-ack")[0] == 0
    # n1 acknowledged 2 and then served 1: the document's property is broken, the textbook's
    # is not (no node returned 2 before 1).
    h = jsonl(tmp_path, "ack", *op(1, "write", "x", 1, "n1"), *op(1, "write", "x", 2, "n1"),
              *op(2, "read", "x", 1, "n1"))
    code, fields = check(capsys, h, "read-after-ack")
    assert code == 1 and fields["anomaly_kinds"] == ["stale-read-after-ack"]
    assert check(capsys, h, "monotonic-writes")[0] == 2  # no read saw the later write


def test_bad_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = jsonl(tmp_path, "append", *op(1, "append", "x", 1), *op(2, "read", "x", [1]))
    assert main(["check", h, "--model", "causal"]) == 3
    assert "register histories" in capsys.readouterr().err


def test_the_time_limit_reaches_the_property_checkers_that_take_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [row for i in range(3000) for row in (*op(i % 3, "write", f"k{i % 7}", i),
                                                 *op(i % 3, "read", f"k{i % 7}", i))]
    path = jsonl(tmp_path, "many", *rows)
    assert main(["check", path, "--model", "causal", "--json"]) == 0
    capsys.readouterr()
    code = main(["check", path, "--model", "causal", "--time-limit", "0", "--json"])
    out = capsys.readouterr().out
    assert code == 2 and "time limit" in out


def test_staleness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v = {"version": 1}
    w2 = {"version": 2}
    fresh = jsonl(tmp_path, "fresh", *op(1, "write", "x", 1, None, **v),
                  *op(2, "read", "x", 1))
    stale = jsonl(tmp_path, "stale", *op(1, "write", "x", 1, None, **v),
                  *op(1, "write", "x", 2, None, **w2), *op(2, "read", "x", 1))
    assert check(capsys, fresh, "staleness")[0] == 0
    code, fields = check(capsys, stale, "staleness")
    assert code == 1 and fields["anomaly_kinds"] == ["stale-read"]


def test_mutual_exclusion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = jsonl(tmp_path, "one", *op(1, "acquire", "l", None), *op(1, "release", "l", None),
                *op(2, "acquire", "l", None))
    two = jsonl(tmp_path, "two", *op(1, "acquire", "l", None), *op(2, "acquire", "l", None),
                *op(3, "read", "other", None))  # both still held when the history goes on
    assert check(capsys, one, "mutual-exclusion")[0] == 0
    code, fields = check(capsys, two, "mutual-exclusion")
    assert code == 1 and fields["anomaly_kinds"] == ["two-holders"]
