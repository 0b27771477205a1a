"""The linearizability search's memory budget: a budget too small gives ``unknown (memory
budget)``, never a wrong verdict, and the caches stay near the budget instead of growing until
the machine kills the process."""

from __future__ import annotations

import csv
import tracemalloc
from pathlib import Path

import pytest

from pytest_sdconform.checkers import parallel
from pytest_sdconform.checkers.linearizable import check_linearizable, partitions, run_searches
from pytest_sdconform.checkers.models import model_for
from pytest_sdconform.checkers.wgl import MemoryBudget
from pytest_sdconform.formats import read_history

CORPUS = Path(__file__).resolve().parent.parent / "conformance"
with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as fh:
    ROWS = {r["file"]: r for r in csv.DictReader(fh, delimiter="\t")}
EXPECTED = {"ok": "valid", "illegal": "invalid"}
# Valid and invalid histories of every family whose searches need more than a few kilobytes.
SAMPLE = [
    "porcupine/jepsen/etcd_002.log",  # valid, ~75 k configurations
    "porcupine/jepsen/etcd_000.log",  # invalid
    "porcupine/kv/c50-ok.txt",  # valid, 50 keys
    "porcupine/kv/c50-bad.txt",  # invalid
    "knossos/cas-register/bad/bad-analysis.edn",
]
SAMPLE = [f for f in SAMPLE if f in ROWS]


def test_a_tiny_budget_gives_unknown_saying_memory_budget() -> None:
    h = read_history(str(CORPUS / "porcupine/jepsen/etcd_002.log"))
    v = check_linearizable(h, "etcd-cas-register", memory_limit=64 * 1024)
    assert v.result == "unknown"
    assert "memory budget (0.1 MiB) reached" in v.reason and "--memory-limit" in v.reason
    (part,) = v.details["unknown_partitions"]
    assert part["longest_prefix"] and part["unplaced"]


@pytest.mark.parametrize("file", SAMPLE)
@pytest.mark.parametrize("limit", [1, 20_000, 200_000, 2_000_000, 1 << 40])
def test_any_budget_gives_the_right_verdict_or_unknown(file: str, limit: int) -> None:
    row = ROWS[file]
    v = check_linearizable(read_history(str(CORPUS / file)), row["model"], memory_limit=limit)
    assert v.result in ("unknown", EXPECTED[row["expected"]]), v.reason
    if limit == 1:
        assert v.result == "unknown"
    if limit == 1 << 40:
        assert v.result == EXPECTED[row["expected"]]


def test_the_budget_bounds_what_the_search_allocates() -> None:
    h = read_history(str(CORPUS / "porcupine/jepsen/etcd_002.log"))
    limit = 2_000_000  # the whole search needs about 9 MB
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        v = check_linearizable(h, "etcd-cas-register", memory_limit=limit)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert v.result == "unknown"
    assert peak < 1.5 * limit, peak


def test_partitions_share_the_budget_and_give_it_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "usable", lambda parts: False)  # in turn, in this process
    h = read_history(str(CORPUS / "porcupine/kv/c50-ok.txt"))
    m = model_for("kv-append", h.meta.get("initial"))
    parts = partitions(h, m)
    roomy = MemoryBudget(1 << 40)
    done = run_searches(parts, m, None, 10**9, stop_on_invalid=True, memory=roomy)
    assert {r.result for r in done.values()} == {"valid"} and roomy.used == 0
    # Each partition alone fits in 3 MB; all of them at once, searched in turn, do not.
    tight = MemoryBudget(3_000_000)
    done = run_searches(parts, m, None, 10**9, stop_on_invalid=True, memory=tight)
    assert "unknown" in {r.result for r in done.values()} and tight.used == 0


def test_forked_workers_each_keep_to_their_share() -> None:
    if "fork" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("no fork on this platform")
    h = read_history(str(CORPUS / "porcupine/kv/c50-ok.txt"))
    m = model_for("kv-append", h.meta.get("initial"))
    parts = partitions(h, m)
    done = parallel.run_parallel(parts, m, None, 10**9, False, MemoryBudget(20_000))
    assert {r.result for r in done.values()} == {"unknown"}


@pytest.mark.parametrize("limit", [0, -5])
def test_a_budget_that_is_not_positive_is_refused(limit: int) -> None:
    h = read_history(str(CORPUS / "porcupine/jepsen/etcd_002.log"))
    with pytest.raises(ValueError, match="memory limit must be positive"):
        check_linearizable(h, "etcd-cas-register", memory_limit=limit)
