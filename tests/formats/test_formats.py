"""Readers and writers: our JSON Lines, Jepsen EDN round trips, and the corpus formats."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from compact import history

from pytest_sdconform.formats import detect, jepsen, jsonl, parse, read_history
from pytest_sdconform.formats.edn import EdnError, Keyword, dumps, loads_all
from pytest_sdconform.history import HistoryError, Operation

CORPUS = Path(__file__).resolve().parent.parent / "conformance"


def test_jsonl_round_trip_keeps_workload_fields(tmp_path: Path) -> None:
    ops = [
        Operation(0, 10, 3, "invoke", "write", "k1", 17, "n2"),
        Operation(1, 20, 3, "ok", "write", "k1", 17, "n2", extra={"version": 4}),
        Operation(2, 30, "nemesis", "info", "partition-start", None, {"groups": [["n1"], ["n2"]]}),
    ]
    path = tmp_path / "h.jsonl"
    with open(path, "w") as out:
        jsonl.write(ops, out)
    back = read_history(str(path))
    assert [(o.time, o.process, o.type, o.f, o.key, o.value, o.node) for o in back] == [
        (o.time, o.process, o.type, o.f, o.key, o.value, o.node) for o in ops
    ]
    assert back[1].get("version") == 4


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"process": 1, "type": "done", "f": "read"}', "'type' must be one of"),
        ('{"process": 1, "type": "ok", "f": "read"', "malformed operation"),
        ('{"process": [1], "type": "ok", "f": "read"}', "'process' must be"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"process": 1, "type": "invoke", "f": "read", "key": "x"}\n\n' + line + "\n")
    with pytest.raises(HistoryError) as e:
        read_history(str(path), "jsonl")
    assert e.value.line == 3 and e.value.path == str(path)
    assert message in str(e.value) and str(e.value).startswith(f"{path}:3: ")


def test_completion_without_invocation_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(
        '{"process": 1, "type": "invoke", "f": "read"}\n'
        '{"process": 1, "type": "ok", "f": "read"}\n'
        '{"process": 2, "type": "ok", "f": "write", "value": 3}\n'
    )
    with pytest.raises(HistoryError, match=r"h.jsonl:3: ok completion of write by process 2"):
        read_history(str(path))


def test_edn_reader_handles_the_subset() -> None:
    text = '; comment\n[{:a 1, :b "x\\"y" :c nil} (1 2.5 -3) #{:k} {:d [true false]}]'
    ((value, line),) = loads_all(text)
    assert line == 2
    assert value[0] == {"a": 1, "b": 'x"y', "c": None}
    assert value[1] == [1, 2.5, -3] and value[2] == frozenset({"k"})
    assert isinstance(next(iter(value[2])), Keyword)
    with pytest.raises(EdnError):
        loads_all("[1 2")
    assert dumps({Keyword("f"): Keyword("read"), Keyword("value"): [1, None, "s"]}) == (
        '{:f :read, :value [1 nil "s"]}'
    )


def test_jepsen_edn_round_trip() -> None:
    h = history(
        '1 invoke txn - [["append", "x", 1], ["r", "x", null]]',
        '1 ok txn - [["append", "x", 1], ["r", "x", [1]]]',
        'n info partition-start - {"groups": [["n1"], ["n2"]]}',
        '2 invoke write k "a\\"b"',
        '2 info write k "a\\"b"',
    )
    out = io.StringIO()
    jepsen.write(h, out)
    text = out.getvalue()
    assert text.startswith(jepsen.HEADER)
    assert '[[:append "x" 1] [:r "x" nil]]' in text and ":process :nemesis" in text
    back = parse(text)
    assert detect("x.edn", text) == "jepsen-edn"
    assert [(o.process, o.type, o.f, o.key, o.value) for o in back] == [
        (o.process, o.type, o.f, o.key, o.value) for o in h
    ]


def test_knossos_nil_read_is_unknown_and_nemesis_is_skipped() -> None:
    text = (
        "[{:process 0 :type :invoke :f :read :value nil}\n"
        " {:process :nemesis :type :info :f :start}\n"
        " {:process 0 :type :ok :f :read :value nil}]"
    )
    h = parse(text, "knossos-edn")
    assert [(o.type, o.f) for o in h] == [("invoke", "read"), ("info", "read")]
    assert h.meta["initial"] == 0


def test_format_detection_on_the_corpus() -> None:
    for name, fmt in [
        ("porcupine/jepsen/etcd_000.log", "porcupine-etcd"),
        ("porcupine/kv/c01-ok.txt", "porcupine-kv"),
        ("knossos/mutex/bad/etcd.edn", "knossos-edn"),
    ]:
        path = CORPUS / name
        assert detect(str(path), path.read_text()[:4096]) == fmt


def test_etcd_reader_semantics() -> None:
    h = read_history(str(CORPUS / "porcupine/jepsen/etcd_100.log"))
    types = {(o.type, o.f) for o in h}
    assert ("info", "read") in types  # `:fail :read :timed-out` has an unknown outcome
    assert ("fail", "cas") in types  # compare failed


def test_unknown_format_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="unknown format"):
        parse("", "yaml")
    with pytest.raises(HistoryError, match="cannot read"):
        read_history(str(tmp_path / "missing.jsonl"))
    garbage = tmp_path / "g.bin"
    garbage.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(HistoryError):
        read_history(str(garbage))


def test_jsonl_dump_is_one_line_per_operation() -> None:
    line = jsonl.dumps(Operation(0, 1, 2, "ok", "read", "k", None))
    assert "\n" not in line and json.loads(line)["value"] is None


def test_a_history_is_read_from_a_path_as_from_a_string(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(json.dumps({"index": 0, "time": 0, "process": 0, "type": "invoke",
                                "f": "read", "key": "x", "value": None}) + "\n")
    assert len(read_history(path).ops) == len(read_history(str(path)).ops) == 1
