"""Benchmark: check the whole conformance corpus with our checker and, side by side, with Porcupine.

    .venv/bin/python bench/check_corpus.py [--repeat N] [--no-porcupine] [--quiet]

Both sides time only the check (parsing excluded) and each side's best total over N rounds
is kept. Porcupine's runner (bench/porcupine, Go) is built from the Go module proxy by
bench/build_porcupine.sh when Go is installed. The last line is
``ratio_vs_porcupine=<our total / porcupine total>``; below 1.0 means we are faster.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

from pytest_sdconform.checkers.linearizable import check_linearizable
from pytest_sdconform.formats import read_history

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "tests" / "conformance"
MANIFEST = CORPUS / "MANIFEST.tsv"
RUNNER = HERE / ".porcupine-runner" / "porcupine-runner"
EXPECTED = {"ok": "valid", "illegal": "invalid"}


def ours(rows: list[dict[str, str]]) -> dict[str, tuple[str, float]]:
    out = {}
    for row in rows:
        history = read_history(str(CORPUS / row["file"]))
        start = time.perf_counter()
        verdict = check_linearizable(history, row["model"], time_limit=600)
        out[row["file"]] = (verdict.result, time.perf_counter() - start)
    return out


def porcupine() -> dict[str, tuple[str, float]] | None:
    if not RUNNER.exists():
        build = subprocess.run(["bash", str(HERE / "build_porcupine.sh")], check=False)
        if build.returncode != 0:
            print("porcupine: not built (no Go toolchain?); reporting our times only")
            return None
    proc = subprocess.run(
        [str(RUNNER), "-timeout", "600", str(MANIFEST), str(CORPUS)],
        capture_output=True,
        text=True,
        check=False,
    )
    names = {"ok": "valid", "illegal": "invalid"}
    out = {}
    for line in proc.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0] != "total":
            out[fields[0]] = (names.get(fields[1], fields[1]), float(fields[2]))
    return out


def best_of(rounds: list[dict[str, tuple[str, float]]]) -> dict[str, tuple[str, float]]:
    """Per file, the fastest round (the verdicts of all rounds agree)."""
    return {f: min((r[f] for r in rounds), key=lambda x: x[1]) for f in rounds[0]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-porcupine", action="store_true")
    p.add_argument("--quiet", action="store_true", help="totals only, no per-file lines")
    args = p.parse_args()
    with open(MANIFEST, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    print(f"checking {len(rows)} histories, best of {args.repeat} rounds", file=sys.stderr)
    mine = best_of([ours(rows) for _ in range(args.repeat)])
    theirs = None
    if not args.no_porcupine:
        rounds = [porcupine() for _ in range(args.repeat)]
        theirs = best_of([r for r in rounds if r]) if all(rounds) else None
    agree = sum(mine[r["file"]][0] == EXPECTED[r["expected"]] for r in rows)
    if not args.quiet:
        print("file\tours_s\tporcupine_s\tverdict")
        for r in rows:
            f = r["file"]
            ref = f"{theirs[f][1]:.4f}" if theirs else "-"
            print(f"{f}\t{mine[f][1]:.4f}\t{ref}\t{mine[f][0]}")
    total = sum(t for _, t in mine.values())
    print(f"verdicts_matching_manifest={agree}/{len(rows)}")
    print(f"ours_total_s={total:.3f}")
    if theirs is None:
        return 0 if agree == len(rows) else 1
    ref_total = sum(t for _, t in theirs.values())
    print(f"porcupine_total_s={ref_total:.3f}")
    print(f"ratio_vs_porcupine={total / ref_total:.3f}")
    return 0 if agree == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
