"""The ``sdconform`` command: check a history, convert between formats, clean up after runs.

Exit codes of ``check``: 0 valid, 1 invalid, 2 unknown, 3 bad input (one line, no traceback).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .checkers.models import MODELS
from .checkers.verdict import EXIT_CODES, Verdict
from .formats import FORMATS, read_history
from .history import History, HistoryError

BAD_INPUT = 3

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
        if time_limit is not None and "time_limit" in inspect.signature(check).parameters:
            return check(history, time_limit=time_limit)
        return check(history)
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


def cmd_convert(args: argparse.Namespace) -> int:
    from .formats import jepsen, jsonl

    history = read_history(args.source, args.format)
    writer = {"jsonl": jsonl.write, "jepsen-edn": jepsen.write}[args.to]
    with open(args.dest, "w", encoding="utf-8") as out:
        writer(history, out)
    print(f"{args.dest}: {len(history)} operations written as {args.to}")
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors are bad input too: exit 3, not argparse's 2 (which means 'unknown')."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(BAD_INPUT)


def cmd_cleanup(args: argparse.Namespace) -> int:
    from .cleanup import cleanup

    removed = cleanup(all_runs=args.all)
    for what in removed:
        print(f"removed {what}")
    print(
        f"sdconform cleanup: removed {len(removed)} leftover(s)"
        if removed
        else "sdconform cleanup: nothing to remove"
    )
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    from . import provision
    from .backends import registry

    targets: dict[str, Callable[[], object]] = {"toxiproxy": provision.toxiproxy_server,
                                                 "lossfs": provision.lossfs_binary}
    for backend in registry.names():
        targets[backend] = functools.partial(registry.provision, backend)
    failed = 0
    for name in args.what or list(targets):
        if name not in targets:
            raise HistoryError(f"unknown provision target {name!r}; known: {', '.join(targets)}")
        try:
            path = targets[name]()
        except provision.ProvisionError as e:
            print(f"sdconform: error: {name}: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: {path}" if path else f"{name}: ready")
    return 1 if failed else 0


def cmd_engine(args: argparse.Namespace) -> int:
    from . import engine
    from .provision import ProvisionError

    if args.action == "start":
        print(f"export DOCKER_HOST={engine.start()}")
    elif args.action == "stop":
        try:
            undone = engine.stop()
        except ProvisionError as e:
            print(f"sdconform: error: {e}", file=sys.stderr)
            return 1
        for line in undone or ["no private engine was running"]:
            print(line)
    else:
        print(f"{engine.socket_url()}: {'running' if engine.running() else 'not running'}")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    from . import images
    from .provision import ProvisionError
    from .runtimes import RuntimeUnsupported
    from .runtimes.engines import engine

    try:
        client = engine()
    except RuntimeUnsupported as e:
        print(f"sdconform: error: {e}", file=sys.stderr)
        return 1
    for role in args.roles:
        try:
            images.tag(role)  # an unknown role is named before anything is built
        except ValueError as e:
            raise HistoryError(str(e)) from None
    try:
        built = images.build(client, args.roles or None, force=args.force)
    except ProvisionError as e:
        print(f"sdconform: error: {e}", file=sys.stderr)
        return 1
    print("\n".join(built) if built else "every image is built already")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .claims import claims_for, load_catalogue
    from .claims.configurations import untestable
    from .claims.coverage import claim_markers, unverified

    try:
        claims = claims_for(args.system) if args.system else list(load_catalogue().values())
    except KeyError as e:
        raise HistoryError(str(e)) from None
    tests, unrun = claim_markers(Path(args.suites)), unverified(Path(args.suites))
    cannot = untestable()
    rows: list[dict[str, Any]] = [
        {"id": c.id, "system": c.system, "tier": c.tier, "tested": c.id in tests,
         "unverified_tests": unrun.get(c.id, []),
         "untestable": cannot[c.id].why if c.id in cannot else None,
         "expected": c.expected, "flags": list(c.flags), "title": c.title,
         "source": f"{c.sources[0].file}:{c.sources[0].line}", "tests": tests.get(c.id, [])}
        for c in claims
    ]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    for r in rows:
        flags = f" [{', '.join(r['flags'])}]" if r["flags"] else ""
        status = ("tested " if r["tested"] else "cannot " if r["untestable"] else
                  "not run" if r["unverified_tests"] else "no test")
        why = f" (cannot be tested here: {r['untestable']})" if r["untestable"] else ""
        print(f"{status}  {r['tier']}  {r['id']}{flags}: {r['title']}{why}")
    tested = sum(r["tested"] for r in rows)
    print(f"{tested} of {len(rows)} claims have a test (suites: {args.suites})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .report import write_report

    folder = Path(args.run)
    if not (folder / "verdicts.json").exists():
        raise HistoryError("not a run folder (no verdicts.json)", str(folder))
    print(write_report(folder))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from . import compare
    from .claims import load_catalogue
    from .report.render import render_compare

    claims = load_catalogue()
    matrix = compare.build([Path(r) for r in args.runs], claims)
    regressed: list[compare.Regression] = []
    if args.baseline:
        before = [ref for run in args.baseline for ref in compare.read_run(Path(run))]
        now = [ref for refs in matrix.by_claim.values() for ref in refs]
        regressed = compare.regressions(now, before)
    if args.html:
        out = Path(args.html)
        out.write_text(render_compare(matrix, regressed, out), encoding="utf-8")
        print(f"sdconform compare: {out}", file=sys.stderr)
    if args.json:
        print(json.dumps(compare.to_json(matrix, regressed), indent=1))
    if args.markdown or not (args.html or args.json):
        print(compare.markdown(matrix, regressed), end="")
    for r in regressed:
        print(f"sdconform compare: regression: {r.describe()}", file=sys.stderr)
    return 1 if regressed else 0


def cmd_replay(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from .replay import replay

    case_dir = Path(args.case)
    report = Path(args.report or case_dir.resolve().parent.parent
                  / f"replay-{case_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    rec, now = replay(case_dir, report)
    same = now == rec.outcome
    print(f"sdconform replay: {rec.test}: recorded {rec.outcome}, now {now}: "
          f"{'repeated' if same else 'did not repeat'} (seed {rec.options['seed']}; "
          f"report {report})")
    return 0 if same else 1


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sdconform", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check one history against a model or a property")
    c.add_argument("history")
    c.add_argument(
        "--model",
        help="a linearizability model ("
        + ", ".join(sorted(MODELS))
        + ") or a property ("
        + ", ".join(PROPERTY_CHECKERS)
        + "); guessed from the operations when omitted",
    )
    c.add_argument("--format", default="auto", choices=FORMATS)
    c.add_argument("--json", action="store_true", help="print the verdict as JSON")
    c.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help="give up after S seconds with 'unknown'",
    )
    c.add_argument(
        "--memory-limit",
        type=memory_size,
        default=None,
        metavar="SIZE",
        help="bytes the linearizability search may cache (512M, 2G...), past which the verdict "
        "is 'unknown (memory budget)'; default: half the memory available",
    )
    c.add_argument("--engine", choices=("native", "python"), default=None,
                   help="the linearizability search: compiled (native/) or pure Python; "
                   "default: native when built, else python with a notice")
    c.set_defaults(func=cmd_check)
    v = sub.add_parser("convert", help="convert a history to jsonl or Jepsen EDN")
    v.add_argument("source")
    v.add_argument("dest")
    v.add_argument("--format", default="auto", choices=FORMATS, help="format of SOURCE")
    v.add_argument("--to", default="jsonl", choices=("jsonl", "jepsen-edn"))
    v.set_defaults(func=cmd_convert)
    k = sub.add_parser("cleanup", help="remove what killed runs left: processes, rules, cgroups")
    k.add_argument(
        "--all", action="store_true", help="also runs whose owner is still alive (stop them first)"
    )
    k.set_defaults(func=cmd_cleanup)
    pr = sub.add_parser("provision", help="fetch and build what the faults and backends need")
    pr.add_argument("what", nargs="*", help="targets (default: all): toxiproxy and the backends")
    pr.set_defaults(func=cmd_provision)
    en = sub.add_parser("engine", help="a private Docker engine for the docker runtime")
    en.add_argument("action", choices=("start", "stop", "status"))
    en.set_defaults(func=cmd_engine)
    im = sub.add_parser("images", help="build the docker runtime's images, without a registry")
    im.add_argument("build", choices=("build",))
    im.add_argument("roles", nargs="*", help="image roles (default: all): redis, postgres...")
    im.add_argument("--force", action="store_true", help="build again even if present")
    im.set_defaults(func=cmd_images)
    cl = sub.add_parser("claims", help="list the claims catalogue and which claims have a test")
    cl.add_argument("--system", help="only this system's claims (redis, cassandra, kafka...)")
    cl.add_argument("--suites", default="suites", help="where the suites are (default: suites)")
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(func=cmd_claims)
    rp = sub.add_parser("report", help="write (again) the HTML report of a run folder")
    rp.add_argument("run", help="the run folder (reports/<run-id>)")
    rp.set_defaults(func=cmd_report)
    cp = sub.add_parser("compare", help="one matrix of systems and configurations from run "
                                        "folders; with --baseline, exit 1 on a regression")
    cp.add_argument("runs", nargs="+", help="run folders (each with its verdicts.json)")
    cp.add_argument("--baseline", nargs="+", metavar="RUN", help="run folders to compare with")
    cp.add_argument("--html", metavar="OUT", help="write the matrix as one HTML page")
    cp.add_argument("--markdown", action="store_true", help="print it as Markdown (the default)")
    cp.add_argument("--json", action="store_true", help="print it as JSON")
    cp.set_defaults(func=cmd_compare)
    ry = sub.add_parser("replay", help="run one case again with its recorded seed and options; "
                                       "exit 1 when its outcome does not repeat")
    ry.add_argument("case", help="the case folder (reports/<run-id>/case-NNN)")
    ry.add_argument("--report", help="where the replay's run folder goes (default: beside the run)")
    ry.set_defaults(func=cmd_replay)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except HistoryError as e:
        print(f"sdconform: error: {e.describe()}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("sdconform: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
