"""S3 claims (claims.md §10) against moto's server, or real AWS with
``--sdconform-runtime external``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, client, judges
from pytest_sdconform.case import Case
from pytest_sdconform.checkers import Checker
from pytest_sdconform.checkers.durability import LostWritesChecker
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads import Invocation
from pytest_sdconform.workloads.register import Register
from pytest_sdconform.workloads.set import SetAdd

pytestmark = pytest.mark.backend("s3")

# Proving a latency fault takes seconds while moto is busy: 7 s of traffic, so that the
# faults overlap it even when CI asks for 5.
FAULTY = RunConfig(duration=7.0, quiet=0.5, fault_duration=2.0, op_timeout=3.0, settle=1.0)


@dataclass
class WithDeletes:
    """A register workload where some writes are deletes (``write`` of ``None``)."""

    name = "register+delete"
    # 4 keys: with 4 clients, a read often follows a write or delete of its key with no
    # other write of that key in flight (where a stale read would show).
    register: Register = field(default_factory=lambda: Register(keys=4, read_ratio=0.5))
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


REPLICATION = (
    "moto is one strongly consistent process with one copy of each object: its reads cannot "
    "be stale, so a linearizable history there says nothing about S3's replicas (the claim "
    "is decided on the external runtime)"
)


@pytest.mark.claim("s3-eventually-consistent")
def test_reads_see_every_completed_put_and_delete(
    sdconform: Case, env: Env, path: aws.ClientPath
) -> None:
    cluster, resources = env
    bucket = resources.bucket("register")
    sdconform.config["emulator"] = aws.is_emulator(cluster)
    ep = path.endpoint
    sdconform.run(
        WithDeletes(),
        lambda i: client.S3Register(ep, bucket, timeout=1.0),
        path.latency_then_timeouts(),
        judge=judges.StrongRefutesEventual(),
        emulator_limit=REPLICATION if aws.is_emulator(cluster) else None,
        config={"ops": "put, overwrite, delete, get"},
        run=FAULTY,
    )


@dataclass
class VersionedDeletes:
    """Unique values put as new versions of a few keys, a delete now and then (a delete
    marker), reads of every version by id; at the end each key is deleted, then read back:
    the object must be gone and every acknowledged version still readable by its id."""

    name = "versions+delete"
    adds: SetAdd = field(default_factory=lambda: SetAdd(keys=2, prefix="doc"))
    delete_ratio: float = 0.1
    read_ratio: float = 0.15

    def next_op(self, rng: random.Random) -> Invocation:
        op = self.adds.next_op(rng)
        u = rng.random()
        if u < self.delete_ratio:
            return Invocation("delete", op.key)
        if u < self.delete_ratio + self.read_ratio:
            return Invocation("read", op.key)
        return op

    def final_ops(self) -> list[Invocation]:
        keys = [op.key for op in self.adds.final_ops()]
        return [Invocation(f, k) for k in keys for f in ("delete", "read")]

    def checkers(self) -> list[Checker]:
        return [LostWritesChecker(fs=("add",))]


@pytest.mark.claim("s3-versioning")
def test_every_acknowledged_put_keeps_a_version_even_once_deleted(
    sdconform: Case, env: Env, path: aws.ClientPath
) -> None:
    """Concurrent overwrites and deletes of a few keys in a versioned bucket: every
    acknowledged put must be listed by ListObjectVersions and readable by its version id,
    also after its key was deleted (the final delete, then the final read)."""
    _, resources = env
    bucket = resources.bucket("versions", versioned=True)
    ep = path.endpoint
    sdconform.run(
        VersionedDeletes(),
        lambda i: client.S3Versions(ep, bucket, timeout=1.0),
        path.latency_then_timeouts(),
        judge=judges.VersionsKept(),
        config={"versioning": "Enabled", "ops": "put, delete, list versions + get by id"},
        run=replace(FAULTY, op_timeout=10.0),
    )
