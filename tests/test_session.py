"""The session: shared clusters live beside the cases' own clusters without colliding."""

from __future__ import annotations

from pathlib import Path

from pytest_sdconform.session import Options, Session, suite_of


class Recording:
    """A topology that only records the address block it was started on."""

    backend = "fake"

    def __init__(self, name: str):
        self.name = name

    def describe(self) -> dict[str, str]:
        return {"name": self.name}

    def start(self, run: object, block: object, **options: object) -> object:
        topology = self

        class Started:
            stopped = False

            def stop(self) -> None:
                self.stopped = True
                topology.stops += 1

        started = Started()
        started.block = block  # type: ignore[attr-defined]
        started.run = run  # type: ignore[attr-defined]
        return started

    stops = 0


def test_each_shared_cluster_has_an_address_block_of_its_own(tmp_path: Path) -> None:
    """A case's own cluster (on the session's block) must not collide with a shared one."""
    session = Session.create(Options(report=tmp_path / "run"))
    a = session.shared_cluster(Recording("a"))  # type: ignore[arg-type]
    b = session.shared_cluster(Recording("b"))  # type: ignore[arg-type]
    assert session.shared_cluster(Recording("a")) is a  # type: ignore[arg-type]
    prefixes = {a.block.prefix, b.block.prefix, session.block.prefix}  # type: ignore[attr-defined]
    assert len(prefixes) == 3
    session.close()


def test_a_shared_cluster_stops_when_the_session_leaves_the_suites_that_used_it(
        tmp_path: Path) -> None:
    """A run over every suite must not hold every suite's JVM cluster until its end."""
    session = Session.create(Options(report=tmp_path / "run"))
    kafka, both = Recording("kafka"), Recording("both")
    k = session.shared_cluster(kafka, suite="suites/kafka")  # type: ignore[arg-type]
    b = session.shared_cluster(both, suite="suites/kafka")  # type: ignore[arg-type]
    assert session.shared_cluster(both, suite="suites/pipelines") is b  # type: ignore[arg-type]
    session.leave_suite("suites/kafka", "suites/pipelines")
    assert k.stopped and not b.stopped  # type: ignore[attr-defined]
    again = session.shared_cluster(kafka, suite="suites/pipelines")  # type: ignore[arg-type]
    assert again is not k and not again.stopped  # type: ignore[attr-defined]
    # a fresh folder of its own, not the stopped cluster's
    assert again.run.folder != k.run.folder  # type: ignore[attr-defined]
    session.leave_suite("suites/pipelines", None)
    assert b.stopped and again.stopped  # type: ignore[attr-defined]
    session.close()
    assert kafka.stops == 2 and both.stops == 1  # nothing stopped twice


def test_a_tests_suite_is_its_folder() -> None:
    assert suite_of("suites/kafka/test_kafka.py::test_x[1]") == "suites/kafka"
    assert suite_of("test_top.py::t") == ""
