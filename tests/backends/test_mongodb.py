"""MongoDB without a server: what can be right by construction is tested here (the replica set's
configuration, the connection strings, the error mapping, the judge, the skip); the suite runs
wherever mongod is (suites/mongodb)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pymongo.errors import (
    AutoReconnect,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteConcernError,
    WTimeoutError,
)

from pytest_sdconform.backends import mongodb as mb
from pytest_sdconform.backends.mongodb.judges import EveryNodeTakesWrites
from pytest_sdconform.checkers.judge import REFUTED, UPHELD
from pytest_sdconform.history import History, Operation
from pytest_sdconform.images import tag
from pytest_sdconform.nodes.addresses import allocate
from pytest_sdconform.runs import new_run
from pytest_sdconform.runtimes import RuntimeUnsupported

MEMBERS = {"m1": "127.0.3.2", "m2": "127.0.3.3", "m3": "127.0.3.4"}
INFO = mb.MongoInfo(MEMBERS, "sdconform_run")


def test_the_replica_set_document_names_each_member_its_priority_and_the_timing() -> None:
    topology = mb.Topology()
    config = mb.replica_set_config(MEMBERS, topology.priority_of())
    assert config["_id"] == "rs0"
    assert config["members"] == [
        {"_id": 0, "host": "127.0.3.2:27017", "priority": 2},
        {"_id": 1, "host": "127.0.3.3:27017", "priority": 1},
        {"_id": 2, "host": "127.0.3.4:27017", "priority": 1}]
    assert config["settings"] == {"electionTimeoutMillis": 2000, "heartbeatIntervalMillis": 500,
                                  "catchUpTimeoutMillis": 2000}
    assert mb.Topology(priorities={"m3": 5}).priority_of() == {"m1": 2, "m2": 1, "m3": 5}
    assert mb.Topology(members=1).node_names("local") == ["m1"]
    assert mb.Topology().node_names("external") == []


@pytest.mark.parametrize("kw, why", [({"members": 0}, "at least one member"),
                                     ({"priorities": {"m9": 1}}, "do not exist")])
def test_a_topology_that_cannot_be_says_why(kw: dict, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        mb.Topology(**kw)


def test_the_failover_bound_comes_from_the_election_settings() -> None:
    # two election timeouts with their largest offset (2 x 2.3 s), two heartbeats, the
    # catch-up and one client server check
    assert mb.failover_bound_s() == pytest.approx(4.6 + 1.0 + 2.0 + 0.5)


def test_member_spec_runs_mongod_in_its_own_folder_without_a_shared_socket() -> None:
    spec = mb.member_spec("m1", "127.0.3.2", "/opt/mongod")
    assert spec.command[:3] == ["/opt/mongod", "--replSet", "rs0"]
    at = spec.command.index("--dbpath")
    assert "--nounixsocket" in spec.command and spec.command[at:at + 2] == ["--dbpath", "."]
    assert spec.image == "mongodb" and spec.ports == [27017]


def query(uri: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(uri).query).items()}


def test_the_uri_turns_retries_off_and_carries_the_concerns() -> None:
    uri = mb.uri(INFO, mb.Concerns(w=1, read="local", read_preference="secondary"))
    assert uri.startswith("mongodb://127.0.3.2:27017,127.0.3.3:27017,127.0.3.4:27017/?")
    q = query(uri)
    assert q["replicaSet"] == "rs0"
    assert (q["retryWrites"], q["retryReads"]) == ("false", "false")
    assert (q["w"], q["readConcernLevel"], q["readPreference"]) == ("1", "local", "secondary")
    assert q["heartbeatFrequencyMS"] == "500"


def test_a_member_alone_is_a_direct_connection() -> None:
    uri = mb.uri(INFO, mb.Concerns(), member="m2")
    assert uri.startswith("mongodb://127.0.3.3:27017/?")
    assert query(uri)["directConnection"] == "true" and "replicaSet" not in query(uri)


def test_the_external_uri_keeps_its_own_settings_under_ours() -> None:
    info = mb.MongoInfo({}, "sdconform_run",
                        uri="mongodb+srv://u:p@db.example.net/?tls=true&retryWrites=true")
    uri = mb.uri(info, mb.Concerns())
    assert uri.startswith("mongodb+srv://u:p@db.example.net/?")
    q = query(uri)
    assert q["tls"] == "true" and q["retryWrites"] == "false" and q["w"] == "majority"


@pytest.mark.parametrize("kw, why", [
    ({"read": "linearizable", "read_preference": "secondary"}, "primary only"),
    ({"read": "strong"}, "read concern"),
    ({"w": "all"}, "write concern"),
    ({"read_preference": "closest"}, "read preference"),
])
def test_concerns_that_mongodb_refuses_are_refused_here(kw: dict, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        mb.Concerns(**kw)


@pytest.mark.parametrize("error, expected", [
    (ServerSelectionTimeoutError("no primary"), "fail"),  # nothing was sent
    (NotPrimaryError("not primary", {"code": 10107}), "fail"),  # refused up front
    (OperationFailure("dup", 11000), "fail"),
    (OperationFailure("aborted", 251, {"errorLabels": ["TransientTransactionError"]}), "fail"),
    (WriteConcernError("waiting for replication timed out", 64), "info"),  # applied, unacked
    (WTimeoutError("wtimeout", 64), "info"),
    (NotPrimaryError("interrupted", {"code": 11602}), "info"),  # stepped down mid-operation
    (OperationFailure("stepped down", 189), "info"),
    (OperationFailure("commit?", 50, {"errorLabels": ["UnknownTransactionCommitResult"]}),
     "info"),
    (AutoReconnect("connection closed"), "info"),
    (NetworkTimeout("timed out"), "info"),
    (RuntimeError("anything else"), "info"),
])
def test_write_errors_are_fail_only_when_the_write_surely_did_not_happen(
        error: BaseException, expected: str) -> None:
    assert mb.outcome_of(error, changes=True) == expected


def test_a_read_that_failed_changed_nothing() -> None:
    assert mb.outcome_of(NetworkTimeout("timed out"), changes=False) == "fail"


def test_the_docker_role_is_the_pinned_official_image() -> None:
    assert tag("mongodb") == mb.IMAGE == "mongo:7.0.14"


def test_without_mongod_the_local_runtime_skips_saying_what_it_needs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SDCONFORM_MONGOD", raising=False)
    assert mb.provision().startswith("no mongod here")
    block = allocate()
    try:
        with pytest.raises(RuntimeUnsupported, match="needs mongod: on the PATH"):
            mb.Topology().start(new_run(tmp_path, "t-mongo"), block)
        with pytest.raises(RuntimeUnsupported, match="SDCONFORM_MONGODB_URI is not set"):
            mb.Topology().start(new_run(tmp_path, "t-mongo2"), block, runtime="external")
    finally:
        block.release()


def writes(*answers: tuple[str, str]) -> History:
    """One write per (member, outcome), each by a process of its own."""
    ops: list[Operation] = []
    for p, (node, typ) in enumerate(answers):
        ops.append(Operation(len(ops), len(ops), p, "invoke", "write", "k", p))
        ops.append(Operation(len(ops), len(ops), p, typ, "write", "k", p, node=node))
    return History(ops)


JUDGE = EveryNodeTakesWrites(("m1", "m2", "m3"))


def test_members_that_refuse_every_write_refute_the_any_node_claim() -> None:
    h = writes(("m1", "ok"), ("m2", "fail"), ("m3", "fail"), ("m2", "fail"))
    assert JUDGE.exercised(h, {}).done
    ruling = JUDGE.rule(h, {})
    assert ruling.outcome == REFUTED and "m2, m3 refused every write" in ruling.reason
    assert {a.kind for a in ruling.anomalies} == {"write-refused"}


def test_every_member_taking_writes_upholds_it_and_a_silent_member_is_not_exercised() -> None:
    h = writes(("m1", "ok"), ("m2", "ok"), ("m3", "ok"), ("m3", "info"))
    assert JUDGE.rule(h, {}).outcome == UPHELD
    silent = writes(("m1", "ok"), ("m2", "fail"))
    assert not JUDGE.exercised(silent, {}).done
    assert "m3" in JUDGE.exercised(silent, {}).why


def test_sdconform_provision_says_there_is_no_mongod_rather_than_ready(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_sdconform.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SDCONFORM_MONGOD", raising=False)
    assert main(["provision", "mongodb"]) == 0
    assert capsys.readouterr().out.startswith("mongodb: no mongod here (needs mongod")
