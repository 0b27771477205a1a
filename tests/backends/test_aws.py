"""The AWS runtimes and the guard on destructive calls, against a real moto server: the local
runtime starts it as a node; the external runtime is pointed at it through the environment
(SDCONFORM_AWS_ENDPOINT, SDCONFORM_AWS_REGION), as a user points it at an AWS account."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run

aws = pytest.importorskip("pytest_sdconform.backends.aws")
boto3 = pytest.importorskip("boto3")
from pytest_sdconform.backends.aws.client import boto  # noqa: E402
from pytest_sdconform.backends.aws.resources import TAG, NotOurs, Resources  # noqa: E402
from pytest_sdconform.faults import FaultUnavailable  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture
def moto(run: Run, block: AddressBlock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    cluster = aws.Topology().start(run, block, runtime="local")
    yield cluster
    cluster.stop()


def test_local_runtime_is_labelled_an_emulator(moto: Any) -> None:
    assert moto.info.runtime == "local" and aws.is_emulator(moto)
    assert moto.info.describe()["emulator"] is True
    assert list(moto.nodes) == ["moto"] and moto.info.moto == f"{moto.node('moto').address}:5000"
    ep = aws.endpoint(moto)
    assert ep.emulator and ep.url and ep.url.startswith("http://127.")


def test_local_client_path_goes_through_toxiproxy(moto: Any) -> None:
    path = aws.client_path(moto)  # its toxiproxy is a node of the cluster, stopped with it
    assert path.proxy is not None and path.endpoint.url != aws.endpoint(moto).url
    assert [f.name for f in path.latency_then_timeouts()] == ["latency"]
    s3 = boto("s3", path.endpoint)
    assert "Buckets" in s3.list_buckets()  # requests reach moto through the proxy


def test_clients_make_one_attempt_per_call(moto: Any) -> None:
    """A reply the proxy drops after the put was applied (a downstream timeout, healed) must
    reach the history as an unknown outcome, not be retried into a condition failure."""
    path = aws.client_path(moto)
    client = boto("dynamodb", path.endpoint, timeout=1.0)
    assert client.meta.config.retries["total_max_attempts"] == 1
    res = Resources(aws.endpoint(moto), "run-a")
    table = res.table("t")
    client.get_item(TableName=table, Key={"k": {"S": "warm"}})
    (stalled,) = path.timeouts()
    stalled.start()
    answer: dict[str, str] = {}

    def put() -> None:
        try:
            client.put_item(
                TableName=table,
                Item={"k": {"S": "a"}, "v": {"N": "1"}},
                ConditionExpression="attribute_not_exists(k)",
            )
            answer["r"] = "ok"
        except Exception as e:
            answer["r"] = type(e).__name__

    worker = threading.Thread(target=put)
    worker.start()
    time.sleep(0.3)
    stalled.stop()
    worker.join()
    direct = boto("dynamodb", aws.endpoint(moto))
    assert direct.get_item(TableName=table, Key={"k": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert answer["r"] in ("ok", "ConnectionClosedError", "ReadTimeoutError"), answer
    assert res.delete_all() == []


def test_resources_are_tagged_with_the_run_and_deleted(moto: Any) -> None:
    res = Resources(aws.endpoint(moto), "run-a")
    bucket, table = res.bucket("b"), res.table("t")
    queue, stream = res.queue("q"), res.stream("s", shards=1)
    for kind, ident in [("bucket", bucket), ("table", table), ("queue", queue), ("stream", stream)]:
        assert res.tag_of(kind, ident) == "run-a"
    assert res.delete_all() == []
    s3 = res.client("s3")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert table not in res.client("dynamodb").list_tables()["TableNames"]


def test_a_locked_bucket_of_more_versions_than_a_listing_page_is_deleted(moto: Any) -> None:
    """Over 1,000 versions under GOVERNANCE retention, plus delete markers: the cleanup must
    bypass the retention and list again after each page it deletes (moto loses its place when
    the listing goes on after a page was deleted; an s3-object-lock run of CI left a bucket)."""
    import datetime as dt

    res = Resources(aws.endpoint(moto), "run-a")
    bucket = res.bucket("locked", object_lock=True)
    s3 = res.client("s3")
    until = dt.datetime.fromtimestamp(time.time() + 600, dt.UTC)
    for i in range(1100):
        s3.put_object(Bucket=bucket, Key=f"doc{i % 2}", Body=b"v", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=until)
    s3.delete_object(Bucket=bucket, Key="doc0")  # a delete marker
    assert res.delete_all() == []
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_drain_poll_counts_the_messages_a_lost_receive_hid(moto: Any) -> None:
    """A receive nobody recorded (as one whose answer was lost) hides the message for its
    visibility timeout: a drain poll then gets nothing, and must say one is in flight."""
    from pytest_sdconform.backends.aws.messaging import SqsClient
    from pytest_sdconform.workloads import Invocation
    from pytest_sdconform.workloads.log import DRAIN

    res = Resources(aws.endpoint(moto), "run-a")
    url = res.queue("q", visibility_s=30)
    client = SqsClient(aws.endpoint(moto), {None: url})
    assert client.invoke(Invocation("send", None, 1)).type == "ok"
    assert client.invoke(Invocation("poll", None, DRAIN)).value == [[None, None, 1]]
    assert client.invoke(Invocation("poll", None, DRAIN)).extra["in_flight"] == 0
    res.client("sqs").send_message(QueueUrl=url, MessageBody="2")
    assert res.client("sqs").receive_message(QueueUrl=url)["Messages"]
    plain = client.invoke(Invocation("poll"))
    assert plain.type == "ok" and plain.value == [] and "in_flight" not in plain.extra
    drain = client.invoke(Invocation("poll", None, DRAIN))
    assert drain.type == "ok" and drain.value == [] and drain.extra["in_flight"] == 1
    client.close()
    assert res.delete_all() == []


def test_the_guard_refuses_what_another_run_or_nobody_tagged(moto: Any) -> None:
    ours = Resources(aws.endpoint(moto), "run-a")
    theirs = Resources(aws.endpoint(moto), "run-b")
    s3 = ours.client("s3")
    s3.create_bucket(Bucket="someone-elses-data")
    s3.put_object(Bucket="someone-elses-data", Key="k", Body=b"precious")
    with pytest.raises(NotOurs, match="someone-elses-data"):
        ours.delete("bucket", "someone-elses-data")
    bucket = theirs.bucket("b")
    with pytest.raises(NotOurs, match="'run-b'"):
        ours.delete("bucket", bucket)
    url = theirs.queue("q")
    with pytest.raises(NotOurs):
        ours.purge(url)
    assert s3.get_object(Bucket="someone-elses-data", Key="k")["Body"].read() == b"precious"
    assert theirs.delete_all() == []


def test_external_runtime_uses_the_environment_and_starts_nothing(
    moto: Any, run: Run, block: AddressBlock, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    url = aws.endpoint(moto).url
    monkeypatch.setenv("SDCONFORM_AWS_ENDPOINT", url)
    monkeypatch.setenv("SDCONFORM_AWS_REGION", "eu-west-1")
    from pytest_sdconform.runs import new_run

    ext_run = new_run(tmp_path / "external")
    try:
        cluster = aws.Topology().start(ext_run, block, runtime="external")
        assert cluster.nodes == {} and cluster.info.runtime == "external"
        assert aws.Topology().describe() == {}  # runtime-neutral: where it ran is the info's
        assert cluster.info.describe() == {
            "aws": "external",
            "endpoint": url,
            "region": "eu-west-1",
        }
        ep = aws.endpoint(cluster)
        assert (ep.url, ep.region, ep.emulator) == (url, "eu-west-1", False)
        with pytest.raises(FaultUnavailable):
            aws.Proxied(cluster)
        path = aws.client_path(cluster)  # straight to the service, nothing injected
        assert path.endpoint == ep and path.latency_then_timeouts() == [] and path.timeouts() == []
        assert "no fault" in path.describe()
        res = Resources(ep, ext_run.id)
        bucket = res.bucket("b")  # outside us-east-1: created with a location constraint
        tags = res.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
        assert {"Key": TAG, "Value": ext_run.id} in tags
        assert res.delete_all() == []
        cluster.stop()
    finally:
        ext_run.forget()


def test_the_topology_runs_on_both_runtimes_and_starts_moto_only_locally() -> None:
    topology = aws.Topology()
    assert topology.runtimes == ("local", "external")
    assert topology.node_names("local") == ["moto"] and topology.node_names("external") == []
