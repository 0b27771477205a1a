"""The runner: worker threads drive clients, one nemesis thread breaks things on a seeded schedule,
then everything is healed, the system settles, and final reads close the history.

A fault, once started, stays on for its whole ``fault_duration``: when the traffic's duration
ends during a fault, the clients keep going until that fault is healed (no new fault starts
then). A window cut short by the end of the run would test less than it claims, and an
inconclusive "nothing succeeded during the last fault" would depend on when the clock ran out.

Each worker owns one client and one process id. An operation that outlives ``op_timeout`` is
recorded ``info`` at that moment; its call is abandoned (a Python thread cannot be interrupted),
and the worker continues with a fresh client under a fresh process id, as Jepsen does: the old
process's operation may still take effect, so that id is never used again.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from .faults import Fault
from .faults.schedule import Schedule
from .history import NEMESIS, History
from .progress import progress as say
from .recorder import Recorder, client_fields
from .workloads import Client, Invocation, Result, Workload

# The early stop's looks (``stop_when``) take at most this share of the traffic's time: a look
# that took t seconds is followed by the next no sooner than t * (1 - share) / share later.
DECIDE_SHARE = 0.1


@dataclass
class RunConfig:
    duration: float = 0.0  # seconds of client traffic (a case: 0 is the session's)
    concurrency: int = 0  # worker threads (a case: 0 is the session's)
    op_timeout: float = 5.0  # seconds before an operation is recorded info
    seed: int = 0
    quiet: float = 3.0  # seconds between faults
    fault_duration: float = 5.0  # seconds each fault stays on
    compose: int = 1  # at most this many faults at once
    settle: float = 2.0  # seconds after heal before final reads (or until converged)
    op_delay: float = 0.0  # pause between a worker's operations
    progress_every: float = 5.0
    decide_every: float = 2.0  # how often stop_when is asked (at most: see DECIDE_SHARE)
    # A schedule written out (faults/schedule.py) instead of the one drawn from the seed.
    schedule: Schedule | None = None


class RunStopped(Exception):
    """The nemesis failed (a fault did not take effect or did not heal); see the cause."""


class _Worker:
    """One worker thread: invokes operations, each on a single-thread executor for timeouts."""

    def __init__(self, runner: Runner, index: int):
        self.runner = runner
        self.index = index
        self.rng = random.Random(runner.config.seed * 1000 + index)
        self._fresh()

    def _fresh(self) -> None:
        self.process = next(self.runner.process_ids)
        self.client = self.runner.client_factory(self.index)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=f"sdconform-client-{self.process}")

    def _abandon(self) -> None:
        self.pool.shutdown(wait=False)
        client = self.client
        threading.Thread(target=_close_quietly, args=(client,), daemon=True).start()
        self._fresh()

    def loop(self) -> None:
        cfg = self.runner.config
        stop = self.runner.stop_workers
        try:
            while not stop.is_set():
                op = self.runner.workload.next_op(self.rng)
                self.call(op, cfg.op_timeout)
                if cfg.op_delay:
                    stop.wait(cfg.op_delay)
        except Exception as e:  # a harness bug (workload, recorder): stop the run, say so
            if self.runner.worker_error is None:
                self.runner.worker_error = e
            stop.set()
        finally:
            self.pool.shutdown(wait=False)
            _close_quietly(self.client)

    def call(self, op: Invocation, timeout: float, **extra: Any) -> Result:
        rec = self.runner.recorder
        rec.record(self.process, "invoke", op.f, op.key, op.value, **extra)
        future = self.pool.submit(self.client.invoke, op)
        try:
            result = future.result(timeout)
        except FutureTimeout:
            result = Result("info", error="timeout")
        except Exception as e:  # the client could not say: the outcome is unknown
            result = Result("info", error=f"{type(e).__name__}: {e}")
        # A completion carries what was read; otherwise what was asked (a write's value).
        reads = op.f in ("read", "poll", "dequeue")
        ok = result.type == "ok"
        value = result.value if ok and (reads or result.value is not None) else op.value
        fields = {**result.extra, **extra} if extra and result.extra else result.extra or extra
        rec.record(
            self.process,
            result.type,
            op.f,
            op.key,
            value,
            result.node,
            result.error,
            **(client_fields(op.f, fields) if fields else {}),
        )
        if result.type == "info":
            self._abandon()
        return result


def _close_quietly(client: Client) -> None:
    with contextlib.suppress(Exception):  # a broken connection may fail to close; it is dropped
        client.close()


class Runner:
    """Runs a workload under faults into ``recorder``. ``stop_when(recorder)``, asked every
    ``decide_every`` seconds while the traffic runs, ends it early when true: the recorder's
    ``counts()`` are kept as it records, its ``history()`` is a copy of all so far, to take
    only when the counts say there may be something new to decide."""

    def __init__(
        self,
        workload: Workload,
        client_factory: Callable[[int], Client],
        recorder: Recorder,
        faults: Sequence[Fault] = (),
        config: RunConfig | None = None,
        stop_when: Callable[[Recorder], bool] | None = None,
        converged: Callable[[], bool] | None = None,
        progress: Callable[[str], None] | None = None,
    ):
        self.workload = workload
        self.client_factory = client_factory
        self.recorder = recorder
        self.faults = list(faults)
        self.config = config or RunConfig(duration=30.0, concurrency=4)
        self.stop_when = stop_when
        self.converged = converged
        self.progress = progress or say
        self.process_ids = itertools.count()
        self.stop_workers = threading.Event()
        self.stop_nemesis = threading.Event()
        self.no_new_faults = threading.Event()
        self.in_fault = threading.Event()
        self.window_lock = threading.Lock()  # orders no_new_faults against in_fault
        self.active: list[Fault] = []
        self.nemesis_error: BaseException | None = None
        self.worker_error: BaseException | None = None  # a client worker that died
        self.stopped_early = False

    def run(self) -> History:
        """Run, always heal, and return the history (final reads included)."""
        workers = [_Worker(self, i) for i in range(self.config.concurrency)]
        threads = [
            threading.Thread(target=w.loop, name=f"sdconform-worker-{w.index}", daemon=True)
            for w in workers
        ]
        nemesis = threading.Thread(target=self._nemesis, name="sdconform-nemesis", daemon=True)
        try:
            for t in threads:
                t.start()
            if self.faults:
                nemesis.start()
            self._wait()
        finally:
            self.stop_nemesis.set()
            self.stop_workers.set()
            if nemesis.is_alive():
                nemesis.join(self._longest_fault() + 60)
            self.heal(everything=True)
            for t in threads:
                t.join(self.config.op_timeout + 1)
        if self.nemesis_error is not None:
            raise RunStopped(f"nemesis failed: {self.nemesis_error}") from self.nemesis_error
        if self.worker_error is not None:
            e = self.worker_error
            raise RunStopped(f"a client worker failed: {type(e).__name__}: {e}") from e
        self._settle()
        self._final_reads()
        return self.recorder.history()

    def _wait(self) -> None:
        start = time.monotonic()
        last_progress = last_decide = start
        decide_every = self.config.decide_every
        while not self.stop_workers.wait(0.2):
            now = time.monotonic()
            if self.nemesis_error is not None:
                return
            if now - start >= self._duration():
                self._finish_fault(now)
                return
            if self.stop_when is not None and now - last_decide >= decide_every:
                decided = self.stop_when(self.recorder)
                last_decide = time.monotonic()
                # A look at a long history takes long, and takes the GIL from the clients:
                # the next waits until the looks have taken at most DECIDE_SHARE of the time.
                decide_every = max(self.config.decide_every,
                                   (last_decide - now) * (1 - DECIDE_SHARE) / DECIDE_SHARE)
                if decided:
                    self.stopped_early = True
                    self.progress(f"stopping early after {now - start:.1f}s: the claim is decided")
                    return
            if now - last_progress >= self.config.progress_every:
                last_progress = now
                self.progress(self._status(now - start))

    def _duration(self) -> float:
        """Seconds of traffic: a written schedule runs to its end, then a quiet span after."""
        cfg = self.config
        if cfg.schedule is None:
            return cfg.duration
        return max(cfg.duration, cfg.schedule.span + cfg.quiet)

    def _longest_fault(self) -> float:
        cfg = self.config
        if cfg.schedule is None or not cfg.schedule.steps:
            return cfg.fault_duration
        return max(s.duration for s in cfg.schedule.steps)

    def _finish_fault(self, now: float) -> None:
        """Let a fault that is on run its full course before the traffic stops."""
        with self.window_lock:
            self.no_new_faults.set()
        limit = now + self._longest_fault() + 60  # a start or heal that hangs is the nemesis's
        while self.in_fault.is_set() and self.nemesis_error is None and time.monotonic() < limit:
            self.stop_workers.wait(0.1)

    def _status(self, elapsed: float) -> str:
        counts = self.recorder.counts()  # kept as it records: no walk through the history
        faults = ", ".join(f.name for f in self.active) or "none"
        return (
            f"{elapsed:.0f}s/{self._duration():.0f}s: {counts.ok} ok, "
            f"{counts.fail} fail, {counts.info} info; faults: {faults}"
        )

    def _steps(self) -> Iterator[tuple[float, list[Fault], float]]:
        """(quiet, faults, duration) for each fault window: the written schedule's steps, or
        drawn from the seed until the traffic ends."""
        cfg = self.config
        if cfg.schedule is not None:
            for step in cfg.schedule.steps:
                yield step.quiet, [self.faults[i] for i, _ in step.faults], step.duration
            return
        rng = random.Random(cfg.seed)
        while True:
            yield cfg.quiet, rng.sample(self.faults, rng.randint(
                1, min(cfg.compose, len(self.faults)))), cfg.fault_duration

    def _nemesis(self) -> None:
        try:
            for quiet, chosen, duration in self._steps():
                if self.stop_nemesis.wait(quiet):
                    return
                with self.window_lock:
                    if self.no_new_faults.is_set():
                        return
                    self.in_fault.set()
                try:
                    for fault in chosen:
                        # When the fault began to act: a container's kill takes a while, and
                        # clients feel it before start() has proved it (FaultWindow.onset).
                        self.recorder.record(NEMESIS, "invoke", f"{fault.name}-start")
                        value = fault.start()
                        self.active.append(fault)
                        self.recorder.record(NEMESIS, "info", f"{fault.name}-start", value=value)
                    if self.stop_nemesis.wait(duration):
                        return
                    self.heal()
                finally:
                    self.in_fault.clear()
        except BaseException as e:  # a fault that did not take effect stops the run
            self.nemesis_error = e

    def heal(self, everything: bool = False) -> None:
        """Stop every active fault, newest first; with ``everything``, then every fault of the
        run once more (stop is idempotent), so nothing survives a nemesis that died mid-way."""
        errors = []
        while self.active:
            fault = self.active.pop()
            # The window closes when the heal begins: from here on the fault is no longer
            # applied, even though proving the heal (or restarting a node) takes a while.
            self.recorder.record(NEMESIS, "info", f"{fault.name}-stop")
            try:
                proof = fault.stop()
                # What the heal proved (a node restarted, old workers drained...), on record.
                self.recorder.record(NEMESIS, "info", f"{fault.name}-healed", value=proof)
            except Exception as e:
                errors.append(e)
                self.recorder.record(NEMESIS, "info", f"{fault.name}-heal-failed", error=str(e))
        for fault in self.faults if everything else ():
            try:
                fault.stop()
            except Exception as e:
                errors.append(e)
        if errors and self.nemesis_error is None:
            self.nemesis_error = errors[0]

    def _settle(self) -> None:
        deadline = time.monotonic() + self.config.settle
        if self.converged is None:
            time.sleep(self.config.settle)
            return
        while time.monotonic() < deadline and not self.converged():
            time.sleep(0.1)

    def _final_reads(self) -> None:
        ops = self.workload.final_ops()
        if not ops:
            return
        worker = _Worker(self, self.config.concurrency)
        try:
            for op in ops:
                worker.call(op, self.config.op_timeout, final=True)
        finally:
            worker.pool.shutdown(wait=False)
            _close_quietly(worker.client)


def run(
    workload: Workload,
    client_factory: Callable[[int], Client],
    recorder: Recorder,
    faults: Sequence[Fault] = (),
    config: RunConfig | None = None,
    **kw: Any,
) -> History:
    return Runner(workload, client_factory, recorder, faults, config, **kw).run()
