"""A report folder only its owner can enter (``--sdconform-report "$(mktemp -d)"``, a umask of
077) must not keep nodes that run as another user from their data. In pytest_sdconform only
PostgreSQL runs as another user (``NodeSpec(user="postgres")``, started through setpriv)."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_sdconform.cleanup import clean_run
from pytest_sdconform.nodes.addresses import AddressBlock, allocate
from pytest_sdconform.nodes.readiness import Command, NodeStartError
from pytest_sdconform.runs import Run, new_run
from pytest_sdconform.runtimes.local import LocalRuntime, NodeSpec

pytestmark = pytest.mark.integration

USER = "postgres"


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="running as another user needs root")
needs_user = pytest.mark.skipif(not _has_user(USER), reason=f"no {USER} user on this machine")


@pytest.fixture
def private(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A 0700 report folder and a state folder made under a umask of 077 (so 0700 too), both
    where another user could reach them if their modes allowed it (/tmp), not in pytest's
    tmp_path (its parent is closed to other users anyway)."""
    old = os.umask(0o077)
    report = Path(tempfile.mkdtemp(prefix="sdconform-report-"))
    state = Path(tempfile.mkdtemp(prefix="sdconform-state-"))
    monkeypatch.setenv("SDCONFORM_STATE", str(state))
    try:
        assert stat.S_IMODE(report.stat().st_mode) == 0o700
        yield report, state
    finally:
        os.umask(old)
        shutil.rmtree(report, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def block(private: tuple[Path, Path]) -> Iterator[AddressBlock]:
    b = allocate()
    yield b
    b.release()


def writer(name: str, address: str) -> NodeSpec:
    """A node as ``postgres`` that writes in its data folder (its working folder) and stays."""
    return NodeSpec(name, address,
                    ["/bin/sh", "-c", 'cd "$PWD" && echo here > mine && exec sleep 60'],
                    ready=Command(["/bin/sh", "-c", "true"]), user=USER, ready_timeout=10)


@needs_root
@needs_user
def test_a_node_as_another_user_reaches_its_data_from_a_private_report(
        private: tuple[Path, Path], block: AddressBlock) -> None:
    report, state = private
    run = new_run(report / "case-001")
    rt = LocalRuntime(run)
    try:
        (node,) = rt.start([writer("n1", block.node(1))])
        for _ in range(50):
            if (node.data / "mine").exists():
                break
            time.sleep(0.1)
        assert (node.data / "mine").read_text() == "here\n"
        assert node.is_running()
        # The data is outside the user's report folder, owned by the node's user, 0700.
        assert report not in node.data.parents
        assert run.registry in node.data.parents
        st = node.data.stat()
        assert st.st_uid == pwd.getpwnam(USER).pw_uid and stat.S_IMODE(st.st_mode) == 0o700
        # The report folder was not opened; the log still ends up in the case folder.
        assert stat.S_IMODE(report.stat().st_mode) == 0o700
        assert node.log.is_relative_to(report) and "starting n1" in node.log.read_text()
        # Entering is allowed on the harness's folders above, listing is not.
        for folder in (state, state / "runs", run.registry):
            assert stat.S_IMODE(folder.stat().st_mode) & 0o007 == stat.S_IXOTH
        assert any(r["kind"] == "folder" and r["path"] == str(node.data)
                   for r in run.resources())
    finally:
        # As `sdconform cleanup` does after a killed run: the ledger stops the process, and
        # the data (in the registry) goes with the run.
        removed = clean_run(run)
    assert any("process n1" in r for r in removed)
    assert node.process is not None and node.process.wait(5) is not None
    assert not node.data.exists() and not run.registry.exists()


@needs_root
@needs_user
def test_a_state_folder_the_user_cannot_enter_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    monkeypatch.setenv("SDCONFORM_STATE", str(closed / "state"))
    run = new_run(tmp_path / "report")
    try:
        with pytest.raises(NodeStartError, match="SDCONFORM_STATE"):
            LocalRuntime(run).start([writer("n1", "127.0.0.1")])
    finally:
        run.forget()


@needs_root
@needs_user
def test_postgres_starts_and_commits_from_a_private_report_folder(
        private: tuple[Path, Path], block: AddressBlock) -> None:
    """The reported failure: every PostgreSQL case failed with "could not change directory
    ... Permission denied" under a 0700 report folder. A primary and a standby (pg_basebackup
    writes as postgres too) start there and a commit reaches the standby."""
    pg = pytest.importorskip("pytest_sdconform.backends.postgres")
    from pytest_sdconform.backends.postgres.topology import BIN

    if not (BIN / "postgres").exists():
        pytest.skip("PostgreSQL 15 is not installed (sdconform provision)")
    report, _ = private
    run: Run = new_run(report / "case-001")
    settings = pg.Settings(synchronous_commit="remote_apply")
    cluster = pg.Topology(standby=True, sync=True, settings=settings).start(run, block)
    try:
        with pg.connect(cluster.info.addresses["n1"]) as conn:
            conn.execute("INSERT INTO sets (k, v) VALUES ('private', 1)")
        with pg.connect(cluster.info.addresses["n2"]) as conn:
            rows = conn.execute("SELECT v FROM sets WHERE k = 'private'").fetchall()
        assert rows == [(1,)]  # remote_apply: replayed there before the commit returned
        for name in ("n1", "n2"):
            node = cluster.node(name)
            assert (node.data / "pgdata" / "PG_VERSION").exists()
            assert node.log.is_relative_to(report)
        assert stat.S_IMODE(report.stat().st_mode) == 0o700
    finally:
        cluster.stop()  # stops the nodes and forgets the run: the data goes with it
    assert not run.registry.exists()
