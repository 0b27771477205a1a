"""A single-copy register with node labels, for the property tests of the per-node checkers.

Threads invoke reads and writes of unique values; each operation takes effect at one moment
between its invocation and completion (an ``info`` write may take effect later, or never), so
every history is linearizable, whatever node label an answer carries.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st

from pytest_sdconform.history import History, Operation

NODES = ("n1", "n2", "n3")


class NodeRegister:
    def __init__(self, keys: list[str], threads: int):
        self.keys = keys
        self.procs = list(range(threads))
        self.fresh = itertools.count(threads)
        self.values = itertools.count(1)
        self.store: dict[str, Any] = dict.fromkeys(keys)
        self.pending: dict[int, dict[str, Any]] = {}
        self.limbo: list[dict[str, Any]] = []
        self.ops: list[Operation] = []

    def add(self, p: Any, typ: str, f: str, k: str, v: Any, node: str | None = None) -> None:
        n = len(self.ops)
        self.ops.append(Operation(n, n, p, typ, f, k, v, node))

    def moves(self) -> list[tuple[str, int]]:
        out = [("invoke", t) for t in range(len(self.procs)) if t not in self.pending]
        out += [("apply", t) for t, op in self.pending.items() if not op["applied"]]
        out += [("complete", t) for t in self.pending]
        return out + [("limbo", i) for i in range(len(self.limbo))]

    def invoke(self, t: int, f: str, k: str, node: str) -> None:
        v = next(self.values) if f == "write" else None
        self.add(self.procs[t], "invoke", f, k, v, node)
        self.pending[t] = {"f": f, "key": k, "value": v, "applied": False, "node": node}

    def apply(self, op: dict[str, Any]) -> None:
        if op["f"] == "write":
            self.store[op["key"]] = op["value"]
        else:
            op["value"] = self.store[op["key"]]
        op["applied"] = True

    def complete(self, t: int, outcome: str) -> None:
        op = self.pending.pop(t)
        value = op["value"] if outcome == "ok" or op["f"] == "write" else None
        self.add(self.procs[t], outcome, op["f"], op["key"], value, op["node"])
        if outcome == "info":
            self.procs[t] = next(self.fresh)
            if op["f"] == "write" and not op["applied"]:
                self.limbo.append(op)

    def finish(self) -> None:
        for t in list(self.pending):
            self.complete(t, "ok" if self.pending[t]["applied"] else "fail")

    def read(self, k: str, value: Any, node: str) -> list[int]:
        """Append a read by a fresh process that returned ``value``; its indices."""
        p = next(self.fresh)
        self.add(p, "invoke", "read", k, None, node)
        self.add(p, "ok", "read", k, value, node)
        return [len(self.ops) - 2, len(self.ops) - 1]

    def write(self, k: str, node: str) -> tuple[int, int]:
        """Append an ok write by a fresh process; (value, completion index)."""
        p, v = next(self.fresh), next(self.values)
        self.add(p, "invoke", "write", k, v, node)
        self.add(p, "ok", "write", k, v, node)
        self.store[k] = v
        return v, len(self.ops) - 1

    def history(self) -> History:
        return History(self.ops)


@st.composite
def node_register_runs(draw: st.DrawFn) -> NodeRegister:
    keys = ["x", "y"][: draw(st.integers(1, 2))]
    reg = NodeRegister(keys, draw(st.integers(1, 4)))
    for _ in range(draw(st.integers(0, 60))):
        move, t = draw(st.sampled_from(reg.moves()))
        if move == "invoke":
            reg.invoke(t, draw(st.sampled_from(["read", "write"])), draw(st.sampled_from(keys)),
                       draw(st.sampled_from(NODES)))
        elif move == "apply":
            reg.apply(reg.pending[t])
        elif move == "limbo":
            reg.apply(reg.limbo.pop(t))
        else:
            done = reg.pending[t]["applied"]
            reg.complete(t, draw(st.sampled_from(["ok", "ok", "info"] if done else
                                                 ["fail", "info"])))
    reg.finish()
    return reg
