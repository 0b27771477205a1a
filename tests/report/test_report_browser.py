"""The report in a real browser: headless Chromium loads it from disk, its script draws every
chart without a console message, and a screenshot lands in the run folder for a person to see."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from runfolder import build_run

from pytest_sdconform.report import write_report

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium: apt-get install chromium"
)


@pytest.fixture
def run_folder(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The small run folder of runfolder.py (three cases) and what it holds."""
    folder = tmp_path / "run"
    return folder, build_run(folder)


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a local page, with no way to reach the network."""
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_messages(stderr: str) -> list[str]:
    """What the page logged (Chromium prints every console message, errors included, as CONSOLE)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_page_renders_in_chromium(run_folder: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    folder, built = run_folder
    page = write_report(folder)

    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    # The script sets this last, so it proves that it ran to the end without throwing.
    assert re.search(r'<body[^>]*data-rendered="true"', dom.stdout), dom.stdout[:2000]
    assert '<table class="claims">' in dom.stdout
    for case in built["cases"]:
        assert f'id="{case["case"]}"' in dom.stdout
        assert case["claim"] in dom.stdout
    # three charts per case, drawn by the script (the HTML as written holds no <svg>)
    assert "<svg" not in page.read_text(encoding="utf-8")
    assert dom.stdout.count("<svg") == 3 * len(built["cases"])
    assert 'class="chart-error"' not in dom.stdout
    # the anomaly's operations are outlined in the timeline
    assert dom.stdout.count('stroke="#000" stroke-width="2"') == 2  # the write and the read

    shot = chromium(
        page,
        tmp_path / "profile2",
        f"--screenshot={folder / 'report.png'}",
        "--window-size=1400,2000",
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert console_messages(shot.stderr) == []
    png = (folder / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
