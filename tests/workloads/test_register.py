"""The register workload hands its budgets to its linearizability checker."""

from __future__ import annotations

from pathlib import Path

from pytest_sdconform.checkers.linearizable import LinearizabilityChecker
from pytest_sdconform.formats import read_history
from pytest_sdconform.workloads.register import Register

CORPUS = Path(__file__).resolve().parent.parent / "conformance"


def test_the_memory_limit_reaches_the_linearizability_checker() -> None:
    (lin,) = [c for c in Register(memory_limit=64 * 1024).checkers() if c.name == "linearizable"]
    assert isinstance(lin, LinearizabilityChecker) and lin.memory_limit == 64 * 1024
    v = lin.check(read_history(str(CORPUS / "knossos/cas-register/good/cas-register-bug.edn")))
    assert v.result in ("valid", "unknown")
    big = Register(memory_limit=1).checkers()[0]
    assert big.check(read_history(str(CORPUS / "porcupine/jepsen/etcd_002.log"))).result == (
        "unknown"
    )
