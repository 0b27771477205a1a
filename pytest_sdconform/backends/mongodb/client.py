"""The pymongo clients: registers, sets and list-append transactions, one attempt each.

Retries are off (``retryWrites=false``, ``retryReads=false``): a retried write is a second
write the history never invoked, and a driver that retries hides the failure the case is about.
The write concern, read concern and read preference are the case's configuration
(``Concerns``); causally consistent sessions are one more. Every completion names the member
that answered (the driver's command events say which server ran it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...workloads import Invocation, Result
from .info import PORT, REPLICA_SET, MongoInfo
from .topology import CLIENT_HEARTBEAT_MS

READ_CONCERNS = ("local", "available", "majority", "linearizable", "snapshot")
READ_PREFERENCES = ("primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest")
COLLECTION = "registers"

# Server errors that refuse an operation before it is applied (a member that is not primary,
# or not readable): the operation definitely did not happen.
REFUSED = {10107: "NotWritablePrimary", 13435: "NotPrimaryNoSecondaryOk",
           13436: "NotPrimaryOrSecondary", 11000: "DuplicateKey"}


@dataclass(frozen=True)
class Concerns:
    """How clients write and read: ``w`` (1, 2... or "majority"), ``read`` (the read concern
    level), ``read_preference``, ``causal`` sessions, and how long a write waits for its
    concern (``wtimeout_ms``)."""

    w: int | str = "majority"
    read: str = "majority"
    read_preference: str = "primary"
    causal: bool = False
    wtimeout_ms: int = 5000

    def __post_init__(self) -> None:
        if self.read not in READ_CONCERNS:
            raise ValueError(f"mongodb: read concern {self.read!r}; one of {READ_CONCERNS}")
        if self.read_preference not in READ_PREFERENCES:
            raise ValueError(f"mongodb: read preference {self.read_preference!r}; one of "
                             f"{READ_PREFERENCES}")
        if not (self.w == "majority" or (isinstance(self.w, int) and self.w >= 0)):
            raise ValueError(f"mongodb: write concern w={self.w!r}; a count or 'majority'")
        if self.read == "linearizable" and self.read_preference != "primary":
            raise ValueError("mongodb: linearizable reads are served by the primary only "
                             f"(read preference {self.read_preference!r} is refused)")

    def describe(self) -> dict[str, Any]:
        return {"w": self.w, "read_concern": self.read, "read_preference": self.read_preference,
                "causal_sessions": self.causal}


def uri(info: MongoInfo, concerns: Concerns, timeout_s: float = 2.0,
        member: str | None = None) -> str:
    """The connection string for ``info``'s deployment under ``concerns``: our members (as the
    harness reaches them), or the external runtime's URI with our settings over its own;
    ``member``: that member alone, directly (no discovery of the set: what it answers itself)."""
    ms = str(int(timeout_s * 1000))
    ours = {"retryWrites": "false", "retryReads": "false", "w": str(concerns.w),
            "wtimeoutMS": str(concerns.wtimeout_ms), "readConcernLevel": concerns.read,
            "readPreference": concerns.read_preference, "serverSelectionTimeoutMS": ms,
            "connectTimeoutMS": ms, "socketTimeoutMS": ms,
            "heartbeatFrequencyMS": str(CLIENT_HEARTBEAT_MS)}
    if info.uri is not None:
        parts = urlsplit(info.uri)
        theirs = {k: v for k, v in parse_qsl(parts.query) if k not in ours}
        return urlunsplit(parts._replace(query=urlencode({**theirs, **ours})))
    if member is not None:
        host, port = dict(zip(info.addresses, info.hosts(), strict=True))[member]
        return f"mongodb://{host}:{port}/?" + urlencode({"directConnection": "true", **ours})
    hosts = ",".join(f"{h}:{p}" for h, p in info.hosts())
    return f"mongodb://{hosts}/?" + urlencode({"replicaSet": info.replica_set or REPLICA_SET,
                                              **ours})


def outcome_of(error: BaseException, changes: bool) -> str:
    """``fail`` (the operation definitely did not happen) or ``info`` (it may have).

    - A read (``changes`` False) changes nothing: whatever went wrong, ``fail``.
    - No server could be selected (ServerSelectionTimeoutError): nothing was sent, ``fail``.
    - The server refused it up front (not primary, duplicate key: ``REFUSED``), or aborted the
      transaction it was in (the ``TransientTransactionError`` label, outside a commit):
      ``fail``.
    - A write concern error (``wtimeout`` among them) is ``info``, not ``fail``: the primary
      applied the write and only the acknowledgement by the concern's members failed; it may
      survive or be rolled back. So are an unknown commit result
      (``UnknownTransactionCommitResult``), a connection lost or timed out after sending, a
      step-down that interrupted the operation (PrimarySteppedDown, InterruptedDueToReplState
      Change) and any error this list does not name: what is not known not to have happened
      may have.
    """
    from pymongo.errors import (
        NotPrimaryError,
        OperationFailure,
        PyMongoError,
        ServerSelectionTimeoutError,
        WriteConcernError,
    )

    if not changes:
        return "fail"
    if isinstance(error, ServerSelectionTimeoutError):
        return "fail"
    if isinstance(error, PyMongoError) and error.has_error_label(
            "UnknownTransactionCommitResult"):
        return "info"
    if isinstance(error, PyMongoError) and error.has_error_label("TransientTransactionError"):
        return "fail"
    if isinstance(error, WriteConcernError):
        return "info"
    if isinstance(error, NotPrimaryError):
        details = error.details if isinstance(error.details, dict) else {}
        return "fail" if details.get("code") in REFUSED else "info"
    if isinstance(error, OperationFailure):
        return "fail" if error.code in REFUSED else "info"
    return "info"


class _Answered:
    """A command listener: which member ran this client's last command."""

    def __init__(self, names: dict[tuple[str, int], str]):
        self.names = names
        self.last = threading.local()

    def started(self, event: Any) -> None:
        pass

    def succeeded(self, event: Any) -> None:
        self.last.node = self.names.get(tuple(event.connection_id), str(event.connection_id))

    def failed(self, event: Any) -> None:
        self.last.node = self.names.get(tuple(event.connection_id), str(event.connection_id))


class MongoClient:
    """Registers (``read``, ``write``, ``cas``), sets (``add``, ``read`` of a ``set:`` key) and
    list-append transactions (``txn``: snapshot read concern, majority write concern), each
    one attempt, in the run's database; ``member``: connected to that member alone."""

    def __init__(self, info: MongoInfo, concerns: Concerns, timeout_s: float = 2.0,
                 member: str | None = None):
        import pymongo
        from pymongo import monitoring

        names = {(h, p): n for n, (h, p) in zip(info.addresses, info.hosts(), strict=True)}
        names |= {(a, PORT): n for n, a in info.addresses.items()}
        self.answered = _Answered(names)
        self.concerns = concerns
        self.client: Any = pymongo.MongoClient(uri(info, concerns, timeout_s, member),
                                               event_listeners=[self._listener(monitoring)])
        self.db = self.client[info.database]
        self.session = self.client.start_session(causal_consistency=True) if concerns.causal \
            else None

    def _listener(self, monitoring: Any) -> Any:
        answered = self.answered

        class Listener(monitoring.CommandListener):
            def started(self, event: Any) -> None:
                answered.started(event)

            def succeeded(self, event: Any) -> None:
                answered.succeeded(event)

            def failed(self, event: Any) -> None:
                answered.failed(event)

        return Listener()

    def invoke(self, op: Invocation) -> Result:
        self.answered.last.node = None
        changes = op.f != "read"
        try:
            value = self._txn(op.value) if op.f == "txn" else self._single(op)
        except Exception as e:  # every driver error is classified, none hidden
            return Result(outcome_of(e, changes), error=f"{type(e).__name__}: {e}",
                          node=self.answered.last.node)
        if value is _NOT_APPLIED:
            return Result("fail", error="compare-and-set did not match",
                          node=self.answered.last.node)
        return Result("ok", value, node=self.answered.last.node)

    def _single(self, op: Invocation) -> Any:
        coll = self.db[COLLECTION]
        s = self.session
        if op.f == "read":
            doc = coll.find_one({"_id": op.key}, session=s)
            if isinstance(op.key, str) and op.key.startswith("set:"):
                return sorted(doc["v"]) if doc else []
            return None if doc is None else doc.get("v")
        if op.f == "write":
            coll.update_one({"_id": op.key}, {"$set": {"v": op.value}}, upsert=True, session=s)
            return None
        if op.f == "add":
            coll.update_one({"_id": op.key}, {"$addToSet": {"v": op.value}}, upsert=True,
                            session=s)
            return None
        if op.f == "cas":
            old, new = op.value
            done = coll.update_one({"_id": op.key, "v": old}, {"$set": {"v": new}}, session=s)
            return None if done.matched_count == 1 else _NOT_APPLIED
        raise ValueError(f"mongodb client: unknown operation {op.f!r}")

    def _txn(self, mops: list[list[Any]]) -> list[list[Any]]:
        from pymongo.read_concern import ReadConcern
        from pymongo.write_concern import WriteConcern

        coll = self.db[COLLECTION]
        out: list[list[Any]] = []
        with self.client.start_session(causal_consistency=False) as s, s.start_transaction(
                read_concern=ReadConcern("snapshot"),
                write_concern=WriteConcern("majority", wtimeout=self.concerns.wtimeout_ms)):
            for f, k, v in mops:
                key = f"list:{k}"
                if f == "append":
                    coll.update_one({"_id": key}, {"$push": {"v": v}}, upsert=True, session=s)
                    out.append([f, k, v])
                else:
                    doc = coll.find_one({"_id": key}, session=s)
                    out.append([f, k, [] if doc is None else list(doc["v"])])
        return out  # the transaction commits as the with block ends

    def close(self) -> None:
        if self.session is not None:
            self.session.end_session()
        self.client.close()


_NOT_APPLIED = object()
