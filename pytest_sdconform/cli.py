"""The ``sdconform`` command: check a history, convert between formats, clean up after runs.

Exit codes of ``check``: 0 valid, 1 invalid, 2 unknown, 3 bad input (one line, no traceback).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .check import PROPERTY_CHECKERS, cmd_check, memory_size
from .checkers.models import MODELS
from .formats import FORMATS, read_history
from .history import HistoryError

BAD_INPUT = 3

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
                   help="the linearizability search and the txn checker: compiled (native/) "
                   "or pure Python; "
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
