"""``AppliedOnce``: requests retried with an idempotency key take effect exactly once.

The history: ``pay`` operations (key: the logical request's id, the idempotency key; a request
is sent again, same key, after its caller gave up on an attempt), and a final ``read`` of key
``payments`` returning ``[[request, effects stored], ...]`` (what the table holds at the end).
An ``ok`` answer may say ``"already-applied"`` when the server found the key done before.

Refuted: a request stored more than once (applied twice), an acknowledged request stored
not at all (lost), or an effect stored for a request nobody sent (phantom). Exercised: a
request whose attempt, in flight during a fault, ended unknown (``info``: it may have been
applied) was sent again after its caller gave up, and the final read succeeded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..history import NEMESIS, Completed, History
from .judge import INCONCLUSIVE, REFUTED, UPHELD, Exercise, Ruling, Verdicts
from .verdict import Anomaly

ALREADY = "already-applied"


@dataclass
class AppliedOnce:
    f: str = "pay"
    stored: str = "payments"  # the final read's key
    name: str = "applied-once"
    exercises: str = ("requests retried with their key after an attempt during a fault ended "
                      "unknown (it may have been applied), and a final read of the effects")

    def _attempts(self, history: History) -> dict[str, list[Completed]]:
        by_key: dict[str, list[Completed]] = defaultdict(list)
        for c in history.complete():
            if c.process != NEMESIS and c.f == self.f:
                by_key[str(c.key)].append(c)
        return by_key

    def _final(self, history: History) -> Completed | None:
        reads = [c for c in history.complete() if c.is_final and c.f == "read"
                 and c.key == self.stored and c.type == "ok"]
        return reads[-1] if reads else None

    def _counts(self, final: Completed) -> dict[str, int]:
        value = final.value
        if not isinstance(value, list) or not all(
                isinstance(row, list) and len(row) == 2 and isinstance(row[1], int)
                for row in value):
            raise ValueError(f"final read at index {final.invoke.index} returned {value!r}, "
                             "not [[request, effects], ...]")
        return {str(k): n for k, n in value}

    def retried_after_unknown(self, history: History) -> list[str]:
        """Requests with an attempt that ended ``info`` while in flight during a fault (from
        its invocation to its caller giving up, it overlapped the fault's span from its
        onset) and another attempt invoked after that one gave up."""
        windows = history.fault_windows()
        found = []
        for key, cs in self._attempts(history).items():
            for c in cs:
                if c.type != "info" or c.completion is None:
                    continue
                gave_up = c.completion.time
                during = any(c.invoke.time < (w.end if w.end is not None else gave_up + 1)
                             and gave_up > w.onset for w in windows)
                if during and any(o.invoke.time > gave_up for o in cs):
                    found.append(key)
                    break
        return found

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        retried = self.retried_after_unknown(history)
        if not retried:
            return Exercise(False, "no request was sent again after an attempt during a fault "
                                   "ended unknown")
        if self._final(history) is None:
            return Exercise(False, f"{len(retried)} requests retried after an unknown outcome, "
                                   "but no final read of the stored effects succeeded")
        return Exercise(True, f"{len(retried)} requests retried after an attempt during a "
                              "fault ended unknown; final read ok")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        attempts = self._attempts(history)
        final = self._final(history)
        if final is None:
            return Ruling(INCONCLUSIVE, "no final read: what the table holds is unknown")
        counts = self._counts(final)
        anomalies: list[Anomaly] = []

        def evidence(key: str) -> list[int]:
            return [i for c in attempts.get(key, []) for i in c.indices] + final.indices

        for key in sorted(set(attempts) | set(counts), key=lambda k: (len(k), k)):
            n, cs = counts.get(key, 0), attempts.get(key, [])
            acked = sum(1 for c in cs if c.type == "ok")
            if not cs and n:
                anomalies.append(Anomaly("phantom-effect", final.indices,
                                         f"{key}: {n} effects stored, never requested"))
            elif n > 1:
                anomalies.append(Anomaly("applied-twice", evidence(key),
                                         f"{key}: {n} effects stored for {len(cs)} attempts "
                                         f"({acked} acknowledged)"))
            elif acked and n == 0:
                anomalies.append(Anomaly("lost-effect", evidence(key),
                                         f"{key}: acknowledged {acked} times, not stored"))
        retried = self.retried_after_unknown(history)
        already = sum(1 for cs in attempts.values() for c in cs
                      if c.type == "ok" and c.value == ALREADY)
        if anomalies:
            kinds: dict[str, int] = defaultdict(int)
            for a in anomalies:
                kinds[a.kind] += 1
            said = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            return Ruling(REFUTED, f"{said} among {len(attempts)} requests "
                                   f"({len(retried)} retried after an unknown outcome)",
                          anomalies[:20])
        acked = sum(1 for cs in attempts.values() if any(c.type == "ok" for c in cs))
        return Ruling(UPHELD, f"{len(attempts)} requests ({acked} acknowledged, "
                              f"{len(retried)} retried after an unknown outcome, {already} "
                              "retries answered already-applied): each stored at most once, "
                              "every acknowledged one exactly once")
