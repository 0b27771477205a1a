"""What the AWS clients of the new claims record, without a server: a refusal AWS sent back
(a 4xx client error) is ``answered``, a server error or a connection failure is not (the
judges of what a service accepts count only answers)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from pytest_sdconform.backends.aws.client import Answering
from pytest_sdconform.workloads import Invocation, Result


class Raising(Answering):
    service = "sqs"
    reads: frozenset[str] = frozenset(("read",))

    def __init__(self, error: Exception) -> None:  # no boto3 client: call() only raises
        self.error = error

    def call(self, op: Invocation) -> Result:
        raise self.error


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "SetQueueAttributes")


@pytest.mark.parametrize("f", ["read", "set"])
def test_a_client_error_is_an_answer(f: str) -> None:
    r = Raising(client_error("InvalidAttributeValue", 400)).invoke(Invocation(f))
    assert (r.type, r.error, r.extra) == ("fail", "InvalidAttributeValue", {"answered": True})


def test_a_server_error_is_no_answer() -> None:
    read = Raising(client_error("InternalError", 500)).invoke(Invocation("read"))
    assert read.type == "fail" and not (read.extra or {}).get("answered")
    write = Raising(client_error("InternalError", 500)).invoke(Invocation("set"))
    assert write.type == "info" and not (write.extra or {}).get("answered")


def test_a_connection_failure_is_no_answer() -> None:
    r = Raising(EndpointConnectionError(endpoint_url="http://x")).invoke(Invocation("set"))
    assert r.type == "fail" and not (r.extra or {}).get("answered")
