"""Clock skew: move nodes' wall clocks while they run, prove each node sees it, and put it back.

A node is started with an LD_PRELOAD library in its environment (``ClockControl.skew_env``)
that adds an offset to the wall clock and reads that offset from the node's own control file,
so the fault moves a running process's clock without a restart. Monotonic clocks stay true, as
on a machine whose NTP is wrong. The library is chosen per binary (``method_for``):

- ``libfaketime`` (Debian's ``faketime``): follows the file within about a second.
- ``shim``: our ``clockshim.c``, compiled with gcc into the cache on first use; it follows the
  file within 100 ms and never allocates, so it also works under jemalloc.

Measured on Debian 12 (libfaketime 0.9.10, OpenJDK 17, Go 1.2x; ``tests/faults/test_clock.py``):

| binary                                      | libfaketime              | shim |
|---------------------------------------------|--------------------------|------|
| glibc C programs (date, dash)               | works                    | works |
| defines its own getenv (bash)               | silently fakes nothing   | works |
| imports clock_nanosleep (Python >= 3.11)    | sleeps fail, EINVAL      | works |
| jemalloc (Debian's redis-server)            | hangs at start-up        | works |
| JVM (OpenJDK 17 ``java``)                   | works, nanoTime intact   | works |
| Go (static or cgo) / other static binaries  | not intercepted          | not intercepted |
| any, started as another user (setpriv)      | exits at start-up        | works |

PostgreSQL 15 (started as its user, outside the harness) follows libfaketime within ~1.5 s.
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import FaultNotEffective, FaultUnavailable
from .preload import binary_traits, find_libfaketime, libfaketime_library, shim_library

Probe = Callable[[], float]
"""Returns the node's wall clock in seconds since the epoch (e.g. from redis ``TIME``)."""

METHODS = ("libfaketime", "shim")  # in order of preference

# A trait of a binary that rules a method out, and what happens if it is used anyway.
BREAKS: dict[tuple[str, str], str] = {
    ("jemalloc", "libfaketime"): "libfaketime hangs it at start-up (libfaketime's dlsym calls "
    "malloc, and jemalloc reads the clock while it initialises: endless recursion)",
    ("clock_nanosleep", "libfaketime"): "under libfaketime 0.9.10 with a true monotonic clock, "
    "its absolute CLOCK_MONOTONIC sleeps fail with EINVAL (wolfcw/libfaketime#426; Python >= "
    "3.11 time.sleep raises); without FAKETIME_DONT_FAKE_MONOTONIC its monotonic clock jumps",
    ("getenv", "libfaketime"): "it defines its own getenv (bash does), through which "
    "libfaketime finds none of its settings: it silently fakes nothing",
    ("other-user", "libfaketime"): "started through setpriv as another user, it inherits the "
    "semaphore libfaketime created in the wrapper (owner-only) and exits: sem_open failed",
}
UNREACHABLE = {
    "go": "a Go binary reads the clock through the vDSO itself, never through libc, so no "
    "LD_PRELOAD library sees it (static and cgo builds alike)",
    "static": "a statically linked binary does not load LD_PRELOAD libraries",
}


def method_for(binary: str | Path, prefer: str | None = None, user: str | None = None) -> str:
    """The method that skews ``binary`` (``prefer`` if it works); FaultUnavailable if none.

    ``user``: the NodeSpec's user, when the node is started as another user than ours.
    """
    if prefer is not None and prefer not in METHODS:
        raise ValueError(f"unknown clock skew method {prefer!r}; known: {', '.join(METHODS)}")
    traits = binary_traits(binary)
    if user is not None and user != pwd.getpwuid(os.geteuid()).pw_name:
        traits.add("other-user")
    for trait, why in UNREACHABLE.items():
        if trait in traits:
            raise FaultUnavailable(f"clock skew of {binary}: {why}")
    reasons = []
    for method in [prefer] if prefer else METHODS:
        broken = [BREAKS[(t, method)] for t in sorted(traits) if (t, method) in BREAKS]
        if not broken:
            return method
        reasons.append(f"{method}: {'; '.join(broken)}")
    raise FaultUnavailable(f"clock skew of {binary}: {' / '.join(reasons)}")


def faketime_offset(ms: int) -> str:
    """libfaketime's relative offset in seconds; whole seconds avoid its locale-dependent decimal
    separator, and milliseconds use '.', right in the C locale servers run in."""
    sign = "-" if ms < 0 else "+"
    seconds, millis = divmod(abs(ms), 1000)
    return f"{sign}{seconds}.{millis:03d}" if millis else f"{sign}{seconds}"


class ClockControl:
    """The per-node control files in ``folder``, and the environment that points a node at its own.

    The folder and files are world-readable, for a node that runs as another user
    (PostgreSQL); the folders above it must let that user through too.
    """

    def __init__(self, folder: Path | str):
        # Absolute: a node starts in its own data folder, where a relative path (a run folder
        # given as reports/...) would name nothing, and the skew would never take effect.
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)
        self.methods: dict[str, str] = {}
        self.offsets: dict[str, int] = {}

    def skew_env(self, node: str, method: str) -> dict[str, str]:
        """The environment a backend puts in the node's NodeSpec.env to make it skewable."""
        if method == "libfaketime":
            if "FAKETIME" in os.environ:  # it would win over the control file
                raise FaultUnavailable("FAKETIME is set in the harness's environment")
            env = {
                "LD_PRELOAD": str(libfaketime_library()),
                "FAKETIME_TIMESTAMP_FILE": str(self.control_file(node, method)),
                # Re-read every second (the minimum): without a cache every clock read opens
                # the file, about 13 us instead of 0.2 us.
                "FAKETIME_CACHE_DURATION": "1",
                # Otherwise libfaketime serves the offset wall clock as CLOCK_MONOTONIC too, and
                # a runtime change makes the monotonic clock jump (backwards, for a negative one).
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            }
        elif method == "shim":
            env = {
                "LD_PRELOAD": str(self._readable_copy(shim_library())),
                "SDCONFORM_CLOCK_FILE": str(self.control_file(node, method)),
            }
        else:
            raise ValueError(f"unknown clock skew method {method!r}; known: {', '.join(METHODS)}")
        self.methods[node] = method
        if not self.control_file(node, method).exists():  # a restarted node keeps its skew
            self.set_offset(node, 0)
        return env

    def control_file(self, node: str, method: str) -> Path:
        return self.folder / f"{node}.{'faketime' if method == 'libfaketime' else 'offset-ms'}"

    def set_offset(self, node: str, ms: int) -> None:
        """Write the node's offset; its process picks it up within 0.1 s (shim) or ~1 s."""
        method = self.methods.get(node)
        if method is None:
            raise FaultUnavailable(f"node {node} was not started with a clock skew environment")
        target = self.control_file(node, method)
        text = faketime_offset(ms) if method == "libfaketime" else str(int(ms))
        partial = target.with_name(f".{target.name}.tmp")
        partial.write_text(text + "\n")
        partial.chmod(0o644)
        partial.replace(target)  # atomic: a reader never sees a half-written file
        self.offsets[node] = int(ms)

    def _readable_copy(self, library: Path) -> Path:
        # The cache may sit in root's 0700 home; a node running as another user could not load
        # the library from there, and the loader would skip it with only a warning.
        copy = self.folder / library.name
        if not copy.exists():
            copy.write_bytes(library.read_bytes())
            copy.chmod(0o755)
        return copy


def observe(probe: Probe) -> tuple[float, float]:
    """The interval (seconds) that holds the node's clock minus ours: the probe's answer was
    read somewhere between our two readings."""
    before = time.time()
    theirs = probe()
    after = time.time()
    return theirs - after, theirs - before


class ClockSkew:
    """The clock-skew fault: offsets (ms) for some nodes, proven by probes, healed to 0."""

    name = "clock-skew"

    def __init__(
        self,
        control: ClockControl,
        offsets: int | Mapping[str, int],
        probes: Mapping[str, Probe] | None = None,
        nodes: Sequence[str] | None = None,
        tolerance: float = 0.25,
        timeout: float = 5.0,
    ):
        """``offsets``: one offset for ``nodes`` (default: every skewable node), or one per node.
        ``probes``: per node, how to read its clock; a node without one cannot be proven.
        A probe proves the offset to within ``tolerance`` seconds plus half its round trip, so
        offsets smaller than that are written but cannot be told apart from no skew."""
        self.control = control
        self.offsets = self._per_node(offsets, nodes)
        self.probes = dict(probes or {})
        self.tolerance = tolerance
        # libfaketime follows the file within its 1 s cache; a JVM answers slowly at first.
        self.timeout = timeout
        self.touched: set[str] = set()

    def _per_node(
        self, offsets: int | Mapping[str, int], nodes: Sequence[str] | None
    ) -> dict[str, int]:
        if isinstance(offsets, Mapping):
            return {n: int(ms) for n, ms in offsets.items()}
        return {n: int(offsets) for n in (nodes if nodes is not None else self.control.methods)}

    def start(self, offsets: int | Mapping[str, int] | None = None) -> dict[str, Any]:
        """Set the offsets and prove each node with a probe shows its own; the value says which
        nodes could not be proven (no probe) and what each proven node showed."""
        wanted = self.offsets if offsets is None else self._per_node(offsets, list(self.offsets))
        if not wanted:
            raise FaultUnavailable("clock skew: no node to skew (none was started skewable)")
        for node, ms in wanted.items():
            self.touched.add(node)
            self.control.set_offset(node, ms)
        try:
            observed, unproven = self._prove(wanted)
        except FaultNotEffective:
            self.stop()
            raise
        return {
            "offsets_ms": wanted,
            "methods": {n: self.control.methods[n] for n in wanted},
            "observed_ms": observed,
            "unproven": unproven,
        }

    def stop(self) -> dict[str, Any]:
        """Put every clock this fault moved back to true (idempotent) and prove it where it can.

        A node whose probe fails (it may be down, killed by another fault) is reported
        unproven: its control file says 0, so it comes back with a true clock.
        """
        wanted = dict.fromkeys(sorted(self.touched), 0)
        for node in wanted:
            self.control.set_offset(node, 0)
        observed, unproven = self._prove(wanted, down_is_unproven=True)
        self.touched.clear()
        return {"offsets_ms": wanted, "observed_ms": observed, "unproven": unproven}

    def _prove(
        self, wanted: Mapping[str, int], down_is_unproven: bool = False
    ) -> tuple[dict[str, int], dict[str, str]]:
        observed: dict[str, int] = {}
        unproven = {
            n: "no probe: the offset was written but the node's clock was not read"
            for n in wanted
            if n not in self.probes
        }
        pending = {n: ms / 1000 for n, ms in wanted.items() if n in self.probes}
        last: dict[str, str] = {}
        deadline = time.monotonic() + self.timeout
        while pending:
            for node, expected in list(pending.items()):
                try:
                    low, high = observe(self.probes[node])
                except Exception as e:  # a probe is the caller's code: any failure is "not yet"
                    last[node] = f"probe failed: {e!r}"
                    continue
                last[node] = f"node clock offset {low:+.3f}..{high:+.3f} s"
                if low - self.tolerance <= expected <= high + self.tolerance:
                    observed[node] = round((low + high) / 2 * 1000)
                    del pending[node]
            if pending and time.monotonic() > deadline:
                if down_is_unproven and all(last[n].startswith("probe failed") for n in pending):
                    unproven.update({n: last[n] for n in pending})
                    break
                detail = "; ".join(f"{n}: want {pending[n]:+.3f} s, {last[n]}" for n in pending)
                raise FaultNotEffective(f"clock skew did not take effect: {detail}")
            if pending:
                time.sleep(0.1)
        return observed, unproven


__all__ = [
    "BREAKS",
    "METHODS",
    "UNREACHABLE",
    "ClockControl",
    "ClockSkew",
    "Probe",
    "binary_traits",
    "faketime_offset",
    "find_libfaketime",
    "method_for",
    "observe",
]
