"""What a queue or log workload records, gathered per message: the input of ``delivery.py``
and ``ordering.py``.

- A producer op has ``f`` ``send`` or ``enqueue``; its ``value`` is the message, unique in the
  run, and its ``key`` the partition, FIFO group or message key (``None``: none). Its ok
  completion may carry the broker's answer as extra fields ``partition`` and ``offset``.
- A consumer op has ``f`` ``dequeue`` or ``poll``. A ``dequeue``'s ok completion value is one
  message (``None``: the queue was empty). A ``poll``'s is a list of ``[partition, offset,
  message]`` triples (offset may be ``None``), where ``partition`` is named as the send's
  ``partition`` field names it, or, when sends carry none, as their ``key``.
- The receive order is the order of consumer completions in the history, then the order within
  one poll's batch. A message's receive position is its first receipt.
- A drain: consumer ops marked ``"final": true`` (the runner's reads after heal and settle). A
  history without one, whose consumers still read after the last fault was healed, is taken as
  drained too: a weaker stand-in, since consumers may lag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..history import Completed, History, freeze

PRODUCERS = frozenset(("send", "enqueue"))
CONSUMERS = frozenset(("poll", "dequeue"))


@dataclass(slots=True)
class Receipt:
    """One delivery of a message to a consumer."""

    message: Any
    partition: Any
    offset: Any
    op: Completed
    seq: int  # position in the receive order


@dataclass(slots=True)
class Message:
    """One message: what sent it and how often it was received.

    Kept lean on purpose (one object per message, no lists): a million-op history has
    hundreds of thousands of them, and every extra container costs allocation and GC time.
    """

    send: Completed | None = None  # its first acknowledged send, else its first send
    possible: int = 0  # sends that may have happened: ok or info
    first: Receipt | None = None
    receipts: int = 0

    def add_send(self, c: Completed) -> None:
        t = c.type
        if t != "fail":
            self.possible += 1
        if self.send is None or (t == "ok" and self.send.type != "ok"):
            self.send = c


@dataclass
class Traffic:
    """Every message by value, all sends and consumer ops, and all receipts in receive order."""

    messages: dict[Any, Message] = field(default_factory=dict)
    sends: list[Completed] = field(default_factory=list)
    consumers: list[Completed] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)

    def message(self, m: Any) -> Message:
        msg = self.messages.get(m)
        if msg is None:
            msg = self.messages[m] = Message()
        return msg


def gather(history: History) -> Traffic:
    # One pass per operation, names bound locally: a million-op history goes through here.
    t = Traffic()
    messages, sends, consumers, receipts = t.messages, t.sends, t.consumers, t.receipts
    for c in history.complete():
        f = c.invoke.f
        if f in PRODUCERS:
            sends.append(c)
            m = freeze(c.invoke.value)
            msg = messages.get(m)
            if msg is None:
                msg = messages[m] = Message()
            msg.add_send(c)
        elif f in CONSUMERS:
            consumers.append(c)
    done = [c for c in consumers if c.completion is not None and c.completion.type == "ok"]
    done.sort(key=_completed_at)
    for c in done:
        for partition, offset, message in deliveries(history, c):
            m = freeze(message)
            r = Receipt(m, freeze(partition), offset, c, len(receipts))
            receipts.append(r)
            msg = messages.get(m)
            if msg is None:
                msg = messages[m] = Message()
            msg.receipts += 1
            if msg.first is None:
                msg.first = r
    return t


def _completed_at(c: Completed) -> int:
    return c.completion.index if c.completion else 0


def deliveries(history: History, c: Completed) -> Iterator[tuple[Any, Any, Any]]:
    """A consumer op's ``(partition, offset, message)`` deliveries."""
    if c.f == "dequeue":
        if c.value is not None:
            yield c.key, None, c.value
        return
    try:
        for triple in c.value or ():
            partition, offset, message = triple  # a malformed one raises here
            yield partition, offset, message
    except (TypeError, ValueError):
        assert c.completion is not None
        raise history.error(
            "a poll's value must be a list of [partition, offset, message] triples",
            c.completion.index,
        ) from None
