"""The app tier's flusher: drains the Redis outbox into PostgreSQL every ``--interval`` seconds.

``python -m pytest_sdconform.backends.caching.flusher --redis HOST:PORT --db HOST
--interval S --table items|orders``

Writers acknowledge once their entry (``{"k": key, "v": value}``) is in the Redis list
``outbox`` (write-back; orders persisted beside their execution). A flush starts every
``interval`` seconds (start to start): it reads the whole list, upserts every entry into
``table`` and records in ``flushes`` how long it took (from reading the list to the commit)
and the gap since the previous read that left nothing unread, in one transaction, then trims
what it read from the list (an entry flushed twice is upserted again, harmlessly). An entry
acknowledged at t is read by a flush by t plus the longest gap and committed by then plus the
longest flush, unless Redis loses it first: Redis runs without persistence, so a Redis crash
takes every entry not yet flushed. Errors
(Redis or PostgreSQL down) are printed and the next flush tries again; a read of the outbox
that failed (Redis down: what it held is gone, and no writer can add to it) counts as a read
for the gap, a flush that failed at PostgreSQL does not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Sequence

OUTBOX = "outbox"
UPSERT = {
    "items": "INSERT INTO items (k, v, version) VALUES (%s, %s, 1) ON CONFLICT (k) DO UPDATE "
             "SET v = EXCLUDED.v, version = items.version + 1",
    "orders": "INSERT INTO orders (k, v) VALUES (%s, %s) ON CONFLICT (k) DO NOTHING",
}


def flush(entries: Sequence[bytes | str], db: str, table: str, began: float, gap: float) -> None:
    """Upsert what one read of the outbox found, and record the flush, in one transaction."""
    import psycopg

    with psycopg.connect(host=db, port=5432, user="postgres", dbname="postgres",
                         connect_timeout=2) as conn:
        with conn.cursor() as cur:
            for raw in entries:
                e = json.loads(raw)
                cur.execute(UPSERT[table], (e["k"], e["v"]))
            cur.execute("INSERT INTO flushes (took_s, gap_s, rows) VALUES (%s, %s, %s)",
                        (time.monotonic() - began, gap, len(entries)))
        conn.commit()


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
    last: float | None = None  # the last read of the outbox that left nothing behind unread
    while True:
        due += a.interval
        began = time.monotonic()
        try:
            entries = r.lrange(OUTBOX, 0, -1)
        except redis.RedisError as e:
            # Redis down: what the outbox held is gone with it, and nothing can be added
            # until it is back, so the wait of the next entries counts from here. The gap up
            # to this read is recorded all the same: an entry lost in the crash had waited
            # less than it.
            print(f"flusher: outbox unreadable: {type(e).__name__}: {e}", flush=True)
            with contextlib.suppress(Exception):
                flush([], a.db, a.table, began, 0.0 if last is None else began - last)
            last = began
            entries = None
        if entries is not None:
            try:
                flush(entries, a.db, a.table, began, 0.0 if last is None else began - last)
                last = began
                if entries:
                    # Pushed on the right: the ones read are the list's first len(entries).
                    r.ltrim(OUTBOX, len(entries), -1)
                    print(f"flusher: {len(entries)} entries flushed", flush=True)
            except Exception as e:  # keep going: the next flush tries again
                print(f"flusher: flush failed: {type(e).__name__}: {e}", flush=True)
        time.sleep(max(0.0, due - time.monotonic()))
        due = max(due, time.monotonic() - a.interval)


if __name__ == "__main__":
    main()
