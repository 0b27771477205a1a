"""What every AWS case shares: the endpoint (moto started for the case, or the environment's
AWS account with ``--sdconform-runtime external``) and the case's own tagged resources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws import Env, Resources
from pytest_sdconform.case import Case


@pytest.fixture
def env(sdconform: Case) -> Iterator[Env]:
    """A cluster (moto, or the environment's AWS) and this case's tagged resources, deleted
    when the case ends (a resource that cannot be deleted fails the case's teardown). The
    case's report shows where the services ran (``AwsInfo.describe``)."""
    cluster = sdconform.start(aws.Topology())
    sdconform.config.update(cluster.info.describe())
    resources = Resources(aws.endpoint(cluster), cluster.info.run_id)
    yield cluster, resources
    problems = resources.delete_all()
    assert not problems, f"could not delete: {problems}"


@pytest.fixture
def path(sdconform: Case, env: Env) -> aws.ClientPath:
    """The clients' path to the service and the faults it can carry (none on the external
    runtime: the case then runs without injected faults)."""
    cluster, _ = env
    return sdconform.fault(lambda: aws.client_path(cluster))
