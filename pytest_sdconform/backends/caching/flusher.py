"""The app tier's flusher: drains the Redis outbox into PostgreSQL every ``--interval`` seconds.

``python -m pytest_sdconform.backends.caching.flusher --redis HOST:PORT --db HOST
--interval S --table items|orders``

Writers acknowledge once their entry (``{"k": key, "v": value}``) is in the Redis list
``outbox`` (write-back; orders persisted beside their execution). A flush starts every
``interval`` seconds (start to start): it reads the whole list, upserts every entry into
``table`` in one transaction, commits, then trims what it read from the list, and records how
long it took (from reading the list to the commit) and how long since the previous successful
flush read it (the gap) in ``flushes``. An entry acknowledged at t is read by a flush by t plus
the longest gap and committed by then plus the longest flush, unless Redis loses it first:
Redis runs without persistence, so a Redis crash takes every entry not yet flushed. Errors
(Redis or PostgreSQL down) are printed and the next flush tries again; one that could not read
the outbox (Redis down or restarted empty: no writer could add to it either, on one machine)
starts the gap afresh.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

OUTBOX = "outbox"
UPSERT = {
    "items": "INSERT INTO items (k, v, version) VALUES (%s, %s, 1) ON CONFLICT (k) DO UPDATE "
             "SET v = EXCLUDED.v, version = items.version + 1",
    "orders": "INSERT INTO orders (k, v) VALUES (%s, %s) ON CONFLICT (k) DO NOTHING",
}


def flush(r: Any, db: str, table: str, last: float | None) -> tuple[int, float]:
    """One flush; returns how many entries it moved and when it read the list."""
    import psycopg

    began = time.monotonic()
    entries = r.lrange(OUTBOX, 0, -1)
    with psycopg.connect(host=db, port=5432, user="postgres", dbname="postgres",
                         connect_timeout=2) as conn:
        with conn.cursor() as cur:
            for raw in entries:
                e = json.loads(raw)
                cur.execute(UPSERT[table], (e["k"], e["v"]))
        conn.commit()
        # Entries are pushed on the right: the ones read are the list's first len(entries).
        took = time.monotonic() - began
        if entries:
            r.ltrim(OUTBOX, len(entries), -1)
        gap = 0.0 if last is None else began - last
        conn.execute("INSERT INTO flushes (took_s, gap_s, rows) VALUES (%s, %s, %s)",
                     (took, gap, len(entries)))
        conn.commit()
    return len(entries), began


def main(argv: list[str] | None = None) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redis", required=True, help="HOST:PORT")
    p.add_argument("--db", required=True, help="PostgreSQL host")
    p.add_argument("--interval", type=float, required=True)
    p.add_argument("--table", choices=sorted(UPSERT), required=True)
    a = p.parse_args(argv)
    if a.interval <= 0:
        p.error("--interval must be > 0")
    host, _, port = a.redis.partition(":")
    r = redis.Redis(host, int(port), socket_timeout=2, socket_connect_timeout=1,
                    retry=Retry(NoBackoff(), 0))
    print(f"flusher: {a.redis} outbox -> {a.table} on {a.db} every {a.interval}s", flush=True)
    due = time.monotonic()
    last: float | None = None
    while True:
        due += a.interval
        try:
            n, last = flush(r, a.db, a.table, last)
            if n:
                print(f"flusher: {n} entries flushed", flush=True)
        except Exception as e:  # keep going: the next flush tries again
            if isinstance(e, redis.RedisError):
                last = None
            print(f"flusher: flush failed: {type(e).__name__}: {e}", flush=True)
        time.sleep(max(0.0, due - time.monotonic()))
        due = max(due, time.monotonic() - a.interval)


if __name__ == "__main__":
    main()
