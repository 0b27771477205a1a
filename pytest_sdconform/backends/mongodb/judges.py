"""The judge of "each document-store node handles reads and writes independently": clients
write straight to every member of a replica set, and each member either takes writes or
refuses them. In a replica set only the primary takes writes (NotWritablePrimary elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...checkers.judge import REFUTED, UPHELD, Exercise, Ruling, Verdicts, client_ops, evidence
from ...history import Completed, History


@dataclass
class EveryNodeTakesWrites:
    """Upheld when every member that was sent writes acknowledged some; refuted by a member
    that refused every write it was sent (a ``fail``: it definitely did not apply them) while
    it answered. Exercised when each of ``nodes`` answered at least one write."""

    nodes: tuple[str, ...]
    f: str = "write"
    name: str = "every-node-writes"
    exercises: str = field(init=False)

    def __post_init__(self) -> None:
        self.exercises = f"a {self.f} answered by each of {', '.join(self.nodes)}"

    def _by_node(self, history: History) -> dict[str, list[Completed]]:
        out: dict[str, list[Completed]] = {n: [] for n in self.nodes}
        for c in client_ops(history):
            node = c.completion.node if c.completion is not None else None
            if c.f == self.f and node in out and not c.is_final:
                out[node].append(c)
        return out

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        by_node = self._by_node(history)
        silent = [n for n, ops in by_node.items() if not ops]
        if silent:
            return Exercise(False, f"no {self.f} was answered by {', '.join(silent)}")
        return Exercise(True, "; ".join(f"{n}: {len(ops)} {self.f}s answered"
                                        for n, ops in by_node.items()))

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        refusing = {n: ops for n, ops in self._by_node(history).items()
                    if ops and not any(c.type == "ok" for c in ops)
                    and any(c.type == "fail" for c in ops)}
        if refusing:
            names = ", ".join(sorted(refusing))
            return Ruling(REFUTED, f"{names} refused every {self.f} sent to it: only the "
                                   "primary takes writes",
                          [a for ops in refusing.values() for a in evidence(
                              "write-refused", [c for c in ops if c.type == "fail"],
                              "a member that is not primary refused the write", limit=5)])
        return Ruling(UPHELD, f"every member acknowledged {self.f}s sent to it")
