"""Administering a replica set from the harness: initiate it, wait for its primary, find the
primary now, and drop the run's database (the external runtime's only trace)."""

from __future__ import annotations

import time
from typing import Any

from ...nodes.routes import via
from .info import PORT, MongoInfo

READY_S = 60.0  # a new set's first election and its members' initial sync, on a slow machine


def direct(address: str, timeout_s: float = 2.0) -> Any:
    """A client of one member only (no replica-set discovery)."""
    from pymongo import MongoClient

    host, port = via(address, PORT)
    ms = int(timeout_s * 1000)
    return MongoClient(host, port, directConnection=True, serverSelectionTimeoutMS=ms,
                       connectTimeoutMS=ms, socketTimeoutMS=ms)


def initiate(info: MongoInfo, config: dict[str, Any]) -> None:
    first = next(iter(info.addresses.values()))
    with direct(first, timeout_s=30) as c:
        c.admin.command("replSetInitiate", config)


def states(info: MongoInfo) -> dict[str, str]:
    """Member name -> its state as any member that answers sees it (PRIMARY, SECONDARY...)."""
    by_host = {f"{a}:{PORT}": n for n, a in info.addresses.items()}
    for address in info.addresses.values():
        try:
            with direct(address, timeout_s=1) as c:
                status = c.admin.command("replSetGetStatus")
        except Exception:  # a member down or not yet in the set: ask the next
            continue
        return {by_host.get(m["name"], m["name"]): m["stateStr"] for m in status["members"]}
    return {}


def wait_for_primary(info: MongoInfo, expect: int, timeout_s: float = READY_S) -> str:
    """The primary's name once the set has one and ``expect - 1`` secondaries; RuntimeError
    with the states seen when it does not come to that within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        seen = states(info)
        primaries = [n for n, s in seen.items() if s == "PRIMARY"]
        secondaries = [n for n, s in seen.items() if s == "SECONDARY"]
        if len(primaries) == 1 and len(secondaries) == expect - 1:
            return primaries[0]
        time.sleep(0.25)
    raise RuntimeError(f"mongodb: no primary with {expect - 1} secondaries after {timeout_s:g}s "
                       f"(states: {seen or 'no member answered'})")


def primary(info: MongoInfo) -> str | None:
    return next((n for n, s in states(info).items() if s == "PRIMARY"), None)


def drop_database(client: Any, info: MongoInfo) -> None:
    """Drop the run's own database, and only it (its name carries the run id)."""
    if not info.database.startswith("sdconform_"):
        raise ValueError(f"refusing to drop {info.database!r}: not a database of a run")
    client.drop_database(info.database)
