"""Consistent hashing's promise: when a node leaves, only a fraction of the keys move.

Karger et al. ("Consistent hashing and random trees", STOC 1997): removing one of N nodes
remaps only the keys that node held (about 1/N), where ``hash mod N`` remaps almost all of them
((N-1)/N from 3 to 2 nodes would be 2/3; in fact a key keeps its node only if its hash agrees
mod both counts). Measured from the history of a store whose completions name the node that
served them (``node``): a key's *home* is the node that last served it successfully (a write
or a read) before the node left (a kill window), so a key that an earlier window moved is homed
on its new owner; the key *moved* when a read of it that succeeded while the node was gone
was served by another node.

``KeysStay`` judges it: refuted when a key whose home survived moved (the ring reshuffled keys
it had no reason to move), with those reads as evidence; upheld when none did, with the
fraction remapped (the lost node's keys that moved, of all keys read while it was gone).
Exercised: in every window, at least ``min_keys`` keys of surviving homes and ``min_keys`` keys
of the lost node were read successfully while it was gone (a ring that never dropped the node
moved nothing, and proves nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..history import Completed, FaultWindow, History
from .judge import (
    INCONCLUSIVE,
    REFUTED,
    UPHELD,
    Exercise,
    Ruling,
    Verdicts,
    client_ops,
    evidence,
    in_window,
    windows_of,
)


@dataclass
class Moves:
    """Keys read while a node was gone, by whether their home survived and whether they moved."""

    lost: set[str]  # the nodes gone in the window
    kept_alive: set[str]  # keys of surviving homes served by their home
    moved_alive: dict[str, list[Completed]]  # keys of surviving homes served elsewhere
    kept_lost: set[str]  # keys of a lost node still served by it (it never left the ring)
    moved_lost: set[str]

    @property
    def keys(self) -> int:
        return (len(self.kept_alive) + len(self.moved_alive) + len(self.kept_lost)
                + len(self.moved_lost))

    def describe(self) -> str:
        alive = len(self.kept_alive) + len(self.moved_alive)
        lost = len(self.kept_lost) + len(self.moved_lost)
        moved = len(self.moved_alive) + len(self.moved_lost)
        share = f"{moved / self.keys:.0%}" if self.keys else "n/a"
        return (f"{moved} of {self.keys} keys read while {', '.join(sorted(self.lost))} was gone "
                f"moved ({share}): {len(self.moved_alive)} of {alive} keys of surviving nodes, "
                f"{len(self.moved_lost)} of {lost} keys of the lost node")


def homes(history: History, before: int) -> dict[str, str]:
    """Each key written (acknowledged) before ``before``: the node that last served it then.

    The last successful operation of the key (write or read) before ``before``, not its write:
    after an earlier window the clients keep the dropped node out of the ring, and the key is
    correctly served by its new owner, which is its home when a second window begins.
    """
    written: set[str] = set()
    served: dict[str, tuple[int, str]] = {}
    for c in client_ops(history):
        done = c.completion
        if (c.f not in ("write", "read") or c.type != "ok" or done is None or not done.node
                or done.time >= before):
            continue
        key = str(c.key)
        if c.f == "write":
            written.add(key)
        if key not in served or done.time >= served[key][0]:
            served[key] = (done.time, done.node)
    return {key: served[key][1] for key in written}


def moves(history: History, w: FaultWindow) -> Moves:
    value = w.value if isinstance(w.value, dict) else {}
    lost = {str(n) for n in value.get("nodes") or []}
    home = homes(history, w.start)
    m = Moves(lost, set(), {}, set(), set())
    for c in client_ops(history):
        done = c.completion
        key = str(c.key)
        if (c.f != "read" or c.type != "ok" or done is None or not done.node
                or key not in home or not in_window(c, w)):
            continue
        if home[key] in lost:
            (m.kept_lost if done.node == home[key] else m.moved_lost).add(key)
        elif done.node == home[key]:
            m.kept_alive.add(key)
        else:
            m.moved_alive.setdefault(key, []).append(c)
    m.kept_alive -= set(m.moved_alive)
    m.kept_lost -= m.moved_lost
    return m


@dataclass
class KeysStay:
    """Judge: a node's departure moves only its own keys."""

    fault: str = "kill"
    min_keys: int = 5
    name: str = "keys-stay"
    exercises: str = ("keys of the surviving nodes and of the lost node, written before it "
                      "left, read successfully while it was gone")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        found = [moves(history, w) for w in windows]
        for m in found:
            if not m.lost:
                return Exercise(False, f"a {self.fault} window names no node that left")
            alive = len(m.kept_alive) + len(m.moved_alive)
            lost = len(m.kept_lost) + len(m.moved_lost)
            if min(alive, len(m.moved_lost)) < self.min_keys:
                return Exercise(False, f"{m.describe()}: fewer than {self.min_keys} keys of "
                                       f"surviving nodes ({alive}) or of the lost node served "
                                       f"elsewhere ({len(m.moved_lost)} of {lost})")
        return Exercise(True, "; ".join(m.describe() for m in found))

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        windows = windows_of(history, self.fault)
        if not windows:
            return Ruling(INCONCLUSIVE, f"no {self.fault} window in the history")
        found = [moves(history, w) for w in windows]
        text = "; ".join(m.describe() for m in found)
        moved = [c for m in found for reads in m.moved_alive.values() for c in reads[:1]]
        if moved:
            return Ruling(REFUTED, f"keys whose node survived moved: {text}",
                          evidence("key-moved-off-a-surviving-node", moved,
                                   "read from another node than its surviving home"))
        return Ruling(UPHELD, f"only the lost node's keys moved: {text}")
