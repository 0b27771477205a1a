"""``sdconform check``: one checker over a history file, its verdict printed or as JSON.

Linearizability under a model (``checkers/models.py``), or a property checker by name
(``PROPERTY_CHECKERS``); the model guessed from the operations when not given. Exit codes: 0
valid, 1 invalid, 2 unknown (``cli.py`` adds 3, bad input).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from .checkers.models import MODELS
from .checkers.verdict import EXIT_CODES, Verdict
from .formats import read_history
from .history import History, HistoryError

# Checkers other than linearizability, by the name --model takes: (module, function).
PROPERTY_CHECKERS: dict[str, tuple[str, str]] = {
    "sessions": ("pytest_sdconform.checkers.sessions", "check_sessions"),
    "lost-writes": ("pytest_sdconform.checkers.durability", "check_lost_writes"),
    "delivery": ("pytest_sdconform.checkers.delivery", "check_delivery"),
    "availability": ("pytest_sdconform.checkers.availability", "check_availability"),
    "txn": ("pytest_sdconform.checkers.txn", "check_txn"),
    "causal": ("pytest_sdconform.checkers.causal", "check_causal"),
    "convergence": ("pytest_sdconform.checkers.convergence", "check_convergence"),
    "monotonic-writes": ("pytest_sdconform.checkers.monotonic_writes", "check_monotonic_writes"),
    "read-after-ack": ("pytest_sdconform.checkers.read_after_ack", "check_read_after_ack"),
    "outbox": ("pytest_sdconform.checkers.outbox", "check_outbox"),
    "staleness": ("pytest_sdconform.checkers.staleness", "check_staleness"),
    "mutual-exclusion": ("pytest_sdconform.checkers.mutex", "check_mutual_exclusion"),
}

# When --model is not given: the model a history's operation names point to.
_MODEL_BY_F = (
    ({"txn"}, "multi-register"),  # list-append transactions: use --model txn
    ({"acquire", "release"}, "mutex"),
    ({"enqueue", "dequeue"}, "queue"),
    ({"add"}, "set"),
    ({"append"}, "kv-append"),
)


def guess_model(history: History) -> str:
    fs = {op.f for op in history.ops if op.is_client}
    for names, model in _MODEL_BY_F:
        if fs & names:
            return model
    if history.meta.get("format") == "porcupine-etcd":
        return "etcd-cas-register"
    return "cas-register"


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def memory_size(text: str) -> int:
    """``--memory-limit``'s value: bytes, or a number with K, M, G or T (binary units)."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    try:
        size = float(t[: len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        size = -1
    if not 1 <= size < 1 << 62:
        raise argparse.ArgumentTypeError(f"not a memory size: {text!r} (e.g. 512M, 2G, 1000000)")
    return int(size)


def run_check(
    history: History, model: str, time_limit: float | None, memory_limit: int | None = None,
    engine: str | None = None,
) -> Verdict:
    if model in PROPERTY_CHECKERS:
        if memory_limit is not None:
            raise HistoryError(
                f"--memory-limit bounds the linearizability search; {model!r} does not take it"
            )
        module, func = PROPERTY_CHECKERS[model]
        check: Callable[..., Verdict] = getattr(importlib.import_module(module), func)
        params = inspect.signature(check).parameters
        options: dict[str, Any] = {}
        if time_limit is not None and "time_limit" in params:
            options["time_limit"] = time_limit
        if engine is not None and "engine" in params:  # txn: the compiled checker or Python
            options["engine"] = engine
        return check(history, **options)
    from .checkers.linearizable import check_linearizable

    return check_linearizable(
        history, model, time_limit=time_limit, memory_limit=memory_limit, engine=engine
    )


def verdict_fields(history: History, model: str, verdict: Verdict) -> dict[str, Any]:
    """The verdict fields of DESIGN.md's run output, for one history."""
    counts = Counter(c.type for c in history.complete())
    return {
        "history": history.path,
        "model": model,
        "result": verdict.result,
        "checkers": {verdict.checker: verdict.result},
        "anomaly_kinds": verdict.anomaly_kinds,
        "anomalies": [a.to_json() for a in verdict.anomalies],
        "ops": {t: counts.get(t, 0) for t in ("ok", "fail", "info")},
        **({"reason": verdict.reason} if verdict.reason else {}),
        "details": verdict.details,
    }


def print_verdict(fields: dict[str, Any], out: Any) -> None:
    ops = fields["ops"]
    print(
        f"{fields['history']}: {fields['result']} ({next(iter(fields['checkers']))}, "
        f"model {fields['model']}; {ops['ok']} ok, {ops['fail']} fail, {ops['info']} info)",
        file=out,
    )
    if fields.get("reason"):
        print(f"  {fields['reason']}", file=out)
    shown = fields["anomalies"][:20]
    for a in shown:
        key = f" on key {a['key']!r}" if "key" in a else ""
        print(f"  {a['kind']}{key}: {a.get('explanation', '')}", file=out)
        print(f"    operations: {', '.join(map(str, a['ops']))}", file=out)
    if len(fields["anomalies"]) > len(shown):
        print(f"  ... and {len(fields['anomalies']) - len(shown)} more", file=out)


def cmd_check(args: argparse.Namespace) -> int:
    history = read_history(args.history, args.format)
    model = args.model or guess_model(history)
    if model not in MODELS and model not in PROPERTY_CHECKERS:
        known = ", ".join(sorted([*MODELS, *PROPERTY_CHECKERS]))
        raise HistoryError(f"unknown model {model!r}; known: {known}")
    try:
        verdict = run_check(history, model, args.time_limit, args.memory_limit, args.engine)
    except ValueError as e:
        raise HistoryError(str(e), history.path) from None
    fields = verdict_fields(history, model, verdict)
    if args.json:
        json.dump(fields, sys.stdout, indent=2, default=str)
        print()
    else:
        print_verdict(fields, sys.stdout)
    return EXIT_CODES[verdict.result]
