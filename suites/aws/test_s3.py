"""S3 claims (claims.md §10) against moto's server, or real AWS with
SDCONFORM_AWS_RUNTIME=external."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import clients
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.verdict import Verdict
from pytest_sdconform.history import History
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD, ok_during_faults
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("s3")

# Proving a latency fault takes seconds while moto is busy: 7 s of traffic, so that the
# faults overlap it even when CI asks for 5.
FAULTY = {"duration": 7.0, "quiet": 0.5, "fault_duration": 2.0, "op_timeout": 3.0, "settle": 1.0}


@dataclass
class WithDeletes:
    """A register workload where some writes are deletes (``write`` of ``None``)."""

    name = "register+delete"
    register: Register = field(default_factory=lambda: Register(keys=2, read_ratio=0.5))
    delete_ratio: float = 0.2

    def next_op(self, rng: random.Random) -> Invocation:
        op = self.register.next_op(rng)
        if op.f == "write" and rng.random() < self.delete_ratio:
            return Invocation("write", op.key, None)
        return op

    def final_ops(self) -> list[Invocation]:
        return self.register.final_ops()

    def checkers(self) -> list[Checker]:
        return self.register.checkers()


def strong_refutes_eventual(history: History, verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """ "S3 is eventually consistent": refuted when every read saw the latest completed write
    or delete (the history is linearizable), while faults were on if any were (the external
    runtime injects none); a stale read upholds it."""
    lin = verdicts["linearizable"]
    if lin.result == "unknown":
        return INCONCLUSIVE, lin.reason
    if lin.result == "invalid":
        return UPHELD, f"a read missed a completed write or delete: {len(lin.anomalies)} anomalies"
    if history.fault_windows() and ok_during_faults(history) == 0:
        return INCONCLUSIVE, "no operation succeeded during the faults"
    reads = sum(1 for c in history.complete() if c.f == "read" and c.type == "ok")
    return REFUTED, (
        f"strong, not merely eventual: all {reads} reads saw the latest completed "
        "put, overwrite or delete (linearizable), as S3 promises since Dec 2020"
    )


@pytest.mark.claim("s3-eventually-consistent")
def test_reads_see_every_completed_put_and_delete(
    sdconform: Any, env: Any, path: aws.ClientPath
) -> None:
    _, resources = env
    bucket = resources.bucket("register")
    ep = path.endpoint
    sdconform.run(
        WithDeletes(),
        lambda i: clients.S3Register(ep, bucket, timeout=1.0),
        path.latency_then_timeouts(),
        judge=strong_refutes_eventual,
        config={"ops": "put, overwrite, delete, get"},
        **FAULTY,
    )


@pytest.mark.claim("s3-versioning")
def test_every_acknowledged_put_keeps_a_version(
    sdconform: Any, env: Any, path: aws.ClientPath
) -> None:
    """Concurrent overwrites of one key in a versioned bucket: every acknowledged put must be
    listed by ListObjectVersions and readable by its version id."""
    _, resources = env
    bucket = resources.bucket("versions", versioned=True)
    ep = path.endpoint
    sdconform.run(
        SetAdd(prefix="doc"),
        lambda i: clients.S3Versions(ep, bucket, timeout=1.0),
        path.latency_then_timeouts(),
        decide_by=["lost-writes"],
        config={"versioning": "Enabled"},
        **{**FAULTY, "op_timeout": 10.0},
    )
