"""How often each case of a suite gives its expected outcome, over repeated runs and seeds,
optionally with both cores kept busy beside it.

    .venv/bin/python bench/stability.py redis --runs 3 --load
    .venv/bin/python bench/stability.py kafka --runs 5 --duration 10 --seed 100

Each run is ``pytest --sdconform suites/SUITE`` with its own seed (``--seed``, ``--seed + 1``...)
and report folder; the table reads their ``verdicts.json``. ``--load`` starts one busy process
per core (at normal priority) for the whole measurement and stops them at the end, also when
interrupted. Per case: the outcomes seen, how many matched the expected outcome (an
inconclusive case, which skips, or a refutation not attributed to the faults, does not match).
A case an emulator cannot decide (``inconclusive (emulator)``, the honest outcome there) is
shown as such and left out of the fraction. The last line is ``stability=<matched / counted>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPIN = "import signal, sys\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\nwhile True: pass"


@contextlib.contextmanager
def cpu_load(busy: int) -> Iterator[list[int]]:
    """``busy`` processes spinning on a core each; stopped (by pid) when the block ends."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run_suite(suite: str, seed: int, duration: float, report: Path, extra: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--sdconform",
           f"suites/{suite}", "--sdconform-duration", f"{duration:g}", "--sdconform-seed",
           str(seed), "--sdconform-report", str(report), *extra]
    with open(report.with_suffix(".log"), "w") as log:
        return subprocess.call(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def case_key(case: dict[str, object]) -> str:
    test = str(case.get("test") or "").split("::")[-1]
    return f"{case.get('claim') or '-'} {test}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("suite", help="a folder of suites/: redis, nginx, postgres, kafka, ...")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--load", action="store_true", help="keep every core busy beside the runs")
    ap.add_argument("--duration", type=float, default=5.0, help="--sdconform-duration (5: CI's)")
    ap.add_argument("--seed", type=int, default=1, help="the first run's seed")
    ap.add_argument("--out", type=Path, default=None, help="where the runs' folders go")
    ap.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = ap.parse_args(argv)
    if not (ROOT / "suites" / args.suite).is_dir():
        print(f"stability: no suite suites/{args.suite}", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix=f"stability-{args.suite}-"))
    out.mkdir(parents=True, exist_ok=True)
    seen: dict[str, list[tuple[str, str, bool | None]]] = {}
    busy = (os.cpu_count() or 1) if args.load else 0
    started = time.monotonic()
    with cpu_load(busy) as pids:
        if pids:
            print(f"stability: {busy} busy processes beside the runs (pids {pids})", flush=True)
        for i in range(args.runs):
            seed = args.seed + i
            report = out / f"run-{i + 1}-seed-{seed}"
            t0 = time.monotonic()
            print(f"stability: run {i + 1}/{args.runs}: suites/{args.suite} seed {seed} ...",
                  flush=True)
            code = run_suite(args.suite, seed, args.duration, report, args.pytest_args)
            verdicts = report / "verdicts.json"
            cases = json.loads(verdicts.read_text()) if verdicts.exists() else []
            for c in cases:
                matched: bool | None = (bool(c.get("passed"))
                                        and c.get("attributed", True) is not False)
                outcome = str(c.get("outcome"))
                if str(c.get("reason", "")).startswith("inconclusive (emulator)"):
                    matched, outcome = None, "inconclusive (emulator)"
                seen.setdefault(case_key(c), []).append(
                    (outcome, str(c.get("expected")), matched))
            print(f"stability: run {i + 1}: pytest exit {code}, {len(cases)} cases, "
                  f"{time.monotonic() - t0:.0f}s (log {report.with_suffix('.log')})", flush=True)
    width = max((len(k) for k in seen), default=10)
    print(f"\n{'case':<{width}}  expected      outcomes seen                      matched")
    total = matched_all = 0
    for key in sorted(seen):
        rows = seen[key]
        expected = Counter(e for _, e, _ in rows).most_common(1)[0][0]
        outcomes = ", ".join(f"{o} x{n}" for o, n in Counter(o for o, _, _ in rows).items())
        if all(m is None for _, _, m in rows):
            print(f"{key:<{width}}  {expected:<12}  {outcomes:<33}  emulator: not counted")
            continue
        hits = sum(1 for _, _, m in rows if m)
        # a case that did not run in some runs (it errored before deciding) counts as missed
        total += args.runs
        matched_all += hits
        print(f"{key:<{width}}  {expected:<12}  {outcomes:<33}  {hits}/{args.runs}")
    minutes = (time.monotonic() - started) / 60
    print(f"\nsuites/{args.suite}: {len(seen)} cases x {args.runs} runs"
          f"{' under load' if busy else ''}, {minutes:.1f} min; folders in {out}")
    print(f"stability={matched_all / total if total else 0:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
