"""S3 clients for the object claims: Object Lock (``S3Locked``), whole objects under
concurrent PUT and GET (``S3Blobs``) and multipart uploads resumed after the uploading client
process was killed (``S3Resumable``, its uploader a child process of its own).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ...workloads import Invocation, Result
from .client import Answering, BotoClient, error_code
from .topology import Endpoint

# --- Object Lock ---------------------------------------------------------------------------------


@dataclass
class Versions:
    """The versions the clients of a case had acknowledged, by key: what a delete aims at
    and what the final check reads back (shared by every client of the case)."""

    by_key: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, version: str, value: int, until: float) -> None:
        with self.lock:
            self.by_key.setdefault(key, []).append((version, value, until))

    def of(self, key: str) -> list[tuple[str, int, float]]:
        with self.lock:
            return list(self.by_key.get(key, ()))


class S3Locked(Answering):
    """A bucket with Object Lock: ``put`` writes a new version under a GOVERNANCE retention of
    ``retain_s`` seconds (its id and retain-until recorded); ``delete`` deletes one acknowledged
    version of the key by id, without bypassing the retention (recorded: the version and
    ``locked_for_s``, how long its retention still had to run when the delete was sent);
    ``read`` (a final check) gets every acknowledged version of the key by id: a list of
    ``[version, value read or the error]``."""

    service = "s3"
    reads: frozenset[str] = frozenset(("read",))

    def __init__(self, ep: Endpoint, bucket: str, versions: Versions, retain_s: float = 600,
                 timeout: float = 2.0):
        super().__init__(ep, timeout)
        self.bucket, self.versions, self.retain_s = bucket, versions, retain_s
        self.rng = random.Random(id(self))

    def call(self, op: Invocation) -> Result:
        import datetime as dt

        c, key = self.client, str(op.key)
        if op.f == "put":
            until = time.time() + self.retain_s
            answer = c.put_object(
                Bucket=self.bucket, Key=key, Body=str(op.value).encode(),
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=dt.datetime.fromtimestamp(until, dt.UTC))
            self.versions.add(key, answer["VersionId"], int(op.value), until)
            return Result("ok", node=self.service, extra={"version": answer["VersionId"],
                                                         "retain_until": until})
        if op.f == "delete":
            known = self.versions.of(key)
            if not known:
                return Result("fail", error="no version acknowledged yet", node=self.service)
            version, value, until = self.rng.choice(known)
            # "written", not "value": that is the history's own field
            extra = {"version": version, "written": value,
                     "locked_for_s": round(until - time.time(), 3)}
            try:
                c.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
            except c.exceptions.ClientError as e:
                status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
                if status >= 500:
                    raise
                return Result("fail", error=error_code(e), node=self.service,
                              extra={**extra, "answered": True})
            return Result("ok", node=self.service, extra=extra)
        if op.f == "read":
            out: list[list[Any]] = []
            for version, _, _ in self.versions.of(key):
                try:
                    got = c.get_object(Bucket=self.bucket, Key=key, VersionId=version)
                    out.append([version, int(got["Body"].read())])
                except c.exceptions.ClientError as e:
                    out.append([version, error_code(e)])
            return Result("ok", out, node=self.service)
        raise ValueError(f"s3 locked: unknown op {op.f}")


# --- whole objects -------------------------------------------------------------------------------

TOKEN = 8  # bytes per copy of the value in a blob


class S3Blobs(BotoClient):
    """Objects of ``size`` bytes made of one value repeated (``%08d``): ``write`` puts one,
    ``read`` gets it and answers the value when every byte agrees, else ``"torn"`` (with the
    distinct values found, as ``pieces``)."""

    service = "s3"

    def __init__(self, ep: Endpoint, bucket: str, size: int = 1 << 20, timeout: float = 5.0):
        super().__init__(ep, timeout)
        self.bucket, self.size = bucket, size

    def call(self, op: Invocation) -> Result:
        c = self.client
        if op.f == "write":
            body = (b"%08d" % op.value) * (self.size // TOKEN)
            c.put_object(Bucket=self.bucket, Key=str(op.key), Body=body)
            return Result("ok", node=self.service)
        if op.f != "read":
            raise ValueError(f"s3 blobs: unknown op {op.f}")
        try:
            body = c.get_object(Bucket=self.bucket, Key=str(op.key))["Body"].read()
        except c.exceptions.NoSuchKey:
            return Result("ok", None, node=self.service)
        pieces = sorted({body[i:i + TOKEN] for i in range(0, len(body), TOKEN)})
        if len(pieces) == 1 and len(body) == self.size // TOKEN * TOKEN:
            return Result("ok", int(pieces[0]), node=self.service)
        return Result("ok", "torn", node=self.service, extra={
            "pieces": [p.decode(errors="replace") for p in pieces[:10]], "bytes": len(body)})


# --- multipart uploads resumed after a crash ---------------------------------------------------

PART = 5 << 20  # S3's smallest part but the last

# The uploading process: uploads parts in order and says so after each acknowledged one
# ("acked <n> <etag>"); the harness kills it with SIGKILL part-way.
UPLOADER = """
import json, sys
from pytest_sdconform.backends.aws.client import boto
from pytest_sdconform.backends.aws.objects import PART, Endpoint, body
ep, bucket, key, upload, value, parts = json.loads(sys.argv[1])
s3 = boto("s3", Endpoint(*ep), timeout=10)
data = body(value, parts)
for n in range(1, parts + 1):
    got = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n,
                         Body=data[(n - 1) * PART:n * PART])
    print("acked", n, got["ETag"], flush=True)
"""


def body(value: int, parts: int) -> bytes:
    """The object an upload of ``value`` means to write: ``parts`` - 1 parts of 5 MiB and a
    last one of 1 MiB, of seeded random bytes."""
    return random.Random(value).randbytes(PART * (parts - 1) + (1 << 20))


class S3Resumable(BotoClient):
    """``upload`` of ``value``: creates a multipart upload of key ``value``, starts a child
    process that uploads its ``parts`` parts, kills it (SIGKILL) once it said ``crash_after``
    parts were acknowledged (1 .. parts-1, from the value), then resumes as a new client:
    ListParts, uploads the parts not listed, CompleteMultipartUpload, and reads the object back.
    Records ``acked`` (part: ETag, as the killed client saw them), ``listed``, ``resumed``,
    ``killed`` (the child was still running), ``sha_ok`` (the object read back is byte-exact)."""

    service = "s3"

    def __init__(self, ep: Endpoint, bucket: str, parts: int = 3, timeout: float = 10.0):
        super().__init__(ep, timeout)
        self.bucket, self.parts = bucket, parts

    def call(self, op: Invocation) -> Result:
        import json

        if op.f != "upload":
            raise ValueError(f"s3 resumable: unknown op {op.f}")
        c, key, value = self.client, f"upload-{op.value}", int(op.value)
        crash_after = 1 + value % (self.parts - 1)
        upload = c.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        ep = [self.ep.url, self.ep.region, self.ep.emulator]
        env = dict(os.environ)
        if self.ep.emulator:
            env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        child = subprocess.Popen(
            [sys.executable, "-c", UPLOADER,
             json.dumps([ep, self.bucket, key, upload, value, self.parts])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        acked: dict[int, str] = {}
        assert child.stdout is not None
        for line in child.stdout:
            _, part, etag = line.split()
            acked[int(part)] = etag
            if len(acked) >= crash_after:
                break
        killed = child.poll() is None
        if killed:
            child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        # The resumed client: only what S3 says it has.
        listed = {p["PartNumber"]: p["ETag"] for page in c.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload) for p in page.get("Parts", [])}
        data = body(value, self.parts)
        done = dict(listed)
        for n in range(1, self.parts + 1):
            if n not in listed:
                done[n] = c.upload_part(Bucket=self.bucket, Key=key, UploadId=upload,
                                        PartNumber=n,
                                        Body=data[(n - 1) * PART:n * PART])["ETag"]
        c.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload,
                                    MultipartUpload={"Parts": [
                                        {"PartNumber": n, "ETag": e}
                                        for n, e in sorted(done.items())]})
        got = c.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        same = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        return Result("ok", node=self.service, extra={
            "acked": {str(n): e for n, e in acked.items()},
            "listed": {str(n): e for n, e in listed.items()},
            "resumed": sorted(set(done) - set(listed)), "killed": killed,
            "crash_after": crash_after, "sha_ok": same, "bytes": len(got)})
