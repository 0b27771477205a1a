"""The sdconform command: exit codes, JSON output, one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_sdconform.cli import main
from pytest_sdconform.formats import read_history

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "conformance"
EXAMPLE = ROOT / "examples" / "replica-stale-read.jsonl"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_invalid_and_unknown_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    good = CORPUS / "knossos/cas-register/good/cas-register-bug.edn"
    bad = CORPUS / "knossos/cas-register/bad/rethink-fail-minimal.edn"
    hard = CORPUS / "porcupine/jepsen/etcd_002.log"
    assert run(capsys, "check", str(good))[0] == 0
    code, out, _ = run(capsys, "check", str(bad))
    assert code == 1 and "invalid" in out and "nonlinearizable" in out
    code, out, _ = run(capsys, "check", str(hard), "--time-limit", "0")
    assert code == 2 and "time limit" in out


def test_json_output_has_the_verdict_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(CORPUS / "porcupine/jepsen/etcd_000.log"), "--json")
    fields = json.loads(out)
    assert code == 1
    assert fields["model"] == "etcd-cas-register"  # guessed from the format
    assert fields["checkers"] == {"linearizable": "invalid"}
    assert fields["anomalies"][0]["kind"] == "nonlinearizable" and fields["anomalies"][0]["ops"]
    assert set(fields["ops"]) == {"ok", "fail", "info"}


def test_sessions_json_names_each_anomaly_kind(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(EXAMPLE), "--model", "sessions", "--json")
    fields = json.loads(out)
    assert code == 1
    assert {"read-your-writes", "monotonic-reads"} <= set(fields["anomaly_kinds"])
    assert {a["kind"] for a in fields["anomalies"]} == set(fields["anomaly_kinds"])


def test_bad_input_is_one_line_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"process": 1, "type": "invoke", "f": "read"}\n{"process": 1, "type": "ok"\n')
    code, out, err = run(capsys, "check", str(bad))
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and f"{bad}:2:" in err
    orphan = tmp_path / "orphan.jsonl"
    orphan.write_text('{"process": 4, "type": "ok", "f": "write", "value": 1}\n')
    code, _, err = run(capsys, "check", str(orphan))
    assert code == 3 and f"{orphan}:1:" in err and "no invocation" in err


def test_unknown_model_and_bad_option_are_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(EXAMPLE), "--model", "bogus")
    assert code == 3 and "unknown model 'bogus'" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as e:
        main(["check", str(EXAMPLE), "--format", "yaml"])
    assert e.value.code == 3


def test_model_mismatch_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(EXAMPLE), "--model", "mutex")
    assert code == 3 and "has no operation 'write'" in err


def test_convert_to_jepsen_edn_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edn = tmp_path / "h.edn"
    assert run(capsys, "convert", str(EXAMPLE), str(edn), "--to", "jepsen-edn")[0] == 0
    back = tmp_path / "back.jsonl"
    assert run(capsys, "convert", str(edn), str(back))[0] == 0
    fields = ("index", "time", "process", "type", "f", "key", "value", "node")
    a, b = read_history(str(EXAMPLE)), read_history(str(back))
    assert [[getattr(op, x) for x in fields] for op in a] == [
        [getattr(op, x) for x in fields] for op in b
    ]


def test_console_script_runs_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_sdconform.cli", "check", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3 and "Traceback" not in proc.stderr and "nope.jsonl" in proc.stderr


def test_claims_lists_the_catalogue_and_what_is_tested(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "claims", "--json", "--suites", str(ROOT / "suites"))
    rows = json.loads(out)
    assert code == 0 and len(rows) == 225
    assert {"id", "system", "tier", "tested"} <= set(rows[0])
    by_id = {r["id"]: r for r in rows}
    assert by_id["redis-single-threaded"]["tested"] is True
    assert by_id["memcached-ha"]["tested"] is True
    assert by_id["neo4j-acid"]["tested"] is False
    code, out, _ = run(capsys, "claims", "--system", "redis", "--suites", str(ROOT / "suites"))
    assert code == 0 and "of 22 claims have a test" in out
    code, _, err = run(capsys, "claims", "--system", "nope")
    assert code == 3 and "unknown system 'nope'" in err
