"""TCP delivers everything it accepted, in order, through packet loss; UDP promises nothing.

``TransportDelivery`` reads the senders' ``send`` operations (each completion names its
``stream``: one TCP connection, or one UDP socket) and the sink's report (the final ``poll``:
``[stream, position, message]`` in arrival order). For each TCP stream the acknowledged
messages must arrive exactly once and in the order they were sent: a missing one is a
``lost-message``, a second copy a ``duplicate``, one overtaken by a later send ``reordered``;
any of them refutes the claim. UDP datagrams the kernel accepted and the sink never got are
counted as lost: that is the other half of the claim ("no guarantee of data delivery"), so
the case is upheld only when UDP did lose some while TCP lost none; no UDP loss leaves it
inconclusive (the contrast was not shown).

Exercised: the loss fault dropped TCP packets (the heal's counters), TCP messages were
acknowledged while it was on, and the report came after every TCP stream had closed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
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
    in_window,
    windows_of,
)
from ...checkers.verdict import Anomaly
from ...history import NEMESIS, Completed, History


def _drain(history: History) -> Completed | None:
    return next((c for c in history.complete()
                 if c.is_final and c.f == "poll" and c.type == "ok"), None)


def _stream(c: Completed) -> str:
    return str(c.completion.get("stream") or "") if c.completion is not None else ""


def _healed_drops(history: History, fault: str) -> Counter[str]:
    drops: Counter[str] = Counter()
    for op in history:
        if op.process == NEMESIS and op.f == f"{fault}-healed" and isinstance(op.value, dict):
            drops.update(op.value.get("dropped") or {})
    return drops


@dataclass
class TransportDelivery:
    fault: str = "packet-loss"
    name: str = "transport-delivery"
    exercises: str = ("TCP packets dropped by the loss fault while TCP messages were "
                      "acknowledged, and a report taken once every TCP stream was closed")

    def exercised(self, history: History, verdicts: Verdicts) -> Exercise:
        windows = windows_of(history, self.fault)
        if not windows:
            return Exercise(False, f"no {self.fault} window in the history")
        drops = _healed_drops(history, self.fault)
        if drops["tcp"] == 0:
            return Exercise(False, f"the {self.fault} fault dropped no TCP packet "
                                   f"(dropped: {dict(drops) or 'none recorded'})")
        during = sum(1 for c in client_ops(history)
                     if c.f == "send" and c.type == "ok" and _stream(c).startswith("tcp")
                     and any(in_window(c, w) for w in windows))
        if during == 0:
            return Exercise(False, f"no TCP message was acknowledged during the {self.fault}")
        drain = _drain(history)
        if drain is None:
            return Exercise(False, "the sink's report was not read after the run")
        still_open = drain.completion.get("open_streams") if drain.completion else None
        if still_open:
            return Exercise(False, f"{still_open} TCP streams were still open at the report: "
                                   "their last bytes may yet arrive")
        return Exercise(True, f"{drops['tcp']} TCP and {drops['udp']} UDP packets dropped; "
                              f"{during} TCP messages acknowledged during the loss")

    def rule(self, history: History, verdicts: Verdicts) -> Ruling:
        drain = _drain(history)
        if drain is None:
            return Ruling(INCONCLUSIVE, "no report from the sink")
        still_open = drain.completion.get("open_streams") if drain.completion else None
        if still_open:  # what has not arrived yet may still: no loss can be told
            return Ruling(INCONCLUSIVE, f"{still_open} TCP streams were still open at the report")
        arrived: dict[str, list[Any]] = defaultdict(list)
        for stream, _pos, message in drain.value or []:
            arrived[str(stream)].append(message)
        sent: dict[str, list[Completed]] = defaultdict(list)
        for c in client_ops(history):
            if c.f == "send" and c.type == "ok" and _stream(c):
                sent[_stream(c)].append(c)
        evidence = [drain.invoke.index, drain.completion.index] if drain.completion else []
        anomalies = []
        udp_sent = udp_lost = tcp_sent = 0
        for stream, sends in sorted(sent.items()):
            got = arrived.get(stream, [])
            counts = Counter(got)
            if stream.startswith("udp"):
                udp_sent += len(sends)
                udp_lost += sum(1 for c in sends if counts[c.value] == 0)
                continue
            tcp_sent += len(sends)
            anomalies += tcp_anomalies(stream, sends, got, counts, evidence)
        if anomalies:
            kinds = Counter(a.kind for a in anomalies)
            return Ruling(REFUTED, f"TCP: {', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}"
                                   f" among {tcp_sent} acknowledged messages", anomalies)
        if udp_sent and udp_lost:
            return Ruling(UPHELD, f"TCP: all {tcp_sent} acknowledged messages arrived once, in "
                                  f"order; UDP: {udp_lost} of {udp_sent} datagrams lost")
        return Ruling(INCONCLUSIVE, f"TCP delivered all {tcp_sent} messages, but UDP lost none "
                                    f"of {udp_sent}: the contrast the claim draws was not shown")


def tcp_anomalies(stream: str, sends: list[Completed], got: list[Any],
                  counts: Counter[Any], evidence: list[int]) -> list[Anomaly]:
    """Lost, duplicated and reordered messages of one TCP stream (sends in send order)."""
    out = []
    for c in sends:
        if counts[c.value] == 0:
            out.append(Anomaly("lost-message", c.indices + evidence,
                               f"{stream}: {c.value!r} acknowledged, never arrived", stream))
        elif counts[c.value] > 1:
            out.append(Anomaly("duplicate", c.indices + evidence,
                               f"{stream}: {c.value!r} arrived {counts[c.value]} times", stream))
    order = {m: i for i, m in enumerate(got)}  # a duplicate counts at its last arrival
    last = -1
    for c in sends:
        at = order.get(c.value)
        if at is None:
            continue
        if at < last:
            out.append(Anomaly("reordered", c.indices + evidence,
                               f"{stream}: {c.value!r} arrived before a message sent earlier",
                               stream))
        last = max(last, at)
    return out
