"""Benchmark: check the whole conformance corpus with our checker and, side by side, with Porcupine.

    .venv/bin/python bench/check_corpus.py [--repeat N] [--no-porcupine] [--quiet]
                                           [--engine native|python]

Both sides time only the check (parsing excluded), each file's best time over N rounds
(the two sides' rounds alternate, so that a busy machine slows both alike). Porcupine's runner
(bench/porcupine, Go) is built from the Go module proxy by bench/build_porcupine.sh when Go is
installed. ``--engine``: our search (default: the compiled one when built, see
checkers/native.py). One ``name=value`` a line: ``ratio_vs_porcupine[<family>]=`` for each
corpus family (knossos/cas-register, porcupine/jepsen, porcupine/kv, ...), then
``ratio_vs_porcupine=<our total / porcupine total>`` last; below 1.0 means we are faster.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

from pytest_sdconform.checkers import native
from pytest_sdconform.checkers.linearizable import check_linearizable
from pytest_sdconform.checkers.models import model_for
from pytest_sdconform.formats import read_history

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "tests" / "conformance"
MANIFEST = CORPUS / "MANIFEST.tsv"
RUNNER = HERE / ".porcupine-runner" / "porcupine-runner"
EXPECTED = {"ok": "valid", "illegal": "invalid"}


def ours(rows: list[dict[str, str]], engine: str | None) -> dict[str, tuple[str, float]]:
    out = {}
    for row in rows:
        history = read_history(str(CORPUS / row["file"]))
        start = time.perf_counter()
        verdict = check_linearizable(history, row["model"], time_limit=600, engine=engine)
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


def family(file: str) -> str:
    """A corpus file's family: its first two folders (porcupine/jepsen, knossos/mutex...)."""
    return "/".join(file.split("/")[:2])


def families(rows: list[dict[str, str]]) -> list[str]:
    return sorted({family(r["file"]) for r in rows})


def family_total(times: dict[str, tuple[str, float]], rows: list[dict[str, str]],
                 fam: str) -> float:
    return sum(times[r["file"]][1] for r in rows if family(r["file"]) == fam)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-porcupine", action="store_true")
    p.add_argument("--quiet", action="store_true", help="totals only, no per-file lines")
    p.add_argument("--engine", choices=("native", "python"), default=None,
                   help="our search (default: native when built)")
    args = p.parse_args()
    with open(MANIFEST, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    engine = native.choose(args.engine, model_for("cas-register"))
    print(f"checking {len(rows)} histories, best of {args.repeat} rounds, engine {engine}",
          file=sys.stderr)
    mine_rounds, their_rounds = [], []
    for _ in range(args.repeat):
        mine_rounds.append(ours(rows, args.engine))
        if not args.no_porcupine:
            their_rounds.append(porcupine())
    mine = best_of(mine_rounds)
    theirs = None
    if their_rounds and all(their_rounds):
        theirs = best_of([r for r in their_rounds if r])
    agree = sum(mine[r["file"]][0] == EXPECTED[r["expected"]] for r in rows)
    if not args.quiet:
        print("file\tours_s\tporcupine_s\tverdict")
        for r in rows:
            f = r["file"]
            ref = f"{theirs[f][1]:.4f}" if theirs else "-"
            print(f"{f}\t{mine[f][1]:.4f}\t{ref}\t{mine[f][0]}")
    total = sum(t for _, t in mine.values())
    print(f"verdicts_matching_manifest={agree}/{len(rows)}")
    print(f"engine={engine}")
    for fam in families(rows):
        print(f"ours_s[{fam}]={family_total(mine, rows, fam):.4f}")
    print(f"ours_total_s={total:.3f}")
    if theirs is None:
        return 0 if agree == len(rows) else 1
    for fam in families(rows):
        print(f"porcupine_s[{fam}]={family_total(theirs, rows, fam):.4f}")
    ref_total = sum(t for _, t in theirs.values())
    print(f"porcupine_total_s={ref_total:.3f}")
    for fam in families(rows):
        ref = family_total(theirs, rows, fam)
        ratio = f"{family_total(mine, rows, fam) / ref:.3f}" if ref > 0 else "nan"
        print(f"ratio_vs_porcupine[{fam}]={ratio}")
    print(f"ratio_vs_porcupine={total / ref_total:.3f}")
    return 0 if agree == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
