"""An EventSource of ours, publishers, and the client a case's workers use.

``EventSource`` follows the HTML standard's processing model for what the claim is about: it
reads ``id:``/``data:`` fields, remembers the last event id, and when the connection drops it
waits the server's ``retry:`` delay and reconnects with ``Last-Event-ID``. Each reconnection
is recorded with the id it sent and the server's ``X-Head`` then: how many events were
published while it was away. It runs in a thread of the harness; ``Subscribers`` owns several.

``SseClient``: a ``send`` publishes (``POST /publish``; refused connection: ``fail``; no
answer: ``info``), its ok carries the event id; a ``poll`` takes what worker i's subscriber
received since the last poll, ``[subscriber, id, message]`` each, and the reconnections it
made; the final ``poll`` (``"drain"``) waits until every subscriber has the server's last
event (or none made progress for ``DRAIN_IDLE_S``) and takes everything not yet taken.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from typing import Any

from ...workloads import Invocation, Result

DRAIN_IDLE_S = 3.0  # the final poll gives up when no subscriber progressed for this long
READ_TIMEOUT_S = 2.0  # the server sends a comment each idle second: longer silence is a dead link


class EventSource:
    def __init__(self, name: str, endpoint: tuple[str, int],
                 timeout: float = READ_TIMEOUT_S) -> None:
        self.name = name
        self.endpoint = endpoint
        self.timeout = timeout
        self.lock = threading.Lock()
        self.received: list[list[Any]] = []  # [name, id, message]
        self.reconnects: list[list[Any]] = []  # [name, Last-Event-ID sent, server's head]
        self.last_id: str | None = None
        self.retry_s = 1.0
        self.taken = self.reconnects_taken = 0
        self.stopping = threading.Event()
        self.conn: http.client.HTTPConnection | None = None
        self.thread = threading.Thread(target=self._loop, name=f"sse-{name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            # A refused, reset or timed-out stream: wait the retry delay and reconnect.
            with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
                self._stream()
            self.stopping.wait(self.retry_s)

    def _stream(self) -> None:
        conn = http.client.HTTPConnection(*self.endpoint, timeout=self.timeout)
        self.conn = conn
        headers = {"Accept": "text/event-stream"}
        sent = self.last_id
        if sent is not None:
            headers["Last-Event-ID"] = sent
        try:
            conn.request("GET", "/events", headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                return
            with self.lock:
                if sent is not None:
                    head = int(resp.getheader("X-Head") or 0)
                    self.reconnects.append([self.name, int(sent), head])
            event_id, data = None, None
            while not self.stopping.is_set():
                line = resp.fp.readline()
                if not line:
                    return  # the server closed the stream
                text = line.decode().rstrip("\r\n")
                if not text:
                    if data is not None:
                        self._dispatch(event_id, data)
                    event_id, data = None, None
                    continue
                field, _, value = text.partition(":")
                value = value.removeprefix(" ")
                if field == "id":
                    event_id = value
                elif field == "data":
                    data = value
                elif field == "retry" and value.isdigit():
                    self.retry_s = int(value) / 1000
        finally:
            conn.close()

    def _dispatch(self, event_id: str | None, data: str) -> None:
        with self.lock:
            if event_id is not None:
                self.last_id = event_id
            self.received.append([self.name, int(event_id) if event_id else None,
                                  int(data) if data.isdigit() else data])

    def take(self) -> tuple[list[list[Any]], list[list[Any]]]:
        with self.lock:
            events, self.taken = self.received[self.taken:], len(self.received)
            again, self.reconnects_taken = (self.reconnects[self.reconnects_taken:],
                                            len(self.reconnects))
            return events, again

    def last(self) -> int:
        with self.lock:
            return int(self.last_id) if self.last_id else 0

    def stop(self) -> None:
        self.stopping.set()
        conn = self.conn
        if conn is not None and conn.sock is not None:
            conn.sock.close()  # unblocks its read
        self.thread.join(self.timeout + 1)


class Subscribers:
    """``count`` EventSources on ``endpoint``, started on entering, stopped on leaving."""

    def __init__(self, endpoint: tuple[str, int], count: int = 2) -> None:
        self.sources = [EventSource(f"s{i + 1}", endpoint) for i in range(count)]

    def __enter__(self) -> Subscribers:
        for s in self.sources:
            s.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.sources:
            s.stop()


def _request(endpoint: tuple[str, int], method: str, path: str, body: str | None,
             timeout: float) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(*endpoint, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if resp.status == 200 else {}
    finally:
        conn.close()


class SseClient:
    def __init__(self, server: tuple[str, int], subscribers: Subscribers, index: int,
                 timeout: float = 2.0) -> None:
        self.server = server
        self.subscribers = subscribers
        self.index = index
        self.timeout = timeout

    def invoke(self, op: Invocation) -> Result:
        if op.f == "send":
            return self._publish(op.value)
        if op.value == "drain":
            return self._drain()
        source = self.subscribers.sources[self.index % len(self.subscribers.sources)]
        events, again = source.take()
        return Result("ok", events, extra={"reconnects": again})

    def _publish(self, message: Any) -> Result:
        try:
            status, body = _request(self.server, "POST", "/publish", str(message), self.timeout)
        except ConnectionRefusedError as e:
            return Result("fail", error=str(e))
        except (OSError, http.client.HTTPException) as e:  # sent, no answer: maybe published
            return Result("info", error=f"{type(e).__name__}: {e}")
        if status != 200:
            return Result("fail", error=f"HTTP {status}")
        return Result("ok", extra={"event_id": body["id"]})

    def _drain(self) -> Result:
        try:
            head = _request(self.server, "GET", "/head", None, self.timeout)[1]["head"]
        except (OSError, http.client.HTTPException, KeyError) as e:
            return Result("fail", error=f"head: {e}")
        sources = self.subscribers.sources
        progress, idle_since = [s.last() for s in sources], time.monotonic()
        while any(s.last() < head for s in sources) and (
                time.monotonic() - idle_since < DRAIN_IDLE_S):
            time.sleep(0.05)
            now = [s.last() for s in sources]
            if now != progress:
                progress, idle_since = now, time.monotonic()
        events: list[list[Any]] = []
        again: list[list[Any]] = []
        for s in sources:
            taken, made = s.take()
            events += taken
            again += made
        behind = [s.name for s in sources if s.last() < head]
        return Result("ok", events, extra={"reconnects": again, "head": head, "behind": behind})

    def close(self) -> None:
        pass
