"""Network faults through toxiproxy proxies: latency, bandwidth, slicing, timeouts and resets.

Each fault adds its toxics to one or more proxies (between clients and a node, or between nodes
whose peers are pointed at proxies) and proves the effect with a timed probe: before the toxics
a baseline, after them the probe must be slower by a lower bound (latency, bandwidth, slicer)
or must fail (timeout, reset-peer); after ``stop`` it must be back to normal.

A probe is ``probe(proxy) -> seconds``: one new connection through the proxy (a toxic's
toxicity is drawn per connection), raising ``OSError`` when the connection breaks. The default,
``RoundTrip()``, times connect + first byte, which any upstream that speaks first shows (and
a connect alone would not: the proxy accepts at once). Give it a payload for an upstream that
answers a request (``RoundTrip(b"PING\\r\\n")`` for Redis; any bytes for an echo server), or pass
your own callable. Bandwidth and slicing show only when data moves, so their default probe
echoes ``probe_bytes`` and needs an echoing upstream; elsewhere pass a probe that moves a known
amount and the ``min_delay_s`` it must show.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import FaultNotEffective
from .toxiproxy import STREAMS, Proxy, Toxic, ToxiproxyClient

Probe = Callable[[Proxy], float]
Proxies = Sequence[Proxy]


@dataclass
class RoundTrip:
    """Seconds from connecting through a proxy until ``expect`` bytes came back for ``payload``."""

    payload: bytes = b""
    expect: int = 1
    timeout: float = 2.0  # for the whole round trip

    def __call__(self, proxy: Proxy) -> float:
        began = time.monotonic()
        deadline = began + self.timeout
        with socket.create_connection((proxy.host, proxy.port), timeout=self.timeout) as sock:
            # Send from another thread: a large echoed payload would otherwise fill both
            # directions' buffers while nobody reads, and stall until the timeout.
            sender = threading.Thread(target=_send, args=(sock, self.payload), daemon=True)
            sender.start()
            got = 0
            while got < self.expect:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                chunk = sock.recv(min(1 << 16, self.expect - got))
                if not chunk:
                    raise ConnectionAbortedError(f"{proxy.name}: closed after {got} bytes")
                got += len(chunk)
            elapsed = time.monotonic() - began
        sender.join(1)
        return elapsed


def _send(sock: socket.socket, payload: bytes) -> None:
    with contextlib.suppress(OSError):  # the reader sees the broken connection and says so
        sock.sendall(payload)


class _ToxicFault:
    """Adds toxics of one type to every proxy's chosen streams; proves, removes, proves again."""

    name = "toxic"
    type = ""
    breaks = False  # True: the probe must fail while active; False: it must be slower

    def __init__(
        self,
        client: ToxiproxyClient,
        proxies: Proxies,
        attributes: dict[str, int],
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        probe: Probe | None = None,
        min_delay_s: float = 0.0,
        samples: int = 3,
    ):
        if not proxies:
            raise ValueError(f"{self.name}: no proxies")
        if stream not in (*STREAMS, "both"):
            raise ValueError(f"{self.name}: stream must be upstream, downstream or both")
        if not 0 < toxicity <= 1:
            raise ValueError(f"{self.name}: toxicity must be in (0, 1]")
        self.client = client
        self.proxies = list(proxies)
        self.attributes = attributes
        self.streams = list(STREAMS) if stream == "both" else [stream]
        self.toxicity = toxicity
        self.probe: Probe = probe or RoundTrip()
        self.min_delay = min_delay_s  # seconds a slowed probe must add to its baseline
        self.samples = samples
        self._tag = secrets.token_hex(3)  # two faults of one type can share a proxy
        self._baseline: dict[str, float] = {}
        self._active = False

    def toxic_name(self, stream: str) -> str:
        return f"sdc-{self.name}-{stream}-{self._tag}"

    def start(self) -> dict[str, Any]:
        """Add the toxics and return what the probe measured; on failure nothing is left."""
        self._baseline = {p.name: self._baseline_of(p) for p in self.proxies}
        self._active = True
        try:
            for p in self.proxies:
                for s in self.streams:
                    toxic = Toxic(self.type, self.attributes, s, self.toxicity, self.toxic_name(s))
                    self.client.add_toxic(p.name, toxic)
            measured = {p.name: self._prove_effect(p) for p in self.proxies}
        except BaseException:
            self._remove()
            self._active = False
            raise
        value: dict[str, Any] = {
            "proxies": [p.name for p in self.proxies],
            "stream": "+".join(self.streams),
        }
        if self.toxicity < 1:
            value["toxicity"] = self.toxicity
        return {**value, **self.attributes, "measured": measured}

    def stop(self) -> dict[str, Any]:
        """Remove the toxics (idempotent) and prove the proxies are back to their baseline."""
        removed = self._remove()
        if not removed and not self._active:
            return {"removed": []}
        rtts = {p.name: self._prove_healed(p) for p in self.proxies}
        self._active = False
        return {"removed": removed, "round_trip_ms": rtts}

    def _remove(self) -> list[str]:
        removed = []
        for p in self.proxies:
            for stream in self.streams:
                if self.client.remove_toxic(p.name, self.toxic_name(stream)):
                    removed.append(f"{p.name}/{self.toxic_name(stream)}")
        return removed

    def _samples(self, proxy: Proxy, n: int) -> list[tuple[float, OSError | None]]:
        results: list[tuple[float, OSError | None]] = []
        for _ in range(n):
            began = time.monotonic()
            try:
                results.append((self.probe(proxy), None))
            except OSError as e:
                results.append((time.monotonic() - began, e))
        return results

    def _baseline_of(self, proxy: Proxy) -> float:
        results = self._samples(proxy, 1)  # a path that fails once fails: no need to wait more
        if results[0][1] is None:
            results += self._samples(proxy, self.samples - 1)
        failed = [e for _, e in results if e is not None]
        if failed:
            raise FaultNotEffective(
                f"{self.name}: the probe through {proxy.name} fails before"
                f" the fault, so it cannot prove it: {failed[0]!r}"
            )
        return min(t for t, _ in results)

    def _prove_effect(self, proxy: Proxy) -> dict[str, Any]:
        # Every connection has the toxic at toxicity 1; below it, enough connections that
        # at least one should have drawn it (the rest may pass unharmed).
        n = self.samples if self.toxicity >= 1 else min(30, math.ceil(self.samples / self.toxicity))
        results = self._samples(proxy, n)
        base = self._baseline[proxy.name]
        hit: list[tuple[float, OSError | None]]
        if self.breaks:
            hit = [(t, e) for t, e in results if e is not None]
        elif any(e is not None for _, e in results):
            raise FaultNotEffective(f"{self.name}: the probe failed instead of slowing: {results}")
        else:
            hit = [(t, e) for t, e in results if t - base >= self.min_delay]
        if not hit or (self.toxicity >= 1 and len(hit) < n):
            seen = ", ".join(f"{t * 1000:.1f} ms" + (f" ({e!r})" if e else "") for t, e in results)
            raise FaultNotEffective(
                f"{self.name} on {proxy.name}: {len(hit)}/{n} probes affected (baseline"
                f" {base * 1000:.1f} ms, need +{self.min_delay * 1000:.1f} ms); saw {seen}"
            )
        if self.breaks:
            t, e = min(hit, key=lambda r: r[0])
            return {"broken_after_ms": round(t * 1000, 1), "error": type(e).__name__}
        added = min(t for t, _ in hit) - base
        return {"added_ms": round(added * 1000, 1), "baseline_ms": round(base * 1000, 2)}

    def _prove_healed(self, proxy: Proxy) -> float:
        results = self._samples(proxy, self.samples)
        fastest = min(t for t, _ in results)
        failed = [e for _, e in results if e is not None]
        # A toxic left behind slows every connection, so the fastest probe decides; half the
        # proven delay is allowed, and at least 20 ms: loopback timing under load is that noisy.
        slow = fastest - self._baseline.get(proxy.name, 0.0) >= max(self.min_delay / 2, 0.02)
        if failed or (slow and not self.breaks):
            seen = repr(failed[0]) if failed else f"fastest probe {fastest * 1000:.1f} ms"
            raise FaultNotEffective(f"{self.name} on {proxy.name}: not healed: {seen}")
        return round(fastest * 1000, 2)


class Latency(_ToxicFault):
    """Delays data by ``ms`` ± ``jitter_ms`` on each chosen stream of each proxy."""

    name = type = "latency"

    def __init__(
        self, client: ToxiproxyClient, proxies: Proxies, ms: int, jitter_ms: int = 0, **kw: Any
    ):
        if not 0 <= jitter_ms < ms:
            raise ValueError("latency: need 0 <= jitter_ms < ms, or no delay can be proven")
        kw["probe"] = kw.get("probe") or RoundTrip(timeout=2 * (ms + jitter_ms) / 1000 + 2)
        kw.setdefault("min_delay_s", 0.9 * (ms - jitter_ms) / 1000)  # Go timers never fire early
        super().__init__(client, proxies, {"latency": ms, "jitter": jitter_ms}, **kw)


class Bandwidth(_ToxicFault):
    """Limits each chosen stream to ``kbps`` kilobytes (1000 bytes) per second."""

    name = type = "bandwidth"

    def __init__(
        self, client: ToxiproxyClient, proxies: Proxies, kbps: int, probe_bytes: int = 0, **kw: Any
    ):
        if kbps <= 0:
            raise ValueError("bandwidth: the rate must be positive")
        # About a quarter of a second of transfer at the limit: long enough to measure.
        size = probe_bytes or min(max(kbps * 250, 1024), 4 << 20)
        transfer = size / (kbps * 1000)
        kw["probe"] = kw.get("probe") or RoundTrip(bytes(size), size, 3 * transfer + 2)
        kw.setdefault("min_delay_s", 0.8 * transfer)
        super().__init__(client, proxies, {"rate": kbps}, **kw)


class Slicer(_ToxicFault):
    """Cuts data into slices of ``average_size`` ± ``size_variation`` bytes, ``delay_us`` apart."""

    name = type = "slicer"

    def __init__(
        self,
        client: ToxiproxyClient,
        proxies: Proxies,
        average_size: int = 64,
        size_variation: int = 32,
        delay_us: int = 1000,
        probe_bytes: int = 0,
        **kw: Any,
    ):
        if not 0 <= size_variation < average_size:
            raise ValueError("slicer: need 0 <= size_variation < average_size")
        if delay_us <= 0:
            raise ValueError("slicer: without a delay between slices it cannot be proven by time")
        largest, smallest = average_size + size_variation, average_size - size_variation
        # Enough slices for a quarter of a second of delays even if every slice is the largest.
        size = probe_bytes or min(largest * (250_000 // delay_us + 2), 4 << 20)
        timeout = 3 * size / smallest * delay_us / 1e6 + 2
        kw["probe"] = kw.get("probe") or RoundTrip(bytes(size), size, timeout)
        # Each chunk the proxy reads is sliced on its own, with no delay after its last slice:
        # half the lower bound leaves room for however the data was chunked.
        kw.setdefault("min_delay_s", 0.5 * (size / largest - 1) * delay_us / 1e6)
        attributes = {"average_size": average_size, "size_variation": size_variation}
        super().__init__(client, proxies, {**attributes, "delay": delay_us}, **kw)


class Timeout(_ToxicFault):
    """Stops all data and closes the connection after ``ms`` (with 0: never closes, data drops)."""

    name = type = "timeout"
    breaks = True

    def __init__(self, client: ToxiproxyClient, proxies: Proxies, ms: int, **kw: Any):
        kw["probe"] = kw.get("probe") or RoundTrip(timeout=ms / 1000 + 2)
        super().__init__(client, proxies, {"timeout": ms}, **kw)


class ResetPeer(Timeout):
    """Resets (TCP RST) each connection once data arrives, after ``timeout_ms``."""

    name, type = "reset-peer", "reset_peer"

    def __init__(self, client: ToxiproxyClient, proxies: Proxies, timeout_ms: int = 0, **kw: Any):
        super().__init__(client, proxies, timeout_ms, **kw)
