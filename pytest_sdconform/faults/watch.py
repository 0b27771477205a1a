"""A fault that also watches for what the system does about it.

``Watch`` wraps any fault. Once the wrapped fault's start has proven itself, a thread asks
``check`` every ``every_s`` until it answers true (the event happened: a replica promoted, a
new leader named) or the heal begins. The heal's record (``<fault>-healed``) then carries,
under ``observed[event]``, in seconds from the moment the fault was proven (the window's start,
give or take the recorder's stamp):

- ``after_s``: when the first check that answered true ended (the event came before it);
- ``not_before_s``: when the last check that answered false began (the event came after it);
- ``polls``: how many checks were made.

``after_s`` stays ``None`` when the event was not seen before the heal. A check that raises
counts as false (a server that does not answer has not promoted itself yet). The judges read
it with ``observed_after``: a bound can then start at what the system did, not at a guess of
how long it takes on a busy machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..history import NEMESIS, History
from . import Fault


class Watch:
    def __init__(self, fault: Fault, event: str, check: Callable[[], bool],
                 every_s: float = 0.1) -> None:
        if every_s <= 0:
            raise ValueError(f"watch {event}: every_s must be positive, not {every_s}")
        self.fault = fault
        self.name = fault.name
        self.event = event
        self.check = check
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, Any] = {}

    def _holds(self) -> bool:
        try:
            return bool(self.check())
        except Exception:
            return False

    def _watch(self, t0: float) -> None:
        seen: dict[str, Any] = {"after_s": None, "not_before_s": None, "polls": 0}
        self._seen = seen
        while not self._stop.is_set():
            began = time.monotonic() - t0
            held = self._holds()
            ended = time.monotonic() - t0
            seen["polls"] += 1
            if held:
                seen["after_s"] = round(ended, 4)
                return
            seen["not_before_s"] = round(began, 4)
            self._stop.wait(self.every_s)

    def start(self) -> Any:
        value = self.fault.start()
        t0 = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, args=(t0,), daemon=True,
                                        name=f"watch-{self.event}")
        self._thread.start()
        return value

    def stop(self) -> Any:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        proof = self.fault.stop()
        seen, self._seen = self._seen, {}
        out = dict(proof) if isinstance(proof, dict) else {"proof": proof}
        if seen:
            out["observed"] = {**(out.get("observed") or {}), self.event: seen}
        return out


def observed(history: History, fault: str, event: str) -> list[dict[str, Any] | None]:
    """What a ``Watch`` saw of ``event`` in each window of ``fault``, in order (None: nothing
    recorded at that window's heal)."""
    out: list[dict[str, Any] | None] = []
    for w in history.fault_windows():
        if w.fault != fault:
            continue
        heal = None
        if w.end_index is not None:
            heal = next((op for op in history.ops if op.index > w.end_index
                         and op.process == NEMESIS and op.f == f"{fault}-healed"), None)
        value = heal.value if heal is not None and isinstance(heal.value, dict) else {}
        seen = (value.get("observed") or {}).get(event)
        out.append(seen if isinstance(seen, dict) and seen.get("polls") else None)
    return out
