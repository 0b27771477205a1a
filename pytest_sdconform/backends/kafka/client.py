"""confluent-kafka clients for the log workload: a producer per client, a consumer per client in a
child process (``consumer.py``), and the final drain.

A send is one ``produce`` awaited to its delivery report: ok with the partition and offset, or
``fail`` for the broker errors that mean the record was not appended (not enough replicas, not
the leader, unknown partition), else ``info``. Client retries are what the test's producer
settings say; ``message.timeout.ms`` is below the runner's op timeout so the client answers.

Commit modes of ``poll`` (the "processing" is the poll's ok completion in the history):
``auto`` (enable.auto.commit, the default), ``after`` (commit after processing: at least once),
``before`` (commit before processing: at most once). With ``crash_every`` n, every n-th poll
that got messages crashes the consumer (SIGKILL of its process) at the point that tells the
modes apart: before processing for ``before``, after processing and before any commit for
``after`` and ``auto``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...workloads import Invocation, Result
from ...workloads.log import DRAIN

# Broker errors that reject a produce request before anything is appended.
REJECTED = {
    "NOT_ENOUGH_REPLICAS",
    "NOT_LEADER_OR_FOLLOWER",
    "NOT_LEADER_FOR_PARTITION",
    "UNKNOWN_TOPIC_OR_PART",
    "MSG_SIZE_TOO_LARGE",
    "INVALID_REQUIRED_ACKS",
    "TOPIC_AUTHORIZATION_FAILED",
    "_UNKNOWN_PARTITION",
    "_UNKNOWN_TOPIC",
}


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
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """The child's "ready" line (after its imports and init_transactions)."""
        if not self.ready:
            self.ask(None, self.startup)
            self.ready = True

    def ask(self, command: str | None, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if command is not None:
            self.wait_ready()
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"consumer did not answer {command!r} within {timeout:.0f}s")
        line = self.proc.stdout.readline()
        if not line:
            raise ConnectionError("consumer process exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def crash(self) -> None:
        """SIGKILL: no leave-group, no commit; the group notices at its session timeout."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

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
        from confluent_kafka import Producer

        self.s = settings
        self.index = index
        self.producer = Producer(settings.producer_config())
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
        try:
            self.producer.produce(
                self.s.topic,
                str(op.value).encode(),
                key=None if op.key is None else str(op.key).encode(),
                on_delivery=lambda err, msg: box.update(err=err, msg=msg),
            )
        except (KafkaException, BufferError) as e:  # refused locally: nothing was sent
            return Result("fail", error=str(e))
        self.producer.flush(self.s.timeout + 1)
        if "err" not in box:
            return Result("info", error="no delivery report in time")
        err, msg = box["err"], box["msg"]
        if err is None:
            return Result("ok", extra={"partition": msg.partition(), "offset": msg.offset()})
        return Result("fail" if err.name() in REJECTED else "info", error=err.name())

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

    def _crash(self) -> None:
        if self.consumer is not None:
            self.consumer.crash()
            self.consumer = None

    def _poll(self) -> Result:
        try:
            c = self._consumer()
            reply = c.ask("poll 0.5", self.s.timeout)
        except (OSError, TimeoutError, ConnectionError) as e:
            self._crash()
            return Result("fail", error=f"poll: {e}")  # nothing was handed to the application
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
                self._crash()
                return Result("info", error="consumer crashed after committing, before processing")
            if "error" in committed:  # not committed: drop the batch, its next owner reads it
                return Result("ok", [], extra={"commit_error": committed["error"]})
            return Result("ok", batch)
        if crash:  # processed, then died before the offsets were committed
            self._crash()
            return Result("ok", batch, extra={"crashed": "after processing, before commit"})
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
            self._crash()
            return Result("info", error=f"processor: {e}")
        if reply.get("crashing"):
            self._crash()
            return Result("info", error="processor crashed mid-transaction")
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
        return Result("ok", reply["ok"])

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        self.producer.flush(0)
