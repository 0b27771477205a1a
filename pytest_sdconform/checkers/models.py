"""Sequential specifications (models) for the linearizability checker.

A model turns each completed operation into a compact step input and says how a state
steps. States must be hashable: the search caches (linearized set, state) pairs.

An operation whose outcome is unknown (``info``, or never completed) gets ``UNKNOWN`` as its
output, and its step must then always be legal: it applies if it can and otherwise leaves the
state alone. The search places such an operation's return after every other event, which
also covers "it never happened": it can always be linearized last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..history import Completed, freeze

UNKNOWN: Any = object()  # output of an operation whose outcome is unknown
ILLEGAL: Any = object()  # result of a step the model forbids

# A step input is (f, argument, output); the model decides what each means.
Step = tuple[str, Any, Any]

# Shapes of step the search runs inline, without calling the model (the hot path):
GENERIC = 0  # call model.step
READ = 1  # legal iff the state equals the value; the state is unchanged
WRITE = 2  # always legal; the state becomes the value
CONCAT = 3  # always legal; the value is appended to the (string) state


@dataclass
class Model:
    """A sequential object: its initial state, its step, and how its history splits.

    ``prepare`` maps a completed operation to (partition key, step input), or None to drop it
    (a ``fail`` never happened). Operations in different partitions are independent objects
    (P-compositionality), so each partition is checked on its own.
    """

    name: str
    init: Any
    step: Callable[[Any, Step], Any]
    fs: frozenset[str]
    partitioned: bool = True
    fail_is_output: frozenset[str] = frozenset()  # fs whose fail is a definite negative result
    describe: str = ""
    shape: Callable[[Step], tuple[int, Any]] | None = None  # optional fast path, see GENERIC

    def prepare(self, c: Completed) -> tuple[Any, Step] | None:
        t = c.type
        if c.f not in self.fs:
            raise ValueError(f"model {self.name} has no operation {c.f!r}")
        if t == "fail":
            if c.f not in self.fail_is_output:
                return None
            out: Any = False
        elif t == "ok":
            out = True if c.f in self.fail_is_output else freeze(c.completion.value)  # type: ignore[union-attr]
        else:
            out = UNKNOWN
        arg = freeze(c.invoke.value)
        if c.f == "cas" and not (isinstance(arg, tuple) and len(arg) == 2):
            raise ValueError(f"cas needs [expected, new], got {c.invoke.value!r}")
        if c.f == "txn" and not (
            isinstance(arg, tuple) and all(isinstance(m, tuple) and len(m) == 3 for m in arg)
        ):
            raise ValueError(f"txn needs a list of [f, key, value], got {c.invoke.value!r}")
        return (c.key if self.partitioned else None), (c.f, arg, out)


# --- registers -----------------------------------------------------------------------------


def register_step(state: Any, op: Step) -> Any:
    f, arg, out = op
    if f == "read":
        return state if out is UNKNOWN or out == state else ILLEGAL
    if f == "write":
        return arg
    # cas: arg is (expected, new); out is True (swapped), False (compare failed) or UNKNOWN
    if out is False:
        return state if state != arg[0] else ILLEGAL
    if state == arg[0]:
        return arg[1]
    return state if out is UNKNOWN else ILLEGAL


def register_shape(op: Step) -> tuple[int, Any]:
    f, arg, out = op
    if f == "read" and out is not UNKNOWN:
        return READ, out
    return (WRITE, arg) if f == "write" else (GENERIC, None)


def register(init: Any = None, *, etcd: bool = False) -> Model:
    return Model(
        "etcd-cas-register" if etcd else "cas-register",
        init,
        register_step,
        frozenset(("read", "write", "cas")),
        fail_is_output=frozenset(("cas",)) if etcd else frozenset(),
        describe="read/write/cas per key"
        + ("; a failed cas means the compare failed" if etcd else ""),
        shape=register_shape,
    )


# --- key-value store with append (strings or lists) ------------------------------------------


def kv_step(state: Any, op: Step) -> Any:
    f, arg, out = op
    if f == "read":
        if out is UNKNOWN or out == state:
            return state
        # a missing key reads as empty: "" for strings, [] for lists
        return state if state is None and out in ("", ()) else ILLEGAL
    if f == "write":
        return arg
    if isinstance(arg, str):
        return (state or "") + arg
    return (state or ()) + (arg,)


def kv(init: Any = None) -> Model:
    def shape(op: Step) -> tuple[int, Any]:
        f, arg, out = op
        if f == "write":
            return WRITE, arg
        if isinstance(init, str):  # string values from the start: no "missing key" case
            if f == "read" and out is not UNKNOWN:
                return READ, out
            if f == "append" and isinstance(arg, str):
                return CONCAT, arg
        return GENERIC, None

    return Model(
        "kv-append",
        init,
        kv_step,
        frozenset(("read", "write", "append")),
        describe="read/write/append per key (string concatenation or list append)",
        shape=shape,
    )


# --- multi-key register with transactions ----------------------------------------------------


class MultiRegisterStep:
    """The step of ``multi_register``: a state is the sorted (key, value) items of the keys
    written so far; a key never written holds ``start(k)``. A class rather than a closure so
    that the compiled search (native.py) can recognise it and read ``init``."""

    def __init__(self, init: Any = 0):
        self.init = init
        self.initial = dict(init) if isinstance(init, dict) else None

    def start(self, k: Any) -> Any:
        return self.initial.get(k, 0) if self.initial is not None else self.init

    def __call__(self, state: Any, op: Step) -> Any:
        _, invoked, out = op
        values = dict(state)
        micro = invoked if out is UNKNOWN else out
        for f, k, v in micro:
            if f in ("r", "read"):
                if v is not None and out is not UNKNOWN and values.get(k, self.start(k)) != v:
                    return ILLEGAL
            else:
                values[k] = v
        return tuple(sorted(values.items()))


def multi_register(init: Any = 0) -> Model:
    """Registers updated by atomic transactions of [read k v] / [write k v] micro-ops.

    Every key starts at ``init`` (or ``init[k]`` for a dict), so a ``nil`` read value can never
    be a real value: it means the value was not returned, and matches anything.
    """
    return Model(
        "multi-register",
        (),
        MultiRegisterStep(init),
        frozenset(("txn",)),
        partitioned=False,
        describe="atomic transactions over several registers",
    )


# --- set, FIFO queue, mutex ------------------------------------------------------------------


def set_step(state: Any, op: Step) -> Any:
    f, arg, out = op
    if f == "add":
        return state | {arg}
    return state if out is UNKNOWN or frozenset(out) == state else ILLEGAL


def set_model(init: Any = None) -> Model:
    return Model(
        "set",
        frozenset(init or ()),
        set_step,
        frozenset(("add", "read")),
        describe="add elements, read the whole set, per key",
    )


def queue_step(state: Any, op: Step) -> Any:
    f, arg, out = op
    if f == "enqueue":
        return (*state, arg)
    if out is UNKNOWN:
        return state[1:]
    if not state:
        return state if out is None else ILLEGAL
    return state[1:] if out == state[0] else ILLEGAL


def queue(init: Any = None) -> Model:
    return Model(
        "queue",
        tuple(init or ()),
        queue_step,
        frozenset(("enqueue", "dequeue")),
        describe="FIFO queue per key; dequeue of an empty queue returns null",
    )


def mutex_step(state: Any, op: Step) -> Any:
    f, _, out = op
    legal = not state if f == "acquire" else state  # state: True when held
    if legal:
        return not state
    return state if out is UNKNOWN else ILLEGAL


def mutex(init: Any = None) -> Model:
    return Model(
        "mutex",
        bool(init),
        mutex_step,
        frozenset(("acquire", "release")),
        describe="a lock: acquire when free, release when held",
    )


MODELS: dict[str, Callable[..., Model]] = {
    "register": register,
    "cas-register": register,
    "etcd-cas-register": lambda init=None: register(init, etcd=True),
    "multi-register": multi_register,
    "kv-append": kv,
    "kv": kv,
    "set": set_model,
    "queue": queue,
    "fifo-queue": queue,
    "mutex": mutex,
}


def model_for(name: str, initial: Any = None) -> Model:
    """The model called ``name`` (as in the conformance MANIFEST), starting at ``initial``."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
    if name == "multi-register" and initial is None:
        return factory()
    return factory(initial)
