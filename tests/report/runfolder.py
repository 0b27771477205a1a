"""A small run folder as the plugin writes it: three cases (upheld, refuted with anomalies,
inconclusive), each with a history that has fault windows, and node logs."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

MS = 1_000_000
S = 1_000_000_000
EVIL = "<script>alert(1)</script>"


class HistoryWriter:
    """Client operations of sequential processes plus nemesis events, written in time order.

    ``mark`` names an event so a test can learn the history index it ends up with.
    """

    def __init__(self) -> None:
        self.events: list[tuple[int, int, dict[str, Any], str | None]] = []

    def add(self, time: int, op: dict[str, Any], mark: str | None = None) -> None:
        self.events.append((time, len(self.events), {"time": time, **op}, mark))

    def operation(
        self,
        process: int | str,
        f: str,
        start: int,
        latency: int | None,
        outcome: str = "ok",
        key: Any = "k1",
        value: Any = None,
        result: Any = None,
        mark: str | None = None,
    ) -> None:
        self.add(
            start,
            {"process": process, "type": "invoke", "f": f, "key": key, "value": value},
            mark and mark + ":invoke",
        )
        if latency is not None:
            done = {
                "process": process,
                "type": outcome,
                "f": f,
                "key": key,
                "value": result if f == "read" else value,
                "node": "n1",
            }
            self.add(start + latency, done, mark and mark + ":complete")

    def fault(self, name: str, start: int, stop: int | None, value: Any = None) -> None:
        self.add(
            start, {"process": "nemesis", "type": "info", "f": f"{name}-start", "value": value}
        )
        if stop is not None:
            self.add(stop, {"process": "nemesis", "type": "info", "f": f"{name}-stop"})

    def write(self, path: Path) -> dict[str, int]:
        """Write the JSON Lines file; return the index of every marked event."""
        path.parent.mkdir(parents=True, exist_ok=True)
        marks: dict[str, int] = {}
        with path.open("w", encoding="utf-8") as out:
            for index, (_, _, op, mark) in enumerate(sorted(self.events, key=lambda e: e[:2])):
                out.write(json.dumps({"index": index, **op}) + "\n")
                if mark:
                    marks[mark] = index
        return marks


def busy_clients(
    w: HistoryWriter,
    rng: random.Random,
    processes: int,
    until: int,
    fail_window: tuple[int, int] | None = None,
) -> None:
    """Each process reads and writes k1..k3 back to back until ``until`` ns."""
    for p in range(processes):
        t, n = rng.randrange(0, 20 * MS), 0
        while t < until:
            latency = rng.randrange(1 * MS, 40 * MS)
            outcome = (
                "fail"
                if fail_window and fail_window[0] <= t < fail_window[1] and rng.random() < 0.5
                else "ok"
            )
            f = "write" if n % 2 == 0 else "read"
            value = p * 1000 + n
            w.operation(
                p,
                f,
                t,
                latency,
                outcome,
                key=f"k{n % 3 + 1}",
                value=value if f == "write" else None,
                result=value - 1 if f == "read" else None,
            )
            t += latency + rng.randrange(0, 5 * MS)
            n += 1


def case(number: int, **fields: Any) -> dict[str, Any]:
    base = {
        "case": f"case-{number:03d}",
        "runtime": "local",
        "backend": "redis",
        "workload": "register",
        "seed": 42,
        "history": f"case-{number:03d}/history.jsonl",
        "anomalies": [],
        "metrics": {},
    }
    return base | fields


def build_run(folder: Path) -> dict[str, Any]:
    """Write the run folder; return what the tests check for (ids, the anomaly's indices...)."""
    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)

    upheld = HistoryWriter()
    upheld.fault("partition", 1 * S, 2 * S, {"groups": [["n1"], ["n2", "n3"]]})
    busy_clients(upheld, rng, 4, 3 * S)

    refuted = HistoryWriter()
    refuted.fault("kill", int(1.2 * S), int(1.8 * S), {"nodes": ["n1"]})
    busy_clients(refuted, rng, 3, int(2.5 * S), fail_window=(int(1.2 * S), int(1.8 * S)))
    refuted.operation(7, "write", int(1.0 * S), 3 * MS, key="evil", value=EVIL, mark="lost")
    refuted.operation(8, "read", int(2.6 * S), 2 * MS, key="evil", result=None, mark="final")
    refuted.operation(9, "write", int(1.5 * S), None, key="evil", value="maybe", mark="open")

    inconclusive = HistoryWriter()
    inconclusive.fault("pause", int(0.5 * S), None, {"nodes": ["n2"]})
    busy_clients(inconclusive, rng, 2, int(0.5 * S))
    inconclusive.operation(5, "write", int(0.6 * S), 900 * MS, "info", key="k1", value=1)

    marks = refuted.write(folder / "case-002" / "history.jsonl")
    upheld.write(folder / "case-001" / "history.jsonl")
    inconclusive.write(folder / "case-003" / "history.jsonl")
    for n in ("n1", "n2"):
        log = folder / "case-001" / "nodes" / n / "node.log"
        log.parent.mkdir(parents=True)
        log.write_text(f"{n} ready\n")

    lost = [marks["lost:invoke"], marks["lost:complete"], marks["final:complete"]]
    cases = [
        case(
            1,
            test="suites/redis/test_sessions.py::test_sticky_primary_ryw",
            title="read-your-writes on the primary",
            claim="redis-sticky-primary-ryw",
            config={"read_from": "primary"},
            faults=["partition-halves"],
            outcome="upheld",
            expected="upheld",
            passed=True,
            reason="",
            checkers={"read-your-writes": "valid"},
            ops={"ok": 300, "fail": 0, "info": 0},
            ok_during_faults=100,
            duration_s=3.1,
            metrics={"availability": 0.99},
        ),
        case(
            2,
            test="suites/redis/test_durability.py::test_no_loss_on_kill",
            title="acknowledged writes survive a kill",
            claim="redis-persistence-no-loss",
            config={"appendfsync": "everysec", "note": EVIL},
            configuration="rdb-defaults",
            expected_why="snapshots only: a crash loses what came after the last one",
            faults=[{"name": "kill", "start_s": 1.0, "stop_s": 2.5, "proven": True},
                    {"name": "kill", "start_s": 4.0, "stop_s": None, "proven": False}],
            exercised=True,
            exercised_why="120 acknowledged adds before the 2 faults, final read ok",
            outcome="refuted",
            expected="refuted",
            passed=True,
            reason="1 acknowledged write lost after kill -9 with appendfsync everysec",
            checkers={"lost-writes": "invalid"},
            ops={"ok": 200, "fail": 20, "info": 1},
            ok_during_faults=40,
            duration_s=2.7,
            metrics={"rpo_s": 0.8},
            anomalies=[
                {
                    "kind": "lost-write",
                    "key": "evil",
                    "ops": lost,
                    "explanation": f"write of {EVIL} was acknowledged; the final read saw none",
                    "relative_to_faults": "during",
                }
            ],
        ),
        case(
            3,
            test="suites/redis/test_failover.py::test_replica_failover",
            title="a replica takes over",
            claim="redis-ha-replica-failover",
            config={"replicas": 2},
            faults=["pause-primary"],
            outcome="inconclusive",
            expected="upheld",
            passed=False,
            reason="too few operations succeeded during faults (0 < 10)",
            checkers={"availability": "unknown"},
            ops={"ok": 20, "fail": 0, "info": 1},
            ok_during_faults=0,
            duration_s=1.5,
        ),
    ]
    (folder / "verdicts.json").write_text(json.dumps(cases, indent=1))
    run = {
        "run_id": "20250101-120000-ab12",
        "started": "2025-01-01T12:00:00Z",
        "seed": 42,
        "runtime": "local",
        "duration_s": 7.3,
        "systems": ["redis"],
    }
    (folder / "run.json").write_text(json.dumps(run))
    return {"cases": cases, "lost": lost, "open": marks["open:invoke"]}
