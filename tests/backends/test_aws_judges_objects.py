"""The S3 object judges (judges/objects.py) on synthetic histories: one that violates the
claim (refuted), one where the behaviour was never exercised (inconclusive through
outcome.decide), one that holds (upheld)."""

from __future__ import annotations

from pytest_sdconform.backends.aws import judges
from pytest_sdconform.outcome import INCONCLUSIVE, REFUTED, UPHELD
from tests.backends.test_aws_judges import H, outcome

# --- Object Lock -------------------------------------------------------------------------------


def locked(delete: str = "fail", read_back: int = 1, locked_for: float = 500.0) -> H:
    h = H().op(1, "put", "doc0", 1, 0.0, 0.1, version="v1", retain_until=1e10)
    if delete == "fail":
        h.op(2, "delete", "doc0", None, 0.2, 0.3, typ="fail", error="AccessDenied",
             answered=True, version="v1", locked_for_s=locked_for)
    elif delete == "ok":
        h.op(2, "delete", "doc0", None, 0.2, 0.3, version="v1", locked_for_s=locked_for)
    return h.op(3, "read", "doc0", None, 1.0, 1.1, result=[["v1", read_back]], final=True)


def test_object_locked_refutes_a_locked_version_deleted() -> None:
    o, reason = outcome(judges.ObjectLocked(), locked(delete="ok").build())
    assert o == REFUTED and "deletes of versions under retention were acknowledged" in reason


def test_object_locked_refutes_a_locked_version_changed() -> None:
    o, reason = outcome(judges.ObjectLocked(), locked(read_back=2).build())
    assert o == REFUTED and "wrote 1, read 2" in reason


def test_object_locked_counts_only_deletes_inside_the_retention() -> None:
    o, reason = outcome(judges.ObjectLocked(), locked(delete="ok", locked_for=-1).build())
    assert o == INCONCLUSIVE and "0 deletes of locked versions" in reason


def test_object_locked_upholds_refused_deletes() -> None:
    o, reason = outcome(judges.ObjectLocked(), locked().build())
    assert o == UPHELD and "refused (AccessDenied)" in reason


# --- whole objects ------------------------------------------------------------------------------


def blobs(read: object, overlap: bool = True) -> H:
    h = H().op(1, "write", "k0", 1, 0.0, 0.1)
    start = 0.5 if overlap else 2.0
    h.op(1, "write", "k0", 2, start, start + 1.0)
    return h.op(2, "read", "k0", None, 1.0, 1.2, result=read, pieces=["00000001", "00000002"],
                bytes=1024)


def test_not_torn_refutes_a_torn_read() -> None:
    o, reason = outcome(judges.NotTorn(), blobs("torn").build())
    assert o == REFUTED and "torn object" in reason


def test_not_torn_refutes_a_value_never_written() -> None:
    assert outcome(judges.NotTorn(), blobs(7).build())[0] == REFUTED


def test_not_torn_needs_a_read_concurrent_with_another_write() -> None:
    o, reason = outcome(judges.NotTorn(), blobs(1, overlap=False).build())
    assert o == INCONCLUSIVE and "0 reads overlapped" in reason


def test_not_torn_upholds_whole_reads() -> None:
    assert outcome(judges.NotTorn(), blobs(1).build())[0] == UPHELD


# --- multipart uploads resumed ------------------------------------------------------------------


def upload(listed: dict[str, str], sha_ok: bool = True, killed: bool = True) -> H:
    return H().op(1, "upload", None, 1, 0.0, 2.0, acked={"1": '"e1"'}, listed=listed,
                  resumed=[2, 3], killed=killed, sha_ok=sha_ok)


def test_resumed_refutes_an_acknowledged_part_missing_after_the_crash() -> None:
    o, reason = outcome(judges.Resumed(), upload({}).build())
    assert o == REFUTED and "without parts acknowledged before the crash" in reason


def test_resumed_refutes_an_object_that_is_not_byte_exact() -> None:
    o, reason = outcome(judges.Resumed(), upload({"1": '"e1"'}, sha_ok=False).build())
    assert o == REFUTED and "differ from the bytes uploaded" in reason


def test_resumed_needs_a_client_killed_part_way() -> None:
    o, reason = outcome(judges.Resumed(), upload({"1": '"e1"'}, killed=False).build())
    assert o == INCONCLUSIVE and "0 of 1 uploads killed" in reason


def test_resumed_upholds_an_upload_completed_from_where_it_stopped() -> None:
    assert outcome(judges.Resumed(), upload({"1": '"e1"'}).build())[0] == UPHELD
