"""--sdconform-version: a backend fetched by version runs the release asked for, recorded in the
case's configuration; one that is not fetched by version is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_sdconform.backends import cassandra as cb
from pytest_sdconform.backends import kafka as kb
from pytest_sdconform.backends import redis as rb
from pytest_sdconform.backends.kafka.topology import artifacts
from pytest_sdconform.case import Case
from pytest_sdconform.runs import new_run
from pytest_sdconform.session import Options, Session


def case(tmp_path: Path, **versions: str) -> Case:
    session = Session.create(Options(report=tmp_path / "run", versions=versions))
    return Case(session, None, None, None, "t", "case-001", tmp_path / "case",
                new_run(tmp_path / "case-run"))


def test_the_release_asked_for_replaces_the_default(tmp_path: Path) -> None:
    c = case(tmp_path, kafka="3.9.1", cassandra="5.0.2")
    assert c._in_version(kb.Topology()).describe()["kafka"] == "3.9.1"
    assert c._in_version(cb.Topology()).describe()["version"] == "5.0.2"
    assert c._in_version(kb.Topology()).version == "3.9.1"
    assert artifacts("3.9.1")[0] == "org.apache.kafka:kafka_2.13:3.9.1"
    assert case(tmp_path / "none")._in_version(kb.Topology()).version == kb.VERSION


def test_a_backend_not_fetched_by_version_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(pytest.UsageError, match="redis is not fetched by version"):
        case(tmp_path, redis="7.0")._in_version(rb.Topology())

