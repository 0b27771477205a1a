"""ContainedFailure on synthetic front-service histories: home requests failing during the
pause (the cascade), or more calls to the failing tier than the limit allows, refute; home
served, load bounded and the tier recovered, with breaker, limit and retries acting, upholds;
no pause, or a layer whose parts never acted, is inconclusive. Plus the layer itself
(breaker, bucket, retries) on a fake clock."""

from __future__ import annotations

import random
from typing import Any

from pytest_sdconform.backends.nginx.resilience import (
    CircuitBreaker,
    Patterns,
    Resilient,
    TokenBucket,
)
from pytest_sdconform.checkers.judge import INCONCLUSIVE, REFUTED, UPHELD
from pytest_sdconform.checkers.resilience import ContainedFailure
from pytest_sdconform.history import NEMESIS, History, Operation
from pytest_sdconform.outcome import decide
from pytest_sdconform.workloads import Result

NS = 1_000_000_000


def history(home_ok: bool = True, calls: int = 1, acted: bool = True,
            pause: bool = True) -> History:
    """Traffic 0-12 s, a pause 2-8 s; every 0.1 s a home and a dep request. In the pause the
    dep requests fail (rejected by the breaker or the limit when ``acted``, each making
    ``calls`` calls otherwise); home ones fail unless ``home_ok``."""
    ops: list[Operation] = []

    def add(t: float, process: int | str, type_: str, f: str,
            extra: dict[str, Any] | None = None) -> None:
        ops.append(Operation(len(ops), int(t * NS), process, type_, f, "k", None, None, None,
                             extra))

    if pause:
        add(2.0, NEMESIS, "invoke", "pause-start")
        add(2.0, NEMESIS, "info", "pause-start")
    for i in range(120):
        t = i * 0.1
        faulty = pause and 2.0 <= t < 8.0
        add(t, 1, "invoke", "home")
        add(t + 0.01, 1, "ok" if home_ok or not faulty else "fail", "home",
            {"attempts": 1, "rejected": None, "retries": 0})
        if faulty:
            rej = ("breaker" if i % 2 else "limit") if acted and i % 10 else None
            made = 0 if rej else calls
            extra = {"attempts": made, "rejected": rej, "retries": 1 if made > 1 else 0}
            add(t + 0.02, 2, "invoke", "dep")
            add(t + 0.03, 2, "fail", "dep", extra)
        else:
            add(t + 0.02, 2, "invoke", "dep")
            add(t + 0.03, 2, "ok", "dep", {"attempts": 1, "rejected": None, "retries": 0})
        if pause and i == 80:
            add(8.0, NEMESIS, "info", "pause-stop")
    return History(ops)


def judge() -> ContainedFailure:
    return ContainedFailure(grace=1.0, recover=1.0, burst=5, rate=2.0)


def test_home_served_load_bounded_and_recovered_is_upheld() -> None:
    d = decide(history(calls=2), {}, judge(), faults=["pause"])
    assert d.outcome == UPHELD, d.reason


def test_home_requests_failing_in_the_pause_is_refuted() -> None:
    d = decide(history(home_ok=False), {}, judge(), faults=["pause"])
    assert d.outcome == REFUTED, d.reason
    assert "home requests ok" in d.reason


def test_a_retry_storm_past_the_limit_is_refuted() -> None:
    # 60 dep requests in the pause, 6 not rejected, each making 10 calls: 60 > 5 + 2 * 6
    d = decide(history(calls=10), {}, judge(), faults=["pause"])
    assert d.outcome == REFUTED, d.reason
    assert "calls to the failing tier" in d.reason


def test_no_pause_is_inconclusive() -> None:
    d = decide(history(pause=False), {}, judge(), faults=["pause"])
    assert d.outcome == INCONCLUSIVE, d.reason


def test_a_layer_that_never_acted_is_inconclusive() -> None:
    # every dep request in the pause made one call: no breaker, no limit, no retry
    d = decide(history(acted=False, calls=0), {}, judge(), faults=["pause"])
    assert d.outcome == INCONCLUSIVE, d.reason
    assert "never acted" in d.reason


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_bucket_allows_burst_then_rate() -> None:
    c = Clock()
    b = TokenBucket(3, 2.0, c)
    assert [b.take() for _ in range(4)] == [True, True, True, False]
    c.t += 0.5
    assert b.take() and not b.take()


def test_breaker_opens_probes_once_and_closes() -> None:
    c = Clock()
    br = CircuitBreaker(2, 1.0, c)
    br.failure()
    assert br.allow()
    br.failure()
    assert not br.allow()
    c.t += 1.0
    assert br.allow() and not br.allow()  # one half-open probe
    br.failure()
    assert not br.allow() and br.opens == 2
    c.t += 1.0
    assert br.allow()
    br.success()
    assert br.allow() and br.allow()


def test_layer_retries_with_backoff_then_fails_fast() -> None:
    c = Clock()
    layer = Resilient(Patterns(attempts=3, backoff=0.1, threshold=2, open_for=1.0, burst=10,
                               rate=1.0), random.Random(1), c, c.sleep)
    result, made, rejected = layer.call(lambda: Result("fail", error="timeout"))
    # two calls open the breaker; the third attempt is rejected by it
    assert (result.type, made, rejected) == ("fail", 2, "breaker")
    assert 0 < c.t <= 0.1 + 0.2  # two waits, ceilings 0.1 and 0.2
    result, made, rejected = layer.call(lambda: Result("ok"))
    assert (made, rejected) == (0, "breaker")


def test_layer_rate_limits() -> None:
    c = Clock()
    layer = Resilient(Patterns(attempts=1, threshold=100, burst=2, rate=1.0), None, c, c.sleep)
    got = [layer.call(lambda: Result("ok"))[2] for _ in range(3)]
    assert got == [None, None, "limit"]


def test_front_service_pool_is_held_by_a_hung_call() -> None:
    """Without the layer a dep call to a listener that never answers holds the only slot: a
    home request meanwhile finds no worker; with it the breaker opens and dep calls fail fast."""
    import socket
    import threading
    import time
    from http.server import ThreadingHTTPServer

    from pytest_sdconform.backends.nginx.appserver import MemoryStore, make_handler
    from pytest_sdconform.backends.nginx.resilience import FrontService
    from pytest_sdconform.workloads import Invocation

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # accepts into the backlog, never answers
    home = ThreadingHTTPServer(("127.0.0.1", 0), make_handler("a1", MemoryStore()))
    threading.Thread(target=home.serve_forever, daemon=True).start()
    try:
        hport, dport = home.server_address[1], hung.getsockname()[1]
        for patterns in (None, Patterns(attempts=1, threshold=1, open_for=60.0)):
            svc = FrontService("127.0.0.1", "127.0.0.1", patterns, capacity=1, queue_wait=0.1,
                               timeout=0.5, port=hport, dep_port=dport)
            first = svc.serve(Invocation("dep", "k"))
            assert first.type == "fail" and first.extra
            assert first.extra["attempts"] == (2 if patterns is None else 1)
            t = threading.Thread(target=svc.serve, args=(Invocation("dep", "k"),))
            t.start()
            time.sleep(0.05)
            got = svc.serve(Invocation("home", "k"))
            t.join()
            assert got.extra is not None
            if patterns is None:  # the hung call holds the slot 2 x 0.5 s: no worker for home
                assert got.type == "fail" and got.extra["rejected"] == "pool", got
            else:  # the breaker opened at the first failure: the second dep call failed fast
                assert got.type == "ok", got
    finally:
        home.shutdown()
        hung.close()
