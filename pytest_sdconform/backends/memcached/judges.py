"""Judges of what a memcached cluster is: servers that share nothing, one per key.

Every judge reads the server each operation went to (its completion's ``node``, the one the
client's hash chose), the victims of each fault window (``nodes`` of a kill, ``proxies`` of a
toxiproxy cut, proxies being named after their servers) and, where the client surveyed them,
the ``copies`` a read found on each server asked directly.

- ``NoReplica``: a killed server's keys are gone: reads after the kill miss or fail, and no
  other server holds them (memcached-ha, refuted by any such key).
- ``RestartEmpties``: a restarted server comes back empty, and only it: every write it
  acknowledged before its kill is gone, every write elsewhere (or since) is kept
  (memcached-no-persistence).
- ``ServersDisagree``: clients hashing over different server lists put one key on two
  servers, and the servers keep different values for it (memcached-centralized, refuted:
  nothing coordinates them).
- ``OthersServeWhileCut``: while a client is cut from one server, the keys of the others are
  still served and only the cut server's keys fail (memcached-centralized, refuted: no
  server is central).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...checkers.judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    windows_of,
)
from ...checkers.verdict import Anomaly
from ...history import NEMESIS, Completed, FaultWindow, History, freeze
from .client import UNREACHABLE


def victims(window: FaultWindow) -> set[str]:
    """The servers a fault window struck: a kill's ``nodes``, a toxiproxy cut's ``proxies``."""
    value = window.value if isinstance(window.value, dict) else {}
    return {str(n) for n in value.get("nodes") or value.get("proxies") or []}


def node_of(c: Completed) -> str | None:
    return None if c.completion is None else c.completion.node


def once_written(history: History) -> dict[Any, Completed]:
    """Acknowledged writes of keys written exactly once (a rewritten key says nothing about
    which write a read shows), by key."""
    writes: dict[Any, list[Completed]] = {}
    for c in history.complete():
        if c.process != NEMESIS and c.f == "write":
            writes.setdefault(freeze(c.key), []).append(c)
    return {k: cs[0] for k, cs in writes.items() if len(cs) == 1 and cs[0].type == "ok"}


def copies_of(c: Completed) -> dict[str, Any] | None:
    """What a surveyed read found on each server (None: the read did not survey)."""
    copies = None if c.completion is None else c.completion.get("copies")
    return copies if isinstance(copies, dict) else None


def _indices(ops: Iterable[Completed], limit: int = 6) -> list[int]:
    return [i for c in list(ops)[:limit] for i in c.indices]


@dataclass
class NoReplica:
    """Acknowledged writes a killed server took before its kill, read after the kill began:
    by the ring (a miss, or a failure) and on every server directly (a survey). A key whose
    value no read and no server shows any more is gone with its server; one that is still
    read back, from anywhere, was kept (a replica, or a failover of data)."""

    fault: str = "kill"
    name: str = "no-replica"
    exercises: str = ("acknowledged writes on a server before its kill, read after the kill "
                      "began and surveyed on every other server")

    def _fates(self, history: History) -> dict[str, list[tuple[Completed, list[Completed]]]]:
        fates: dict[str, list[tuple[Completed, list[Completed]]]] = {
            "gone": [], "kept": [], "unread": []}
        reads: dict[Any, list[Completed]] = {}
        for c in history.complete():
            if c.process != NEMESIS and c.f == "read" and c.type in ("ok", "fail"):
                reads.setdefault(freeze(c.key), []).append(c)
        writes = once_written(history)
        since = float("-inf")
        for w in sorted(windows_of(history, self.fault), key=lambda w: w.start):
            down = victims(w)
            for key, c in writes.items():
                acked = c.completion.time  # type: ignore[union-attr]
                if node_of(c) not in down or not since <= acked < w.onset:
                    continue
                after = [r for r in reads.get(key, []) if r.invoke.time >= w.onset]
                fates[self._fate(c.invoke.value, after, down)].append((c, after))
            since = w.end if w.end is not None else float("inf")
        return fates

    @staticmethod
    def _fate(value: Any, after: list[Completed], down: set[str]) -> str:
        surveyed = False
        for r in after:
            copies = copies_of(r) or {}
            if (r.type == "ok" and r.value == value) or value in copies.values():
                return "kept"
            others = [v for n, v in copies.items() if n not in down]
            surveyed |= bool(others) and UNREACHABLE not in others
        return "gone" if surveyed else "unread"

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        if not windows_of(history, self.fault):
            return Exercise(False, f"no server was down ({self.fault})")
        f = self._fates(history)
        checked = len(f["gone"]) + len(f["kept"])
        if not checked:
            return Exercise(False, f"{len(f['unread'])} acknowledged writes on the killed "
                                   "servers, none read and surveyed after the kill")
        return Exercise(True, f"{checked} acknowledged writes on the killed servers read and "
                              "surveyed after the kill")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        if not windows_of(history, self.fault):
            return Ruling(INCONCLUSIVE, f"no server was down ({self.fault})")
        f = self._fates(history)
        gone, kept = f["gone"], f["kept"]
        if not gone and not kept:
            if not f["unread"]:
                return Ruling(INCONCLUSIVE, "no acknowledged write had landed on a server "
                                            "before its kill: the fault did not hit")
            return Ruling(INCONCLUSIVE, f"none of the {len(f['unread'])} writes on the killed "
                                        "servers was read and surveyed after the kill")
        if not gone:
            return Ruling(UPHELD, f"all {len(kept)} acknowledged writes on the killed servers "
                                  "were still read back after the kill")
        reads = [r for _, after in gone for r in after]
        misses = sum(1 for r in reads if r.type == "ok")
        text = (f"{len(gone)} of {len(gone) + len(kept)} acknowledged writes on the killed "
                f"servers were gone after the kill: {misses} reads missed, "
                f"{len(reads) - misses} failed, and no server held a copy (no replica, no "
                "failover of data)")
        anomalies = [Anomaly("lost-with-server", c.indices + _indices(after),
                             f"{c.key} acknowledged by {node_of(c)}: gone after its kill, "
                             f"on no other server", c.key) for c, after in gone[:20]]
        return Ruling(REFUTED, text, anomalies)


@dataclass
class RestartEmpties:
    """A write is wiped when its server was killed (and restarted) after acknowledging it.
    Final reads, from the server the key hashes to, must miss every wiped write (nothing
    persisted) and show every other one (nothing lost beyond the restarted server)."""

    fault: str = "kill"
    name: str = "restart-empties"
    exercises: str = ("acknowledged writes on a server before its kill and restart, and on "
                      "servers not restarted since, each read back by a final read")

    def _fates(self, history: History) -> dict[str, list[tuple[Completed, Completed]]]:
        restarts = [(victims(w), w.end) for w in windows_of(history, self.fault)
                    if w.end is not None]
        finals: dict[Any, Completed] = {}
        for c in history.complete():
            if c.is_final and c.f == "read" and c.type == "ok":
                finals[freeze(c.key)] = c
        fates: dict[str, list[tuple[Completed, Completed]]] = {
            "gone": [], "survived": [], "kept": [], "lost": []}
        for key, c in once_written(history).items():
            final = finals.get(key)
            node = node_of(c)
            if final is None or node_of(final) != node:
                continue  # not read back from the server that took it
            acked = c.completion.time  # type: ignore[union-attr]
            wiped = any(node in down and acked < end for down, end in restarts)
            shown = final.value == c.invoke.value
            fate = ("survived" if shown else "gone") if wiped else ("kept" if shown else "lost")
            fates[fate].append((c, final))
        return fates

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        f = self._fates(history)
        wiped, other = len(f["gone"]) + len(f["survived"]), len(f["kept"]) + len(f["lost"])
        if not wiped:
            return Exercise(False, "no acknowledged write on a restarted server was read back "
                                   "from it after the restart")
        if not other:
            return Exercise(False, "no write on a server not restarted since was read back")
        return Exercise(True, f"{wiped} writes on restarted servers and {other} elsewhere "
                              "read back by final reads")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        if not windows_of(history, self.fault):
            return Ruling(INCONCLUSIVE, f"no server was restarted ({self.fault})")
        f = self._fates(history)
        if not f["gone"] and not f["survived"]:
            return Ruling(INCONCLUSIVE, "no acknowledged write on a restarted server was read "
                                        "back from it: the fault did not hit")
        if f["survived"] or f["lost"]:
            anomalies = [Anomaly("survived-restart", c.indices + r.indices,
                                 f"{c.key} acknowledged by {node_of(c)} before its restart "
                                 "is still there after it", c.key) for c, r in f["survived"][:20]]
            anomalies += [Anomaly("lost-elsewhere", c.indices + r.indices,
                                  f"{c.key} acknowledged by {node_of(c)}, not restarted since, "
                                  "is missing", c.key) for c, r in f["lost"][:20]]
            return Ruling(REFUTED, f"{len(f['survived'])} writes survived their server's "
                                   f"restart (persistence); {len(f['lost'])} writes on servers "
                                   "not restarted were lost", anomalies)
        return Ruling(UPHELD, f"the restarted servers came back empty: all {len(f['gone'])} "
                              "writes they acknowledged before the kill were gone, and all "
                              f"{len(f['kept'])} writes elsewhere or since were kept")


@dataclass
class ServersDisagree:
    """Two groups of clients hash over different server lists and write the same keys. A key
    their hashes place on different servers (``split``) ends, with no coordinator, on both
    servers with different values; the final reads survey every server for every key."""

    name: str = "servers-disagree"
    exercises: str = ("keys that clients with different server lists placed on different "
                      "servers, surveyed on every server after the run")

    def _keys(self, history: History) -> tuple[list[tuple[Any, Completed, dict[str, Any]]],
                                                 int, int]:
        """(split keys with their final survey and holders), surveyed keys, strays."""
        placed: dict[Any, set[str]] = {}
        for c in client_ops(history):
            if c.f == "write" and c.type == "ok" and node_of(c):
                placed.setdefault(freeze(c.key), set()).add(str(node_of(c)))
        surveys: dict[Any, Completed] = {}
        for c in history.complete():
            copies = copies_of(c)
            if c.is_final and c.type == "ok" and copies and UNREACHABLE not in copies.values():
                surveys[freeze(c.key)] = c
        split, strays = [], 0
        for key, survey in surveys.items():
            holders = {n: v for n, v in (copies_of(survey) or {}).items() if v is not None}
            strays += bool(set(holders) - placed.get(key, set()))
            if len(placed.get(key, ())) > 1:
                split.append((key, survey, holders))
        return split, len(surveys), strays

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        split, surveyed, _ = self._keys(history)
        if not split:
            return Exercise(False, f"of {surveyed} surveyed keys, none was placed on two "
                                   "servers by the clients' hashes")
        return Exercise(True, f"{len(split)} keys placed on two servers, surveyed after the run")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        split, surveyed, strays = self._keys(history)
        if not surveyed:
            return Ruling(INCONCLUSIVE, "no final read surveyed every server")
        if not split:
            return Ruling(INCONCLUSIVE, f"the clients' hashes placed each of the {surveyed} "
                                        "keys on the same server")
        diverged = [(k, s, h) for k, s, h in split if len(set(h.values())) > 1]
        where = (f"; {strays} keys held by a server no client's hash chose" if strays else
                 "; every key was held only where a client's hash put it")
        if not diverged:
            return Ruling(UPHELD, f"the servers agree on all {len(split)} keys the clients "
                                  f"placed on different servers{where}")
        writes = {(freeze(c.key), c.invoke.value): c for c in client_ops(history)
                  if c.f == "write" and c.type == "ok"}
        anomalies = []
        for key, survey, holders in diverged[:20]:
            ops = survey.indices + [i for v in holders.values()
                                    if (w := writes.get((key, v))) for i in w.indices]
            anomalies.append(Anomaly("servers-disagree", sorted(ops),
                                     f"{key}: {holders} after the run", survey.key))
        return Ruling(REFUTED, f"{len(diverged)} of {len(split)} keys placed on two servers "
                               "are held there with different values after the run: the "
                               f"servers never reconcile them{where}", anomalies)


@dataclass
class OthersServeWhileCut:
    """Calls made while a client is cut from one server and answered before the heal: those
    of keys on the other servers must still succeed (no server is central), while those of
    the cut server's keys, which no other server holds, fail."""

    fault: str = "client-cut"
    name: str = "others-serve-while-cut"
    exercises: str = ("calls answered during every cut, on the cut server's keys and on the "
                      "other servers' keys")

    def _windows(self, history: History) -> list[tuple[FaultWindow, list[Completed],
                                                        list[Completed]]]:
        """Per window: (window, calls on the cut server's keys, calls on the others')."""
        ops = client_ops(history)
        out = []
        for w in windows_of(history, self.fault):
            cut = victims(w)
            inside = [c for c in ops if c.end is not None and w.start <= c.invoke.time
                      and (w.end is None or c.end < w.end)]
            on_cut = [c for c in inside if node_of(c) in cut]
            others = [c for c in inside if node_of(c) not in cut]
            out.append((w, on_cut, others))
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        per = self._windows(history)
        if not per:
            return Exercise(False, f"no server was cut ({self.fault})")
        missing = sum(1 for _, cut, others in per if not cut or not others)
        if missing:
            return Exercise(False, f"{missing} of {len(per)} cuts had no answered call on the "
                                   "cut server's keys or none on the others'")
        return Exercise(True, f"{sum(len(c) + len(o) for _, c, o in per)} calls answered "
                              f"during {len(per)} cuts")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        per = self._windows(history)
        if not per:
            return Ruling(INCONCLUSIVE, f"no server was cut ({self.fault})")
        stopped = [w for w, _, others in per if others and all(c.type != "ok" for c in others)]
        if stopped:
            hinge = ", ".join(sorted(victims(stopped[0])))
            return Ruling(UPHELD, f"cutting {hinge} stopped every call on the other servers' "
                                  "keys: the cluster hinged on it")
        if any(not others or not cut for _, cut, others in per):
            return Ruling(INCONCLUSIVE, "a cut had no answered call on the cut server's keys "
                                        "or none on the other servers' keys")
        served = sum(1 for _, _, others in per for c in others if c.type == "ok")
        failed = sum(1 for _, cut, _ in per for c in cut if c.type != "ok")
        on_cut = sum(len(cut) for _, cut, _ in per)
        names = ", ".join(sorted(n for w, _, _ in per for n in victims(w)))
        anomalies: list[Anomaly] = []
        for w, cut, others in per:
            ok = [c for c in others if c.type == "ok"]
            anomalies += evidence("served-while-cut", ok[:3],
                                  f"served by {node_of(ok[0])} while {sorted(victims(w))} "
                                  "was cut off")
            anomalies += evidence("only-server-cut", [c for c in cut if c.type != "ok"][:3],
                                  f"the key's only server, {sorted(victims(w))}, was cut off")
        return Ruling(REFUTED, f"servers cut in turn: {names}; {served} calls on the "
                               f"other servers' keys succeeded meanwhile, and {failed} of "
                               f"{on_cut} on the cut server's keys failed (no other server "
                               "holds them, nothing redirects them)", anomalies)
