"""sdconform compare: runs side by side, a regression against a baseline exits 1, links open the
right case, bad input names the file."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_sdconform import compare
from pytest_sdconform.claims import load_catalogue
from pytest_sdconform.cli import BAD_INPUT, main
from pytest_sdconform.report.render import render_compare

CHROMIUM = Path("/usr/bin/chromium")


def case(n: int, claim: str, backend: str, outcome: str, expected: str,
         configuration: str | None = None, **config: Any) -> dict[str, Any]:
    return {"case": f"case-{n:03d}", "test": f"suites/{backend}/test_x.py::test_{n}",
            "claim": claim, "configuration": configuration, "backend": backend,
            "config": config, "outcome": outcome, "expected": expected,
            "passed": outcome == expected, "reason": f"{outcome} because"}


def run_folder(path: Path, *cases: dict[str, Any]) -> Path:
    path.mkdir(parents=True)
    (path / "verdicts.json").write_text(json.dumps(list(cases)))
    return path


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    redis = run_folder(
        tmp_path / "redis-run",
        case(1, "redis-persistence-no-loss", "redis", "refuted", "refuted"),
        case(2, "redis-persistence-no-loss", "redis", "upheld", "upheld", "appendfsync-always"),
    )
    kafka = run_folder(
        tmp_path / "kafka-run",
        case(1, "kafka-replication-no-loss", "kafka", "upheld", "upheld", kafka="4.1.0"),
        case(2, "kafka-partition-order", "kafka", "inconclusive", "upheld", kafka="4.1.0"),
    )
    return redis, kafka


def test_the_matrix_has_a_row_per_system_version_and_configuration(runs: tuple[Path, Path]
                                                                     ) -> None:
    matrix = compare.build(list(runs), load_catalogue())
    labels = [r.label() for r in matrix.rows]
    assert labels == ["kafka · 4.1.0 · default", "redis · appendfsync-always",
                      "redis · default"]
    durable = "durability-no-lost-acked-writes"
    assert durable in matrix.columns
    cell = matrix.cell(compare.Row("redis", "", "default"), durable)
    assert cell is not None and cell.counts == {"refuted": 1} and cell.as_expected
    order = matrix.cell(compare.Row("kafka", "4.1.0", "default"), "per-partition-ordering")
    assert order is not None and order.counts == {"inconclusive": 1} and not order.as_expected
    assert set(matrix.by_claim) == {"redis-persistence-no-loss", "kafka-replication-no-loss",
                                    "kafka-partition-order"}


def test_markdown_links_each_cell_to_its_case(runs: tuple[Path, Path]) -> None:
    text = compare.markdown(compare.build(list(runs), load_catalogue()))
    assert f"[refuted]({runs[0]}/index.html#case-001)" in text
    assert "inconclusive ⚠" in text  # not the outcome expected there
    assert text.count("\n| ") >= 3 + 4  # matrix rows and the by-claim rows


def test_a_changed_outcome_against_the_baseline_exits_1(runs: tuple[Path, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    redis, _ = runs
    now = run_folder(
        tmp_path / "redis-now",
        case(1, "redis-persistence-no-loss", "redis", "refuted", "refuted"),
        case(2, "redis-persistence-no-loss", "redis", "refuted", "upheld", "appendfsync-always"),
    )
    assert main(["compare", str(redis), "--baseline", str(redis)]) == 0
    assert main(["compare", str(now), "--baseline", str(redis)]) == 1
    err = capsys.readouterr().err
    assert "regression: redis-persistence-no-loss [redis · appendfsync-always]" in err
    assert "was upheld as expected, now refuted" in err
    # a case that was not as expected in the baseline is no regression when it changes
    assert main(["compare", str(redis), "--baseline", str(now)]) == 0


def test_a_baseline_in_another_version_matches_the_same_case(runs: tuple[Path, Path],
                                                              tmp_path: Path) -> None:
    redis, _ = runs  # recorded no version (before redis runs recorded theirs)
    now = run_folder(
        tmp_path / "redis-versioned",
        case(1, "redis-persistence-no-loss", "redis", "refuted", "refuted", version="7.0.15"),
        case(2, "redis-persistence-no-loss", "redis", "upheld", "upheld", "appendfsync-always",
             version="7.0.15"),
    )
    before = compare.read_run(redis)
    assert compare.regressions(compare.read_run(now), before) == []
    worse = run_folder(
        tmp_path / "redis-upgraded",
        case(1, "redis-persistence-no-loss", "redis", "refuted", "refuted", version="7.2.4"),
        case(2, "redis-persistence-no-loss", "redis", "refuted", "upheld", "appendfsync-always",
             version="7.2.4"),
    )
    (regressed,) = compare.regressions(compare.read_run(worse), before)
    assert "now refuted" in regressed.describe() and "in version 7.2.4" in regressed.describe()
    # two versions side by side now: the baseline's case matches neither by guess
    both = compare.read_run(now) + compare.read_run(worse)
    both = [c for c in both if c.row.configuration == "appendfsync-always"]
    (gone,) = compare.regressions(both, [c for c in before
                                         if c.row.configuration == "appendfsync-always"])
    assert gone.now is None


def test_json_lists_cells_and_regressions(runs: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", *map(str, runs), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["system"] for r in data["rows"]] == ["kafka", "redis", "redis"]
    assert data["regressions"] == []
    cells = data["rows"][2]["cells"]
    assert cells["durability-no-lost-acked-writes"]["cases"][0]["link"].endswith("#case-001")
    assert cells["durability-no-lost-acked-writes"]["counts"] == {"refuted": 1}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """One row, four cases about durability: three upheld, one refuted as documented, and one
    inconclusive where upheld was expected."""
    return run_folder(
        tmp_path / "mixed-run",
        case(1, "redis-persistence-no-loss", "redis", "upheld", "upheld"),
        case(2, "redis-persistence-no-loss", "redis", "refuted", "refuted"),
        case(3, "redis-persistence-no-loss", "redis", "upheld", "upheld"),
        case(4, "redis-persistence-no-loss", "redis", "upheld", "upheld"),
        case(5, "redis-persistence-no-loss", "redis", "inconclusive", "upheld"),
    )


DURABLE = "durability-no-lost-acked-writes"


def test_a_cell_of_several_cases_counts_each_outcome(mixed: Path) -> None:
    cell = compare.build([mixed], load_catalogue()).cell(compare.Row("redis", "", "default"),
                                                         DURABLE)
    assert cell is not None
    assert cell.counts == {"upheld": 3, "refuted": 1, "inconclusive": 1}
    assert cell.summary() == "3 upheld · 1 refuted · 1 inconclusive"
    assert cell.unexpected == 1 and not cell.as_expected
    text = compare.cell_text(cell, link=False)
    # the refuted case was expected to be refuted: no mark; only the inconclusive one has it
    assert text == "3 upheld #001 #003 #004 · 1 refuted #002 · 1 inconclusive #005⚠"


def test_markdown_links_every_case_of_a_mixed_cell(mixed: Path) -> None:
    text = compare.markdown(compare.build([mixed], load_catalogue()))
    row = next(line for line in text.splitlines() if line.startswith("| redis · default |"))
    for n in range(1, 6):
        assert f"[#00{n}]({mixed}/index.html#case-00{n})" in row
    assert row.count("⚠") == 1 and f"[#005]({mixed}/index.html#case-005)⚠" in row
    assert "3 upheld [#001]" in row and "1 refuted [#002]" in row
    assert "(5)" not in row  # no lone outcome with a count any more


def test_json_cells_carry_counts_and_every_case(mixed: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(mixed), "--json"]) == 0
    cell = json.loads(capsys.readouterr().out)["rows"][0]["cells"][DURABLE]
    assert cell["counts"] == {"upheld": 3, "refuted": 1, "inconclusive": 1}
    assert cell["unexpected"] == 1 and cell["as_expected"] is False
    assert [c["case"] for c in cell["cases"]] == [f"case-00{n}" for n in range(1, 6)]
    assert "outcome" not in cell  # a cell has no single outcome


def test_the_html_cell_shows_counts_and_links_each_case(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "mixed.html"
    html = render_compare(compare.build([mixed], load_catalogue()), [], out)
    matrix = html.split('id="matrix"')[1].split('id="claims"')[0]
    assert ">3 upheld</span>" in matrix and ">1 refuted</span>" in matrix
    assert ">1 inconclusive</span>" in matrix
    parser = Links()
    parser.feed(matrix)
    assert sorted(h.rsplit("#", 1)[1] for h in parser.hrefs) == [f"case-00{n}"
                                                                  for n in range(1, 6)]
    assert matrix.count("⚠") == 1


def test_a_folder_without_verdicts_is_named(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(tmp_path / "nothing")]) == BAD_INPUT
    err = capsys.readouterr().err
    assert "nothing" in err and "no verdicts.json" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "verdicts.json").write_text("{not json")
    assert main(["compare", str(bad)]) == BAD_INPUT
    assert "verdicts.json" in capsys.readouterr().err


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]


def test_the_html_page_links_open_the_right_case(runs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "out" / "compare.html"
    out.parent.mkdir()
    matrix = compare.build(list(runs), load_catalogue())
    out.write_text(render_compare(matrix, [], out))
    parser = Links()
    parser.feed(out.read_text())
    assert parser.hrefs and all(h.startswith("../") for h in parser.hrefs)
    for href in parser.hrefs:
        target, anchor = href.split("#")
        assert (out.parent / target).resolve().parent in [r.resolve() for r in runs]
        assert re.fullmatch(r"case-\d{3}", anchor)
    if CHROMIUM.exists():
        dom = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                              "--host-resolver-rules=MAP * ~NOTFOUND",
                              f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                              out.as_uri()], capture_output=True, text=True, timeout=120,
                             check=False)
        assert "By guarantee" in dom.stdout and "kafka · 4.1.0 · default" in dom.stdout
