"""pytest entry point: options, markers, the ``sdconform`` fixture, header and summary.

Glue only: the work is in session.py, case.py and the modules they call. Nothing is set up
unless ``--sdconform`` is given; without it, suite tests (those marked ``claim`` or
``backend``) skip with a one-line reason and the harness's own tests run as usual.
"""

from __future__ import annotations

import contextlib
import random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import progress
from .claims import UnknownClaim, get_claim
from .claims.configurations import UnknownConfiguration, get_configuration
from .faults.schedule import Schedule, ScheduleError
from .runtimes.choice import RUNTIMES
from .session import Options, Session, suite_of, worker_id

SESSION = pytest.StashKey[Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sdconform", "system-design conformance runs")
    group.addoption("--sdconform", action="store_true", default=False,
                    help="run the sdconform suites against real backends (they skip without it)")
    group.addoption("--sdconform-runtime", default="local", choices=RUNTIMES,
                    help="local: real processes on 127.x.y.z (default); external: services "
                    "the environment points to (the AWS suites: a real account)")
    group.addoption("--sdconform-image", action="append", default=[], metavar="ROLE=IMAGE",
                    help="docker runtime: run an image role (redis, postgres, nginx, java, "
                    "python) in this image instead of ours (sdconform images build)")
    group.addoption("--sdconform-version", action="append", default=[],
                    metavar="BACKEND=VERSION",
                    help="run a backend fetched by version (kafka, cassandra) in this release "
                    "instead of the default; recorded in every case")
    group.addoption("--sdconform-duration", type=float, default=10.0, metavar="S",
                    help="seconds of client traffic per case (default: 10)")
    group.addoption("--sdconform-concurrency", type=int, default=4, metavar="N",
                    help="client threads per case (default: 4)")
    group.addoption("--sdconform-faults", default="", metavar="LIST",
                    help="comma-separated faults to allow (default: whatever each suite asks)")
    group.addoption("--sdconform-seed", type=int, default=None, metavar="N",
                    help="seed for the nemesis schedule and workloads (default: random, shown)")
    group.addoption("--sdconform-report", default=None, metavar="DIR",
                    help="the run folder (default: reports/<run-id>)")
    group.addoption("--sdconform-explore", type=int, default=0, metavar="N",
                    help="after a case whose claim should hold is upheld, let Hypothesis "
                    "generate up to N fault schedules for it, each a real run, and shrink one "
                    "that refutes it (default: 0, no exploration)")
    group.addoption("--sdconform-explore-budget", type=float, default=300.0, metavar="S",
                    help="seconds of re-running smaller schedules to shrink a refuting one "
                    "(default: 300)")
    group.addoption("--sdconform-schedule", default=None, metavar="FILE",
                    help="the nemesis follows this fault schedule (JSON, as an exploration "
                    "or sdconform replay writes it) instead of drawing one from the seed")
    group.addoption("--sdconform-strict", action="store_true", default=False,
                    help="an inconclusive case fails instead of skipping")


def pairs(option: str, values: list[str], example: str) -> dict[str, str]:
    """``--option name=value`` options as a mapping; a malformed one is a usage error."""
    chosen = {}
    for value in values:
        name, sep, what = value.partition("=")
        if not sep or not name or not what:
            raise pytest.UsageError(f"{option} {value!r}: expected NAME=VALUE, e.g. {example}")
        chosen[name] = what
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "claim(id, config=None): the catalogue claim a suite test checks, and the "
        "catalogue configuration it runs under (its expected outcome and why)")
    config.addinivalue_line("markers", "backend(name): the backend a suite test needs")
    config.addinivalue_line(
        "markers", "nightly: a case for the long (nightly) runs, left out of CI's short subset "
        "(.ci/suites runs -m 'not nightly')")
    if not config.getoption("sdconform"):
        return
    seed = config.getoption("sdconform_seed")
    report = config.getoption("sdconform_report")
    shared = getattr(config, "workerinput", {})  # an xdist worker: the controller's choices
    seed = shared.get("sdconform_seed", seed)
    report = shared.get("sdconform_report", report)
    options = Options(
        runtime=config.getoption("sdconform_runtime"),
        duration=config.getoption("sdconform_duration"),
        concurrency=config.getoption("sdconform_concurrency"),
        faults=tuple(f for f in config.getoption("sdconform_faults").split(",") if f),
        seed=seed if seed is not None else random.randrange(1_000_000),
        report=Path(report) if report else None,
        strict=config.getoption("sdconform_strict"),
        images=pairs("--sdconform-image", config.getoption("sdconform_image"),
                     "redis=redis:7.0"),
        versions=pairs("--sdconform-version", config.getoption("sdconform_version"),
                       "kafka=3.9.1"),
        rootdir=config.rootpath,
    )
    explore, budget = config.getoption("sdconform_explore"), config.getoption(
        "sdconform_explore_budget")
    if explore < 0 or budget <= 0:
        raise pytest.UsageError("--sdconform-explore takes a count of schedules (0: none) and "
                                "--sdconform-explore-budget a positive number of seconds")
    options.explore, options.explore_budget = explore, budget
    schedule_file = config.getoption("sdconform_schedule")
    if schedule_file:
        options.schedule_file = Path(schedule_file)
        try:
            options.schedule = Schedule.read(options.schedule_file)
        except ScheduleError as e:
            raise pytest.UsageError(f"--sdconform-schedule {e}") from None
    session = Session.create(options, run_id=shared.get("sdconform_run_id"))

    terminal = threading.Lock()

    def to_terminal(line: str) -> None:
        """Past output capture, so that a long start or run shows as it happens."""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        with terminal:
            if reporter is None:
                print(line, file=sys.stderr, flush=True)
                return
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                reporter.write_line(line)
                reporter.flush()

    progress.route(to_terminal)
    session.progress = progress.progress
    config.stash[SESSION] = session


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """pytest-xdist: every worker writes into the controller's run folder, with its seed."""
    session = node.config.stash.get(SESSION, None)  # type: ignore[attr-defined]
    if session is not None:
        node.workerinput.update(  # type: ignore[attr-defined]
            sdconform_seed=session.options.seed,
            sdconform_report=str(session.folder),
            sdconform_run_id=session.run_id,
        )


def pytest_report_header(config: pytest.Config) -> str | None:
    session = config.stash.get(SESSION, None)
    if session is None:
        return None
    o = session.options
    return (f"sdconform: seed {o.seed}, runtime {o.runtime}, {o.duration:g}s per case, "
            f"report {session.folder}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash.get(SESSION, None) is not None:
        return
    skip = pytest.mark.skip(reason="sdconform suite: run with --sdconform (starts real servers)")
    for item in items:
        if item.get_closest_marker("claim") or item.get_closest_marker("backend"):
            item.add_marker(skip)


@pytest.fixture
def sdconform(request: pytest.FixtureRequest) -> Iterator[object]:
    """The case of one suite test: start clusters, run workloads under faults, decide."""
    from .case import Case

    session = request.config.stash.get(SESSION, None)
    if session is None:
        pytest.skip("sdconform suite: run with --sdconform (starts real servers)")
    claim, configuration, why = None, None, ""
    expected: str | None = None
    marker = request.node.get_closest_marker("claim")
    if marker is not None:
        problem: str | None = None
        try:
            claim = get_claim(marker.args[0])
            configuration = marker.kwargs.get("config")
            if "expected" in marker.kwargs:
                problem = ("expected= is not allowed: name the configuration (config=...) and "
                           "give its expected outcome and reason in "
                           "pytest_sdconform/claims/configurations/")
            elif configuration is None:
                expected, why = claim.expected, claim.expected_note or "as the documents state it"
            else:
                c = get_configuration(claim.id, configuration)
                expected, why = c.expected, c.why
        except (UnknownClaim, UnknownConfiguration) as e:
            problem = str(e)  # failed outside the handler: no "during handling" chain
        if problem or claim is None:
            pytest.fail(f"{request.node.nodeid}: {problem}", pytrace=False)
    backend_marker = request.node.get_closest_marker("backend")
    backend = backend_marker.args[0] if backend_marker else (claim.system if claim else None)
    name, folder, run = session.new_case(request.node.nodeid)
    case = Case(session, claim, expected, backend, request.node.nodeid, name, folder, run,
                configuration=configuration, expected_why=why,
                properties=request.node.user_properties)  # --junitxml writes them
    if claim is not None:
        case.properties += [("sdconform.claim", claim.id),
                            ("sdconform.configuration", configuration or "default"),
                            ("sdconform.expected", expected)]
    if claim is not None:
        session.systems.add(claim.system)
    try:
        yield case
    finally:
        case.close()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a test's fixtures are torn down: when the next test is in another suite folder,
    the shared clusters this one's suite used are stopped (the last ones at the session's
    end)."""
    session = item.config.stash.get(SESSION, None)
    if session is None or nextitem is None:
        return
    here, there = suite_of(item.nodeid), suite_of(nextitem.nodeid)
    if here != there:
        session.leave_suite(here, there)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is None or worker_id():
        return
    session.merge_workers()
    report = _write_report(session)
    tr = terminalreporter
    tr.section("sdconform claims")
    if not session.cases:
        tr.write_line("no case ran")
    for c in session.cases:
        lenient = c["outcome"] == "inconclusive" and not session.options.strict
        mark = "ok  " if c["passed"] else "skip" if lenient else "FAIL"
        on = " on an emulator" if c.get("emulator") else ""
        tr.write_line(f"{mark} {c['claim'] or c['test']}: {c['outcome']}{on} "
                      f"(expected {c['expected']})  {c['case']}")
    tr.write_line(f"report: {report or session.folder}")


def _write_report(session: Session) -> Path | None:
    try:
        from .report import write_report
    except ImportError:
        return None
    try:
        return write_report(session.folder)
    except Exception as e:  # the run's results are safe in verdicts.json; say what failed
        print(f"sdconform: could not write the HTML report: {e}")
        return None


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        session.close()
        progress.route(None)
