"""boto3 clients for the harness (one per worker, each call one request, no retries), and
the DynamoDB and S3 ones; SQS, SNS and Kinesis are in ``messaging.py``.

History conventions: DynamoDB items and S3 objects are registers (``read``, ``write`` with
``None`` meaning delete, ``cas`` ``[expected, new]`` as a conditional write, ``None`` expected
meaning "does not exist yet"); S3 versions and DynamoDB transactions have their own ops below.
SQS, SNS and Kinesis follow ``checkers/delivery.py``: ``send`` (key: the FIFO group or the
partition key) and ``poll`` (a list of ``[partition, offset, message]``).

``fail`` only when the request surely did not take effect (the connection was refused, or AWS
answered with a client error such as ConditionalCheckFailed); a timeout, a dropped connection
or a 5xx after sending is ``info``. A read that went wrong is always ``fail``: it changed
nothing (an SQS receive is not a read: it hides the message and counts the receipt).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...workloads import Invocation, Result
from .topology import Endpoint

_session: Any = None
_session_lock = threading.Lock()


def _client(service: str, **kw: Any) -> Any:
    """A client from one boto3 session shared by the process, made under a lock (a session is
    not thread-safe; its clients are). A session of its own per client loaded the service's
    model from disk each time: 80 ms a client here, and at load a worker replacing its client
    after a lost answer (two clients for SNS) was away for 1.3-1.8 s of a 2 s fault window."""
    global _session
    import boto3

    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client(service, **kw)


def boto(service: str, ep: Endpoint, timeout: float = 2.0, attempts: int = 1) -> Any:
    """A boto3 client making ``attempts`` attempts per call (1: no retry, the harness's
    default; more only where a claim is about the SDK's retries)."""
    from botocore.config import Config

    # Retries off: botocore's retries would ride out an outage and hide it, and a retried
    # request whose first attempt was applied answers for the second (a conditional put
    # reported as failed although it was written). Config's ``max_attempts`` counts retries,
    # not attempts (botocore adds one): the total must be given as ``total_max_attempts``.
    cfg = Config(
        retries={"total_max_attempts": attempts, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=timeout,
        s3={"addressing_style": "path"},
    )
    kw: dict[str, Any] = {}
    if ep.url:
        kw["endpoint_url"] = ep.url
    if ep.emulator:  # moto takes any credentials; never look for real ones
        kw.update(aws_access_key_id="testing", aws_secret_access_key="testing")
    return _client(service, region_name=ep.region, config=cfg, **kw)


def error_code(e: Exception) -> str:
    response = getattr(e, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(e).__name__))


def outcome(e: Exception, changes: bool, node: str | None = None) -> Result:
    """The Result of a call that raised ``e``; ``changes``: the call may modify state."""
    from botocore import exceptions as bx

    if isinstance(e, bx.ClientError):
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        definite = status < 500 or not changes
        return Result("fail" if definite else "info", error=error_code(e), node=node)
    if isinstance(e, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return Result("fail", error=f"{type(e).__name__}: {e}", node=node)  # nothing was sent
    if isinstance(e, bx.BotoCoreError | OSError):
        return Result("info" if changes else "fail", error=f"{type(e).__name__}: {e}", node=node)
    raise e


class BotoClient:
    service = ""
    reads: frozenset[str] = frozenset(("read", "poll"))

    def __init__(self, ep: Endpoint, timeout: float = 2.0, attempts: int = 1):
        self.ep = ep
        self.client = boto(self.service, ep, timeout, attempts)

    def invoke(self, op: Invocation) -> Result:
        try:
            return self.call(op)
        except Exception as e:
            return outcome(e, op.f not in self.reads, self.service)

    def call(self, op: Invocation) -> Result:
        raise NotImplementedError

    def close(self) -> None:
        self.client.close()


class DynamoRegister(BotoClient):
    """Items ``{k: key, v: value}`` of one table; reads with ``ConsistentRead`` on or off."""

    service = "dynamodb"

    def __init__(self, ep: Endpoint, table: str, consistent: bool = True, timeout: float = 2.0):
        super().__init__(ep, timeout)
        self.table, self.consistent = table, consistent

    def call(self, op: Invocation) -> Result:
        key = {"k": {"S": str(op.key)}}
        c = self.client
        if op.f == "read":
            item = c.get_item(TableName=self.table, Key=key, ConsistentRead=self.consistent).get(
                "Item"
            )
            value = int(item["v"]["N"]) if item and "v" in item else None
            return Result(
                "ok", value, node=self.service, extra={"consistent_read": self.consistent}
            )
        if op.f == "write" and op.value is None:
            c.delete_item(TableName=self.table, Key=key)
        elif op.f == "write":
            c.put_item(TableName=self.table, Item={**key, "v": {"N": str(op.value)}})
        elif op.f == "cas":
            expected, new = op.value
            cond: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(k)"}
                if expected is None
                else {
                    "ConditionExpression": "v = :e",
                    "ExpressionAttributeValues": {":e": {"N": str(expected)}},
                }
            )
            c.put_item(TableName=self.table, Item={**key, "v": {"N": str(new)}}, **cond)
        else:
            raise ValueError(f"dynamodb register: unknown op {op.f}")
        return Result("ok", node=self.service)


class DynamoTransfers(BotoClient):
    """Accounts ``{k, b}``: ``txn`` is a TransactWriteItems of ``[["add", account, delta]...]``
    (a debit is conditional on the balance covering it: one short account cancels it all;
    ``["check", key, None]`` is a ConditionCheck that ``key`` does not exist, an item of the
    transaction that writes nothing);
    ``read`` of ``accounts`` is a TransactGetItems of every account (the balances, in order)."""

    service = "dynamodb"

    def __init__(
        self,
        ep: Endpoint,
        table: str,
        accounts: list[str],
        timeout: float = 2.0,
        token: Callable[[Invocation], str | None] | None = None,
        submissions: int = 1,
    ):
        super().__init__(ep, timeout)
        self.table, self.accounts = table, accounts
        self.token = token  # a ClientRequestToken per op (idempotent retries), or none
        self.submissions = submissions  # >1: send the same request again, as a retry would

    def call(self, op: Invocation) -> Result:
        c = self.client
        if op.f == "read":
            got = c.transact_get_items(
                TransactItems=[
                    {"Get": {"TableName": self.table, "Key": {"k": {"S": a}}}}
                    for a in self.accounts
                ]
            )["Responses"]
            balances = [int(r["Item"]["b"]["N"]) if r.get("Item") else None for r in got]
            return Result("ok", balances, node=self.service)
        items: list[dict[str, Any]] = []
        for kind, account, delta in op.value:
            if kind == "check":  # an item that must not exist: counts, changes nothing
                items.append({"ConditionCheck": {
                    "TableName": self.table, "Key": {"k": {"S": account}},
                    "ConditionExpression": "attribute_not_exists(k)"}})
                continue
            update: dict[str, Any] = {
                "TableName": self.table,
                "Key": {"k": {"S": account}},
                "UpdateExpression": "ADD b :d",
                "ExpressionAttributeValues": {":d": {"N": str(delta)}},
            }
            if delta < 0:
                update["ConditionExpression"] = "b >= :need"
                update["ExpressionAttributeValues"][":need"] = {"N": str(-delta)}
            items.append({"Update": update})
        kw: dict[str, Any] = {"TransactItems": items}
        token = self.token(op) if self.token else None
        if token:
            kw["ClientRequestToken"] = token
        for _ in range(self.submissions):
            c.transact_write_items(**kw)
        return Result(
            "ok", node=self.service, extra={"items": len(items), "submissions": self.submissions}
        )


class S3Register(BotoClient):
    """One object per key holding an integer; ``write`` ``None`` deletes it."""

    service = "s3"

    def __init__(self, ep: Endpoint, bucket: str, timeout: float = 2.0):
        super().__init__(ep, timeout)
        self.bucket = bucket

    def call(self, op: Invocation) -> Result:
        c = self.client
        if op.f == "read":
            try:
                body = c.get_object(Bucket=self.bucket, Key=str(op.key))["Body"].read()
            except c.exceptions.NoSuchKey:
                return Result("ok", None, node=self.service)
            return Result("ok", int(body), node=self.service)
        if op.f != "write":
            raise ValueError(f"s3 register: unknown op {op.f}")
        if op.value is None:
            c.delete_object(Bucket=self.bucket, Key=str(op.key))
            return Result("ok", node=self.service)
        answer = c.put_object(Bucket=self.bucket, Key=str(op.key), Body=str(op.value).encode())
        return Result("ok", node=self.service, extra={"version": answer.get("VersionId")})


class S3Versions(S3Register):
    """A versioned bucket as a set per key: ``add`` puts a new version, ``delete`` deletes the
    key (S3 adds a delete marker), ``read`` lists every version of the key
    (ListObjectVersions) and reads each back by its version id: the values read, and as
    extra fields ``deleted`` (a plain GET found no object: the key is deleted now),
    ``delete_markers`` and ``unreadable`` (versions listed whose GET by id failed, with the
    error)."""

    reads: frozenset[str] = frozenset(("read",))

    def call(self, op: Invocation) -> Result:
        c = self.client
        if op.f == "add":
            answer = c.put_object(Bucket=self.bucket, Key=str(op.key), Body=str(op.value).encode())
            return Result("ok", node=self.service, extra={"version": answer.get("VersionId")})
        if op.f == "delete":
            answer = c.delete_object(Bucket=self.bucket, Key=str(op.key))
            return Result("ok", node=self.service, extra={
                "delete_marker": bool(answer.get("DeleteMarker")),
                "version": answer.get("VersionId")})
        if op.f != "read":
            raise ValueError(f"s3 versions: unknown op {op.f}")
        try:
            c.head_object(Bucket=self.bucket, Key=str(op.key))
            deleted = False
        except c.exceptions.ClientError as e:
            if error_code(e) not in ("404", "NoSuchKey", "405", "MethodNotAllowed"):
                raise
            deleted = True  # no object (or a delete marker) under the key now
        pages = c.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=str(op.key)
        )
        ids, markers = [], 0
        for page in pages:
            ids += [v["VersionId"] for v in page.get("Versions", []) if v["Key"] == op.key]
            markers += sum(1 for m in page.get("DeleteMarkers", []) if m["Key"] == op.key)

        def body(version: str) -> int | str:
            try:
                got = c.get_object(Bucket=self.bucket, Key=str(op.key), VersionId=version)
            except c.exceptions.ClientError as e:
                status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
                if status >= 500:  # the service's trouble, not an answer about the version
                    raise
                return f"{version}: {error_code(e)}"
            return int(got["Body"].read())

        # Hundreds of versions: read them back a few at a time (boto3 clients are
        # thread-safe), or the read outlives the operation timeout.
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(body, ids))
        values = sorted(v for v in got if isinstance(v, int))
        unreadable = [v for v in got if isinstance(v, str)]
        return Result("ok", values, node=self.service, extra={
            "deleted": deleted, "delete_markers": markers, "unreadable": unreadable})


class Answering(BotoClient):
    """A client whose refusals are results: a client error AWS sent back is ``fail`` with
    ``answered`` (``judges.settings``: the service refused), unlike a lost request."""

    def invoke(self, op: Invocation) -> Result:
        try:
            return self.call(op)
        except Exception as e:
            result = outcome(e, op.f not in self.reads, self.service)
            status = int((getattr(e, "response", None) or {}).get(
                "ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if result.type == "fail" and 400 <= status < 500:  # AWS refused the request
                result.extra = {**(result.extra or {}), "answered": True}
            return result


class DynamoIndexes(Answering):
    """A table keyed by ``k`` and ``s`` with a global secondary index ``gsi`` (on ``g``) and a
    local one ``lsi`` (on ``k``, ``g``): ``write`` puts item ``key``; ``query`` of ``"gsi"`` or
    ``"lsi"`` asks that index, strongly consistent when the value is true (the count found)."""

    service = "dynamodb"
    reads: frozenset[str] = frozenset(("query",))
    GROUP = "g0"

    def __init__(self, ep: Endpoint, table: str, timeout: float = 2.0):
        super().__init__(ep, timeout)
        self.table = table

    @staticmethod
    def schema() -> dict[str, Any]:
        """CreateTable's arguments beyond ``k`` (``Resources.table(base, **schema())``)."""
        return {
            "AttributeDefinitions": [{"AttributeName": "s", "AttributeType": "S"},
                                     {"AttributeName": "g", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"},
                          {"AttributeName": "s", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{
                "IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}],
            "LocalSecondaryIndexes": [{
                "IndexName": "lsi", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"},
                                                  {"AttributeName": "g", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"}}],
        }

    def call(self, op: Invocation) -> Result:
        c = self.client
        if op.f == "write":
            c.put_item(TableName=self.table, Item={
                "k": {"S": str(op.key)}, "s": {"S": "0"}, "g": {"S": self.GROUP},
                "v": {"N": str(op.value)}})
            return Result("ok", node=self.service)
        if op.f != "query" or op.key not in ("gsi", "lsi"):
            raise ValueError(f"dynamodb indexes: unknown op {op.f} {op.key}")
        if op.key == "gsi":
            cond, values = "g = :g", {":g": {"S": self.GROUP}}
        else:
            cond, values = "k = :k", {":k": {"S": "k0"}}
        got = c.query(TableName=self.table, IndexName=op.key, KeyConditionExpression=cond,
                      ExpressionAttributeValues=values, ConsistentRead=bool(op.value))
        return Result("ok", int(got["Count"]), node=self.service,
                      extra={"consistent_read": bool(op.value)})


class DynamoTtl(BotoClient):
    """A table with TTL on ``exp``: ``write`` puts item ``key`` expiring ``value`` seconds from
    now (negative: already expired; recorded as ``exp``, epoch seconds); ``read`` gets it
    (ConsistentRead): its ``exp``, or None when the item is gone, with the client's ``now``."""

    service = "dynamodb"

    def __init__(self, ep: Endpoint, table: str, timeout: float = 2.0):
        super().__init__(ep, timeout)
        self.table = table

    def call(self, op: Invocation) -> Result:
        import time

        key = {"k": {"S": str(op.key)}}
        if op.f == "write":
            exp = int(time.time() + float(op.value))
            self.client.put_item(TableName=self.table, Item={**key, "exp": {"N": str(exp)}})
            return Result("ok", node=self.service, extra={"exp": exp})
        if op.f != "read":
            raise ValueError(f"dynamodb ttl: unknown op {op.f}")
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get(
            "Item")
        return Result("ok", int(item["exp"]["N"]) if item else None, node=self.service,
                      extra={"now": round(time.time(), 3)})
