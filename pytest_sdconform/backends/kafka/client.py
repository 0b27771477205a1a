"""confluent-kafka clients for the log workload: a producer per client (``producer.py``), a
consumer per client in a child process (``consumer.py``), and the final drain.

A send is one ``produce`` awaited to its delivery report: ok with the partition and offset, or
``fail`` for the broker errors that mean the record was not appended (``producer.REJECTED``:
not enough replicas, not the leader, unknown partition), else ``info``. Client retries are what
the test's producer settings say; ``message.timeout.ms`` is below the runner's op timeout so
the client answers. Every send's completion names its ``producer`` and ``seq`` and the
producer's retries (``producer.SharedProducer``). With ``share_producer`` n, n workers share
one producer, so that several sends of one producer are in flight at once (asynchronous
produce, as an application does).

Commit modes of ``poll`` (the "processing" is the poll's ok completion in the history):
``auto`` (enable.auto.commit, the default), ``after`` (commit after processing: at least once),
``before`` (commit before processing: at most once). With ``crash_every`` n, every n-th poll
that got messages crashes the consumer (SIGKILL of its process) at the point that tells the
modes apart: before processing for ``before``, after processing and before any commit for
``after`` and ``auto``.

A crash is in the history: the poll (or transactional step) it ended carries ``crashed`` (the
point: ``after-processing`` before the commit, ``after-commit`` before processing,
``mid-transaction`` after sending before the commit, or ``unresponsive`` for a consumer killed
because it did not answer), ``in_hand`` (the messages it held) and ``killed`` (its exit status
shows the SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...workloads import Invocation, Result
from ...workloads.log import DRAIN
from .producer import REJECTED, SharedProducer

WARM_S = 2.0  # how long a new producer may spend learning its topic's partitions


@dataclass
class Settings:
    """What every client of a case shares."""

    bootstrap: str
    topic: str = "log"
    producer: dict[str, Any] = field(default_factory=dict)  # librdkafka producer settings
    consumer: dict[str, Any] = field(default_factory=dict)  # librdkafka consumer settings
    commit: str = "after"  # auto | after | before
    crash_every: int = 0
    group: str = "sdconform"
    timeout: float = 5.0  # each client call answers within this
    drain_s: float = 30.0
    output: str | None = None  # with a transactional processor: the topic it writes
    transactional: bool = False
    consume_from_start: bool = False  # start each client's consumer with the client
    share_producer: int = 0  # n > 0: workers i, i+1.. share one producer per n of them
    _producers: dict[int, SharedProducer] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def producer_for(self, index: int) -> SharedProducer:
        """The producer of worker ``index``: its own, or the one it shares."""
        if not self.share_producer:
            return self._warm(SharedProducer(self.producer_config(),
                                             f"p{index}.{time.monotonic_ns()}"))
        with self._lock:
            n = index // self.share_producer
            if n not in self._producers:
                self._producers[n] = self._warm(SharedProducer(self.producer_config(),
                                                               f"shared{n}"))
            return self._producers[n]

    def _warm(self, producer: SharedProducer) -> SharedProducer:
        producer.warm(self.topic, min(self.timeout, WARM_S))
        return producer

    def producer_config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap,
            "message.timeout.ms": int(self.timeout * 1000),
            "socket.connection.setup.timeout.ms": 1000,
            **self.producer,
        }

    def consumer_config(self, group: str | None = None) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "group.id": group or self.group,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "socket.connection.setup.timeout.ms": 1000,
        }
        if self.commit != "auto":
            conf["enable.auto.commit"] = False
        return {**conf, **self.consumer}


class ConsumerProcess:
    """The consumer child: send a command, read its one-line JSON answer within a deadline."""

    def __init__(
        self, spec: dict[str, Any], timeout: float, subscribe: bool = True, wait: bool = True
    ):
        spec = {**spec, "subscribe": subscribe}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_sdconform.backends.kafka.consumer", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.ready = False
        self.startup = timeout + 10
        self.asked = 0  # commands sent, each with its number as id
        self.stale = 0  # late answers to commands whose wait had timed out, skipped
        self.buffer = b""  # what was read past the last whole answer
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """The child's "ready" line (after its imports and init_transactions)."""
        if not self.ready:
            self.ask(None, self.startup)
            self.ready = True

    def ask(self, command: str | None, timeout: float) -> dict[str, Any]:
        """Send ``command`` and return its answer. Answers carry the command's id: a late
        answer to an earlier command (whose wait timed out) is skipped, never taken for this
        one's. (Without ids, a commit that timed out under a partition shifted every later
        answer by one: a poll's batch was read as the commit's answer and never recorded, and
        the commit after it committed that batch, so the group skipped messages nobody had
        processed.)"""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        want = None
        if command is not None:
            self.wait_ready()
            self.asked += 1
            want = self.asked
            self.proc.stdin.write(f"{want} {command}\n")
            self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            line = self._line(command, deadline, timeout)
            reply: dict[str, Any] = json.loads(line)
            if want is None or reply.get("id") == want:
                return reply
            self.stale += 1

    def _line(self, command: str | None, deadline: float, timeout: float) -> bytes:
        """The next answer line, read from the pipe's descriptor (a buffered reader could hold
        a second answer where ``select`` does not see it)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"consumer did not answer {command!r} within {timeout:.0f}s")
            data = os.read(fd, 65536)
            if not data:
                raise ConnectionError("consumer process exited")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def crash(self) -> bool:
        """SIGKILL: no leave-group, no commit; the group notices at its session timeout.
        True when the exit status shows the SIGKILL (it was alive until then)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(10) == -signal.SIGKILL

    def close(self) -> None:
        try:
            self.ask("close", 10)
            self.proc.wait(5)
        except (OSError, TimeoutError, ConnectionError, ValueError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.crash()


class KafkaClient:
    """Sends with a producer of its own; polls with a consumer child of its own."""

    def __init__(self, settings: Settings, index: int = 0):
        self.s = settings
        self.index = index
        self.producer = settings.producer_for(index)
        self.consumer: ConsumerProcess | None = None
        self.polls_with_messages = 0

    def invoke(self, op: Invocation) -> Result:
        if self.s.consume_from_start and self.consumer is None and op.value != DRAIN:
            # start the child (it joins the group at once) while this op runs; not for the
            # drain's client, whose idle member would hold partitions the drain needs
            self._consumer(wait=False)
        if op.f == "send":
            return self._send(op)
        if op.f == "poll" and op.value == DRAIN:
            return self._drain()
        if op.f == "poll":
            return self._process() if self.s.transactional else self._poll()
        return Result("fail", error=f"unknown operation {op.f}")

    def _send(self, op: Invocation) -> Result:
        from confluent_kafka import KafkaException

        box: dict[str, Any] = {}
        p = self.producer
        before = p.retries
        try:
            seq = p.produce(self.s.topic, str(op.value).encode(),
                            None if op.key is None else str(op.key).encode(), box)
        except (KafkaException, BufferError) as e:  # refused locally: nothing was sent
            return Result("fail", error=str(e))
        p.wait(box, self.s.timeout + 1)
        extra = {"producer": p.name, "seq": seq, "retries_before": before, "retries": p.retries}
        if "err" not in box:
            return Result("info", error="no delivery report in time", extra=extra)
        err, msg = box["err"], box["msg"]
        if err is None:
            return Result("ok", extra={"partition": msg.partition(), "offset": msg.offset(),
                                       **extra})
        return Result("fail" if err.name() in REJECTED else "info", error=err.name(),
                      extra=extra)

    def _consumer(self, wait: bool = True) -> ConsumerProcess:
        if self.consumer is None:
            spec: dict[str, Any] = {"topic": self.s.topic, "consumer": self.s.consumer_config()}
            if self.s.transactional:
                spec = self._processor_spec(str(self.index))
            self.consumer = ConsumerProcess(spec, self.s.timeout, wait=wait)
        return self.consumer

    def _processor_spec(self, name: str) -> dict[str, Any]:
        """A transactional read-process-write step: read_committed input, one transactional.id
        per processor (a restarted one fences its zombie)."""
        return {
            "topic": self.s.topic,
            "output": self.s.output,
            "consumer": {**self.s.consumer_config(), "isolation.level": "read_committed"},
            "producer": {
                **self.s.producer_config(),
                "transactional.id": f"{self.s.group}-processor-{name}",
                "transaction.timeout.ms": 10000,
            },
        }

    def _crash_due(self) -> bool:
        self.polls_with_messages += 1
        return self.s.crash_every > 0 and self.polls_with_messages % self.s.crash_every == 0

    def _crash(self, point: str = "unresponsive", in_hand: int = 0) -> dict[str, Any]:
        """Kill the consumer; what the history records about it."""
        killed = self.consumer.crash() if self.consumer is not None else False
        self.consumer = None
        return {"crashed": point, "in_hand": in_hand, "killed": killed}

    def _poll(self) -> Result:
        try:
            c = self._consumer()
            reply = c.ask("poll 0.5", self.s.timeout)
        except (OSError, TimeoutError, ConnectionError) as e:
            # nothing was handed to the application
            return Result("fail", error=f"poll: {e}", extra=self._crash())
        if "error" in reply:
            return Result("fail", error=reply["error"])
        batch = reply["ok"]
        if not batch:
            return Result("ok", [])
        crash = self._crash_due()
        if self.s.commit == "before":
            try:
                committed = c.ask("commit", self.s.timeout)
            except (OSError, TimeoutError, ConnectionError) as e:
                committed = {"error": str(e)}
            if crash:  # committed, then died before processing: the batch is never processed
                return Result("info", error="consumer crashed after committing, before processing",
                              extra={**self._crash("after-commit", len(batch)),
                                     "commit_error": committed.get("error")})
            if "error" in committed:  # not committed: drop the batch, its next owner reads it
                return Result("ok", [], extra={"commit_error": committed["error"]})
            return Result("ok", batch)
        if crash:  # processed, then died before the offsets were committed
            return Result("ok", batch, extra=self._crash("after-processing", len(batch)))
        if self.s.commit == "after":
            try:
                committed = c.ask("commit", self.s.timeout)
            except (OSError, TimeoutError, ConnectionError) as e:
                committed = {"error": str(e)}
            if "error" in committed:
                return Result("ok", batch, extra={"commit_error": committed["error"]})
        return Result("ok", batch)

    def _process(self) -> Result:
        """One transactional read-process-write step from the input to the output topic."""
        crash = self.s.crash_every > 0 and (self.polls_with_messages + 1) % self.s.crash_every == 0
        command = "process 0.5" + (" crash_after_send" if crash else "")
        try:
            reply = self._consumer().ask(command, self.s.timeout + 10)
        except (OSError, TimeoutError, ConnectionError) as e:
            return Result("info", error=f"processor: {e}", extra=self._crash())
        if reply.get("crashing"):
            return Result("info", error="processor crashed mid-transaction",
                          extra=self._crash("mid-transaction", int(reply.get("sent", 0))))
        if "error" in reply:
            return Result("info", error=reply["error"])
        if reply.get("processed"):
            self.polls_with_messages += 1
        return Result("ok", [], extra={"processed": reply.get("processed", 0)})

    def _drain(self) -> Result:
        s = self.s
        if s.transactional:
            # finish processing the input first, then read the output as read_committed
            # a processor that crashed mid-transaction leaves it open, which holds back what
            # read_committed readers see until transaction.timeout.ms: restart each processor's
            # transactional.id (init_transactions fences its zombie and aborts what it left)
            with ThreadPoolExecutor(self.index or 1) as pool:
                fenced = list(
                    pool.map(
                        lambda i: ConsumerProcess(
                            self._processor_spec(str(i)), s.timeout, subscribe=False
                        ),
                        range(self.index),
                    )
                )
            for p in fenced:
                p.close()
            processor = ConsumerProcess(self._processor_spec("drain"), s.timeout)
            try:
                idle, deadline = 0, time.monotonic() + s.drain_s
                while idle < 3 and time.monotonic() < deadline:
                    step = processor.ask("process 1.0", s.timeout + 10)
                    if "error" in step:
                        return Result("fail", error=f"processor: {step['error']}")
                    idle = 0 if step.get("processed") else idle + 1
            finally:
                processor.close()
            spec = {
                "topic": s.output,
                "consumer": {
                    **s.consumer_config(f"{s.group}-reader"),
                    "isolation.level": "read_committed",
                },
            }
        else:
            spec = {"topic": s.topic, "consumer": s.consumer_config()}
        reader = ConsumerProcess(spec, s.timeout)
        try:
            reply = reader.ask(f"drain {s.drain_s}", s.drain_s + 10)
        finally:
            reader.close()
        if "error" in reply:
            return Result("fail", error=reply["error"])
        return Result("ok", reply["ok"], extra={"partitions": reply.get("partitions", {})})

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        if not self.s.share_producer:  # a shared one serves the other workers still
            self.producer.producer.flush(0)
