"""Latency and throughput over time, binned, from every client operation of a case.

Throughput counts completions per second of each bin (ok, fail and info apart); latency is that
of ok operations, placed by invocation time, as nearest-rank p50 and p99 per bin in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..history import Completed

NS_PER_S = 1e9
NS_PER_MS = 1e6
MAX_BINS = 120
# Bin widths a reader can take in at a glance (seconds).
NICE_WIDTHS = tuple(m * 10.0**e for e in range(-3, 4) for m in (1, 2, 5))


def bin_width(span_s: float, max_bins: int = MAX_BINS) -> float:
    """The smallest nice width that covers ``span_s`` in at most ``max_bins`` bins."""
    for width in NICE_WIDTHS:
        if span_s / width <= max_bins:
            return width
    return NICE_WIDTHS[-1]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of a non-empty sorted sequence."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def build_series(
    completed: Sequence[Completed], start_ns: int, end_ns: int, max_bins: int = MAX_BINS
) -> dict[str, Any]:
    """Per-bin ``ok``/``fail``/``info`` per second and ``p50``/``p99`` ms (``None``: no ok op)."""
    span_s = max(0.0, (end_ns - start_ns) / NS_PER_S)
    width = bin_width(span_s, max_bins)
    n = max(1, math.ceil(span_s / width) if span_s > 0 else 1)
    width_ns = width * NS_PER_S

    def slot(t: int) -> int:
        return min(n - 1, max(0, int((t - start_ns) // width_ns)))

    counts = {"ok": [0] * n, "fail": [0] * n, "info": [0] * n}
    latencies: list[list[float]] = [[] for _ in range(n)]
    for c in completed:
        done = c.completion
        if done is None:
            continue
        counts.get(done.type, counts["info"])[slot(done.time)] += 1
        if done.type == "ok":
            latencies[slot(c.start)].append((done.time - c.start) / NS_PER_MS)
    p50: list[float | None] = []
    p99: list[float | None] = []
    for values in latencies:
        values.sort()
        p50.append(round(percentile(values, 0.5), 3) if values else None)
        p99.append(round(percentile(values, 0.99), 3) if values else None)
    # The last bin is cut short by the end of the history: a rate over its full width would
    # show a drop that never happened. Dividing by at least half a width bounds the opposite error.
    spans = [width] * n
    spans[-1] = min(width, max(width / 2, span_s - (n - 1) * width))

    def rates(xs: list[int]) -> list[float]:
        return [round(x / d, 3) for x, d in zip(xs, spans, strict=True)]

    return {
        "start": round(start_ns / NS_PER_S, 6),
        "width": width,
        "ok": rates(counts["ok"]),
        "fail": rates(counts["fail"]),
        "info": rates(counts["info"]),
        "p50": p50,
        "p99": p99,
    }
