"""The tables, buckets, queues, topics and streams a case creates, tagged with its run, and
a guard that refuses to delete or purge anything without that tag.

Against moto nothing else exists; against a real account the guard is what stands between a
suite and someone's data: every resource is created with the tag ``sdconform-run=<run id>``,
and ``delete_all`` and ``purge`` read the tag back from AWS before they act.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...cluster import Cluster
from .client import boto
from .topology import AwsInfo, Endpoint

TAG = "sdconform-run"


class NotOurs(RuntimeError):
    """A destructive call was refused: the resource does not carry this run's tag."""


@dataclass
class Resources:
    ep: Endpoint
    run_id: str
    created: list[tuple[str, str]] = field(default_factory=list)  # (kind, id), in order
    _clients: dict[str, Any] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)  # buckets with Object Lock on

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto(service, self.ep, timeout=10)
        return self._clients[service]

    def name(self, base: str) -> str:
        """A name unique to this run, valid for every service (lower case, digits, dashes)."""
        return f"sdc-{hashlib.sha1(self.run_id.encode()).hexdigest()[:10]}-{base}"

    # --- create ---------------------------------------------------------------------------

    def table(self, base: str, **extra: Any) -> str:
        """A table keyed by ``k`` (string); ``extra``: more of CreateTable's arguments (indexes,
        a stream), with any ``AttributeDefinitions`` added to ``k``'s and any ``KeySchema``
        replacing the hash key alone."""
        name = self.name(base)
        ddb = self.client("dynamodb")
        attrs = [{"AttributeName": "k", "AttributeType": "S"}, *extra.pop(
            "AttributeDefinitions", [])]
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=attrs,
            KeySchema=extra.pop("KeySchema", [{"AttributeName": "k", "KeyType": "HASH"}]),
            Tags=[{"Key": TAG, "Value": self.run_id}],
            **extra,
        )
        self.created.append(("table", name))
        ddb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        return name

    def bucket(self, base: str, versioned: bool = False, object_lock: bool = False) -> str:
        """``object_lock``: created with Object Lock on (and so versioned); the objects of
        such a bucket are put with a GOVERNANCE retention, which this run's deletion bypasses
        (``_delete_bucket``), never COMPLIANCE, which nobody could."""
        name = self.name(base)
        s3 = self.client("s3")
        kw: dict[str, Any] = {}
        if self.ep.region != "us-east-1":
            kw["CreateBucketConfiguration"] = {"LocationConstraint": self.ep.region}
        if object_lock:
            kw["ObjectLockEnabledForBucket"] = True
            self.locked.add(name)
        s3.create_bucket(Bucket=name, **kw)
        self.created.append(("bucket", name))
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": TAG, "Value": self.run_id}]})
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def queue(
        self,
        base: str,
        fifo: bool = False,
        visibility_s: int = 30,
        dead_letter: tuple[str, int] | None = None,
        **attributes: int | str,
    ) -> str:
        """A queue's URL. ``dead_letter``: (the DLQ's URL, maxReceiveCount); ``attributes``:
        more queue attributes (``DelaySeconds=2``...)."""
        sqs = self.client("sqs")
        attrs = {"VisibilityTimeout": str(visibility_s), **{k: str(v) for k, v in
                                                             attributes.items()}}
        name = self.name(base)
        if fifo:
            name += ".fifo"
            attrs["FifoQueue"] = "true"
        if dead_letter is not None:
            dlq_arn = self.queue_arn(dead_letter[0])
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(dead_letter[1])}
            )
        url = str(
            sqs.create_queue(QueueName=name, Attributes=attrs, tags={TAG: self.run_id})["QueueUrl"]
        )
        self.created.append(("queue", url))
        return url

    def queue_arn(self, url: str) -> str:
        return str(
            self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        )

    def topic(
        self,
        base: str,
        subscribers: list[str],
        fifo: bool = False,
        filters: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        """A topic (its ARN) with each queue URL subscribed, raw delivery: the queues get the
        published message itself, not SNS's JSON envelope. ``fifo``: a FIFO topic (its
        subscribers FIFO queues); ``filters``: a queue URL's filter policy."""
        sns = self.client("sns")
        name, kw = self.name(base), {}
        if fifo:
            name += ".fifo"
            kw["Attributes"] = {"FifoTopic": "true", "ContentBasedDeduplication": "false"}
        arn = str(
            sns.create_topic(Name=name, Tags=[{"Key": TAG, "Value": self.run_id}], **kw)[
                "TopicArn"
            ]
        )
        self.created.append(("topic", arn))
        for url in subscribers:
            self.allow_topic(url, arn)
            attrs = {"RawMessageDelivery": "true"}
            if filters and url in filters:
                attrs["FilterPolicy"] = json.dumps(filters[url])
            sns.subscribe(
                TopicArn=arn, Protocol="sqs", Endpoint=self.queue_arn(url), Attributes=attrs
            )
        return arn

    def allow_topic(self, url: str, topic_arn: str) -> None:
        """The queue's access policy lets the topic send to it (a real account delivers
        nothing to a queue without one; moto does not check)."""
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": self.queue_arn(url),
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}
        self.client("sqs").set_queue_attributes(QueueUrl=url,
                                                Attributes={"Policy": json.dumps(policy)})

    def stream(self, base: str, shards: int = 2) -> str:
        kin = self.client("kinesis")
        name = self.name(base)
        kin.create_stream(StreamName=name, ShardCount=shards)
        self.created.append(("stream", name))
        kin.get_waiter("stream_exists").wait(
            StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        kin.add_tags_to_stream(StreamName=name, Tags={TAG: self.run_id})
        return name

    # --- the guard ------------------------------------------------------------------------

    def tag_of(self, kind: str, ident: str) -> str | None:
        """This resource's ``sdconform-run`` tag as AWS has it now (None: untagged)."""
        if kind == "table":
            ddb = self.client("dynamodb")
            arn = ddb.describe_table(TableName=ident)["Table"]["TableArn"]
            tags = {
                t["Key"]: t["Value"]
                for t in ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
            }
        elif kind == "bucket":
            try:
                tagset = self.client("s3").get_bucket_tagging(Bucket=ident)["TagSet"]
            except self.client("s3").exceptions.ClientError:
                return None  # NoSuchTagSet
            tags = {t["Key"]: t["Value"] for t in tagset}
        elif kind == "queue":
            tags = self.client("sqs").list_queue_tags(QueueUrl=ident).get("Tags", {})
        elif kind == "topic":
            tags = {
                t["Key"]: t["Value"]
                for t in self.client("sns")
                .list_tags_for_resource(ResourceArn=ident)
                .get("Tags", [])
            }
        elif kind == "stream":
            tags = {
                t["Key"]: t["Value"]
                for t in self.client("kinesis")
                .list_tags_for_stream(StreamName=ident)
                .get("Tags", [])
            }
        else:
            raise ValueError(f"unknown resource kind {kind}")
        return tags.get(TAG)

    def check_ours(self, kind: str, ident: str) -> None:
        tag = self.tag_of(kind, ident)
        if tag != self.run_id:
            raise NotOurs(
                f"refusing to delete or purge {kind} {ident}: its {TAG} tag is "
                f"{tag!r}, not this run's {self.run_id!r}"
            )

    def purge(self, url: str) -> None:
        self.check_ours("queue", url)
        self.client("sqs").purge_queue(QueueUrl=url)

    def delete(self, kind: str, ident: str) -> None:
        self.check_ours(kind, ident)
        deleters: dict[str, Callable[[str], Any]] = {
            "table": lambda i: self.client("dynamodb").delete_table(TableName=i),
            "bucket": self._delete_bucket,
            "queue": lambda i: self.client("sqs").delete_queue(QueueUrl=i),
            "topic": lambda i: self.client("sns").delete_topic(TopicArn=i),
            "stream": lambda i: self.client("kinesis").delete_stream(
                StreamName=i, EnforceConsumerDeletion=True
            ),
        }
        deleters[kind](ident)

    def _delete_bucket(self, name: str) -> None:
        """Delete every version and delete marker, then the bucket. Each round lists from the
        start: paging on after deleting a page loses its place (moto's next page came back
        empty with 500 versions left), so the listing is begun again until it is empty."""
        s3 = self.client("s3")
        # an object-locked bucket's versions are under GOVERNANCE retention only
        bypass = {"BypassGovernanceRetention": True} if name in self.locked else {}
        before: list[dict[str, str]] = []
        while True:
            page = s3.list_object_versions(Bucket=name)
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if not objects:
                break
            if objects == before:
                raise RuntimeError(f"{len(objects)} versions still listed after their deletion")
            before = objects
            answer = s3.delete_objects(
                Bucket=name, Delete={"Objects": objects, "Quiet": True}, **bypass)
            if answer.get("Errors"):
                e = answer["Errors"][0]
                raise RuntimeError(f"{len(answer['Errors'])} versions not deleted, e.g. "
                                   f"{e.get('Key')} {e.get('VersionId')}: {e.get('Code')}")
        s3.delete_bucket(Bucket=name)

    def delete_all(self) -> list[str]:
        """Delete what this run created, newest first; returns what could not be (and why)."""
        problems = []
        while self.created:
            kind, ident = self.created.pop()
            try:
                self.delete(kind, ident)
            except Exception as e:  # keep going: one stuck resource must not strand the rest
                problems.append(f"{kind} {ident}: {type(e).__name__}: {e}")
        for c in self._clients.values():
            c.close()
        self._clients.clear()
        return problems


# What an AWS suite's case works with: its cluster, and the resources it created.
Env = tuple[Cluster[AwsInfo], Resources]
