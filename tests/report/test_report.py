"""The HTML report of a run folder: self-contained, complete, escaped, and its chart data sound."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from runfolder import EVIL, MS, HistoryWriter, S, build_run

from pytest_sdconform.claims import claims_for, get_claim
from pytest_sdconform.formats import jsonl
from pytest_sdconform.report import write_report
from pytest_sdconform.report.data import load_report, script_json
from pytest_sdconform.report.series import bin_width, build_series
from pytest_sdconform.report.timeline import assign_lanes, build_timeline, evenly, sample

Run = tuple[Path, dict[str, Any]]
DATA = re.compile(r'<script type="application/json" id="sdconform-data">(.*?)</script>', re.S)


@pytest.fixture
def run_folder(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The small run folder of runfolder.py (three cases) and what it holds."""
    folder = tmp_path / "run"
    return folder, build_run(folder)


def chart_data(html: str) -> dict[str, Any]:
    match = DATA.search(html)
    assert match, "the page has no data blob"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_write_report_writes_index_html(run_folder: Run) -> None:
    folder, _ = run_folder
    path = write_report(folder)
    assert path == folder / "index.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(folder.glob(".*.tmp"))


def test_page_is_self_contained(run_folder: Run) -> None:
    html = write_report(run_folder[0]).read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"""\b(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(", html, re.I)
    assert "<style>" in html and "data-rendered" in html


def test_every_case_claim_quote_and_outcome_is_on_the_page(run_folder: Run) -> None:
    folder, built = run_folder
    html = write_report(folder).read_text(encoding="utf-8")
    for case in built["cases"]:
        claim = get_claim(case["claim"])
        assert claim.id in html
        assert str(escape(claim.source.quote)) in html
        assert f"{claim.source.file}:{claim.source.line}" in html
        assert f'href="#{case["case"]}"' in html and f'id="{case["case"]}"' in html
        assert f'<span class="badge {case["outcome"]}">{case["outcome"]}</span>' in html
    assert "✗ not as expected" in html and "✓ as expected" in html


def test_header_counts_outcomes_and_expectations(run_folder: Run) -> None:
    report = load_report(run_folder[0])
    assert report.run_id == "20250101-120000-ab12"
    assert report.outcome_counts == {"upheld": 1, "refuted": 1, "inconclusive": 1}
    assert (report.passed, report.failed) == (2, 1)
    html = write_report(run_folder[0]).read_text(encoding="utf-8")
    assert "<b>2</b> as expected (passed)" in html
    assert "<b>1</b> not as expected (failed)" in html


def test_every_claim_of_the_runs_systems_is_listed(run_folder: Run) -> None:
    folder, built = run_folder
    report = load_report(folder)
    tested = {c["claim"] for c in built["cases"]}
    redis = [c.id for c in claims_for("redis")]
    assert [r.claim_id for r in report.untested] == [c for c in redis if c not in tested]
    assert all(r.outcome_label == "no test yet" for r in report.untested)
    html = write_report(folder).read_text(encoding="utf-8")
    for claim_id in redis:
        assert f"<code>{claim_id}</code>" in html
    assert html.count(">no test yet</span>") == len(redis) - len(tested)


def test_values_from_histories_and_verdicts_are_escaped(run_folder: Run) -> None:
    html = write_report(run_folder[0]).read_text(encoding="utf-8")
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # config, explanation, op table
    labels = [op[7] for op in chart_data(html)["case-002"]["timeline"]["ops"]]
    assert any(EVIL in label for label in labels)  # raw in the data, drawn with textContent


def test_script_json_cannot_close_its_element() -> None:
    text = script_json({"v": "</script><!-- & \u2028", "nan": float("nan")})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"v": "</script><!-- & \u2028", "nan": None}


def test_chart_data_parses_and_describes_each_case(run_folder: Run) -> None:
    data = chart_data(write_report(run_folder[0]).read_text(encoding="utf-8"))
    assert sorted(data) == ["case-001", "case-002", "case-003"]
    one = data["case-001"]["timeline"]
    assert one["lanes"] == ["p0", "p1", "p2", "p3"]
    assert [w["fault"] for w in one["windows"]] == ["partition"]
    assert one["windows"][0]["start"] == 1.0 and one["windows"][0]["end"] == 2.0
    assert all(op[3] == 0 for op in one["ops"])  # every operation of case 1 is ok
    series = data["case-001"]["series"]
    assert len(series["ok"]) == len(series["p99"]) and series["width"] > 0
    three = data["case-003"]["timeline"]
    assert three["windows"][0]["healed"] is False and three["windows"][0]["end"] == three["end"]
    assert any(op[3] == 2 for op in three["ops"])  # the info operation


def test_refutation_lists_and_highlights_its_operations(run_folder: Run) -> None:
    folder, built = run_folder
    report = load_report(folder)
    case = next(c for c in report.cases if c.outcome == "refuted")
    [anomaly] = case.anomalies
    assert anomaly.kind == "lost-write" and anomaly.key == "evil"
    write, read = anomaly.ops
    lost = built["lost"]
    assert write.index == f"{lost[0]} → {lost[1]}" and write.value == EVIL and write.type == "ok"
    assert read.f == "read" and read.value == "null"
    ops = chart_data(write_report(folder).read_text(encoding="utf-8"))["case-002"]["timeline"][
        "ops"
    ]
    assert sum(op[5] for op in ops) == 2
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "Evidence: 1 anomaly" in html and "<h4>lost-write" in html
    assert f"<td>{lost[0]} → {lost[1]}</td>" in html


def test_many_anomalies_show_two_and_fold_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    built = build_run(folder)
    cases = built["cases"]
    one = cases[1]["anomalies"][0]
    cases[1]["anomalies"] = [dict(one, checker="lost-writes") for _ in range(5)]
    (folder / "verdicts.json").write_text(json.dumps(cases))
    html = write_report(folder).read_text(encoding="utf-8")
    assert "Evidence: 5 anomalies" in html
    assert "<b>lost-write</b> (found by the lost-writes checker) \u00d75" in html
    shown, folded = html.split('<details class="more-anomalies">')
    assert shown.count("<h4>lost-write") == 2 and "3 more anomalies" in folded
    assert folded.split("</details>")[0].count("<h4>lost-write") == 3


def test_links_to_history_and_node_logs(run_folder: Run) -> None:
    html = write_report(run_folder[0]).read_text(encoding="utf-8")
    assert 'href="case-001/history.jsonl"' in html
    assert (
        'href="case-001/nodes/n1/node.log"' in html and 'href="case-001/nodes/n2/node.log"' in html
    )


def test_big_history_is_capped_but_keeps_the_anomaly(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    built = build_run(folder)
    w = HistoryWriter()
    w.fault("partition", 2 * S, 4 * S)
    for n in range(6000):
        w.operation(n % 8, "write", n * MS, MS // 2, "fail" if n % 50 == 0 else "ok", value=n)
    w.operation(99, "read", 5 * S, MS, key="x", result=None, mark="needle")
    marks = w.write(folder / "case-001" / "history.jsonl")
    cases = built["cases"]
    cases[0]["anomalies"] = [{"kind": "stale-read", "ops": [marks["needle:complete"]]}]
    (folder / "verdicts.json").write_text(json.dumps(cases))
    html = write_report(folder, max_ops=1000).read_text(encoding="utf-8")
    assert "Showing 1,000 of 6,001 operations" in html
    timeline = chart_data(html)["case-001"]["timeline"]
    assert len(timeline["ops"]) == 1000
    assert [op[7] for op in timeline["ops"] if op[5]] == [
        "process 99 read key x null → ok after 1.0 ms"
    ]
    assert sum(1 for op in timeline["ops"] if op[3] == 1) == 120  # every fail kept
    series = chart_data(html)["case-001"]["series"]
    assert round(sum(series["ok"]) * series["width"]) == 6000 - 120 + 1  # series count everything


def test_missing_history_and_unknown_claim_are_said(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    built = build_run(folder)
    cases = built["cases"]
    cases[0]["history"] = "../../etc/passwd"
    cases[1]["claim"] = "no-such-claim"
    (folder / "verdicts.json").write_text(json.dumps(cases))
    report = load_report(folder)
    assert report.cases[0].timeline is None and report.cases[0].history_href is None
    assert any("no-such-claim" in note for note in report.notes)
    html = write_report(folder).read_text(encoding="utf-8")
    assert "no history was recorded" in html and "not in the claims catalogue" in html
    assert "etc/passwd" not in html  # a path outside the run folder is neither read nor linked


def test_empty_folder_still_renders(tmp_path: Path) -> None:
    html = write_report(tmp_path).read_text(encoding="utf-8")
    assert "verdicts.json is missing" in html and "No case ran" in html
    assert chart_data(html) == {}


def test_bin_width_is_a_round_number() -> None:
    assert bin_width(60) == 0.5
    assert bin_width(3) == 0.05
    assert bin_width(0) == 0.001


def test_series_counts_completions_per_second(tmp_path: Path) -> None:
    w = HistoryWriter()
    for n in range(10):
        w.operation(0, "write", n * 100 * MS, 10 * MS, "ok" if n < 8 else "fail", value=n)
    w.write(tmp_path / "h.jsonl")
    history = jsonl.read(str(tmp_path / "h.jsonl"))
    series = build_series(history.complete(), 0, history.ops[-1].time)
    assert round(sum(series["ok"]) * series["width"]) == 8
    assert round(sum(series["fail"]) * series["width"]) == 2
    assert [p for p in series["p50"] if p is not None] == [10.0] * 8


def test_sample_keeps_what_it_must() -> None:
    assert evenly([1, 2, 3], 5) == [1, 2, 3]
    assert evenly(list(range(10)), 2) == [0, 5]
    assert evenly([1], 0) == []

    class Op:
        def __init__(self, type: str) -> None:
            self.type = type

    ops: list[Any] = [Op("ok")] * 100 + [Op("info")] * 10
    chosen = sample(ops, {3}, 20)
    assert 3 in chosen and len(chosen) == 20
    assert sum(1 for i in chosen if i >= 100) == 9  # half the budget left after the anomaly


def test_a_client_keeps_its_lane_after_an_info(tmp_path: Path) -> None:
    w = HistoryWriter()
    w.operation(0, "write", 0, 5 * MS, value=1)
    w.operation(1, "write", 1 * MS, 5 * MS, value=2)
    w.operation(0, "write", 10 * MS, 50 * MS, "info", value=3)  # p0 times out at 60 ms...
    w.operation(2, "write", 61 * MS, 5 * MS, value=4)  # ...and its thread goes on as p2
    w.operation(1, "write", 70 * MS, 5 * MS, value=5)
    w.operation(3, "write", 80 * MS, 5 * MS, value=6)  # a new client: a lane of its own
    w.write(tmp_path / "h.jsonl")
    history = jsonl.read(str(tmp_path / "h.jsonl"))
    completed = history.complete()
    lane_of, lanes = assign_lanes(completed)
    assert lane_of == {0: 0, 2: 0, 1: 1, 3: 2}
    assert lanes == [["p0", "p2"], ["p1"], ["p3"]]
    timeline = build_timeline(history, completed, [])
    assert timeline.lanes == ["p0 +1", "p1", "p3"]
    assert timeline.lane_processes[0] == "p0 → p2"
    info = next(op for op in timeline.ops if op[3] == 2)
    assert info[2] == 0.06  # drawn solid to its timeout, then (by the page) to the end


def test_a_case_without_a_claim_is_shown_as_such(tmp_path: Path) -> None:
    folder = tmp_path / "noclaim"
    cases = build_run(folder)["cases"]
    cases[2]["claim"] = None
    cases[2]["metrics"] = {"rto_s": None, "availability": 0.5}
    (folder / "verdicts.json").write_text(json.dumps(cases))
    report = load_report(folder)
    assert report.notes == []
    assert report.cases[2].metrics == [("availability", "0.5")]
    html = write_report(folder).read_text(encoding="utf-8")
    assert "the test names no claim" in html and "None" not in html


def test_a_case_says_what_it_exercised_and_where_its_faults_and_anomalies_were(
    run_folder: Run,
) -> None:
    html = write_report(run_folder[0]).read_text(encoding="utf-8")
    assert "kill x2 (1.0-2.5 s, 4.0-end s; 1 not proven)" in html
    assert "exercised</dt><dd>yes: 120 acknowledged adds before the 2 faults" in html
    assert "<code>rdb-defaults</code>: snapshots only" in html
    assert "(during the faults)" in html
    # an older folder's bare fault names still show
    assert "partition-halves" in html


def test_a_refuted_case_shows_its_minimal_counterexample_first(run_folder: Run) -> None:
    folder, built = run_folder
    verdicts = json.loads((folder / "verdicts.json").read_text())
    refuted = next(c for c in verdicts if c["outcome"] == "refuted")
    lost = built["lost"]
    refuted["minimal_counterexample"] = {
        "operations": 1, "of": 40, "minimal": True, "tries": 3, "seconds": 0.01,
        "ops": [{"index": lost[0]}, {"index": lost[1]}]}
    (folder / "verdicts.json").write_text(json.dumps(verdicts))
    case = next(c for c in load_report(folder).cases if c.outcome == "refuted")
    assert case.counterexample is not None and case.counterexample.operations == 1
    [row] = case.counterexample.rows
    assert row.index == f"{lost[0]} → {lost[1]}"
    html = write_report(folder).read_text(encoding="utf-8")
    assert "Minimal counterexample: 1 operation " in html
    assert html.index("Minimal counterexample") < html.index("Evidence: 1 anomaly")
    assert "No single operation of it can be left out" in html


def test_a_nonlinearizable_key_is_drawn_where_its_linearization_fails(tmp_path: Path) -> None:
    from pytest_sdconform.checkers.linearizable import check_linearizable
    from pytest_sdconform.history import History, Operation

    ops, t = [], 0
    for i, (p, f, value) in enumerate([(0, "write", 1), (1, "read", 1), (0, "write", 2),
                                       (1, "write", 3), (2, "read", 2)]):
        ops.append(Operation(2 * i, t, p, "invoke", f, "k", None if f == "read" else value))
        ops.append(Operation(2 * i + 1, t + MS, p, "ok", f, "k", value))
        t += 2 * MS
    history = History(ops)
    verdict = check_linearizable(history, "register")
    assert verdict.result == "invalid"
    folder = tmp_path / "run"
    (folder / "case-001").mkdir(parents=True)
    (folder / "case-001" / "history.jsonl").write_text(
        "".join(jsonl.dumps(op) + "\n" for op in ops))
    (folder / "verdicts.json").write_text(json.dumps([{
        "case": "case-001", "test": "t", "claim": None, "outcome": "refuted",
        "expected": "refuted", "history": "case-001/history.jsonl",
        "anomalies": [a.to_json() for a in verdict.anomalies]}], default=str))
    [case] = load_report(folder).cases
    lin = case.anomalies[0].linearization
    assert lin is not None and lin.placed == 4 and lin.state_before == "3"
    assert [(o.number, o.op, o.state) for o in lin.ops] == [
        (1, "write 'k' 1", "1"), (2, "read 'k' -> 1", "1"), (3, "write 'k' 2", "2"),
        (4, "write 'k' 3", "3"), (0, "read 'k' -> 2", "")]
    assert lin.ops[-1].x > lin.ops[0].x and lin.lanes == ["0", "1", "2"]
    html = write_report(folder).read_text(encoding="utf-8")
    assert "the longest linearizable prefix has 4 operations" in html
    assert "cannot be placed: the state was <code>3</code>" in html
