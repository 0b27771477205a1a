"""What every AWS case shares: the endpoint (moto started for the case, or the environment's
AWS account with SDCONFORM_AWS_RUNTIME=external) and the case's own tagged resources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_sdconform.backends import aws
from pytest_sdconform.backends.aws.resources import Resources


@pytest.fixture
def env(sdconform: Any) -> Iterator[tuple[Any, Resources]]:
    """A cluster (moto, or the environment's AWS) and this case's tagged resources, deleted
    when the case ends (a resource that cannot be deleted fails the case's teardown)."""
    cluster = sdconform.start(aws.Topology())
    resources = Resources(aws.endpoint(cluster), cluster.info["run_id"])
    yield cluster, resources
    problems = resources.delete_all()
    assert not problems, f"could not delete: {problems}"


@pytest.fixture
def path(sdconform: Any, env: tuple[Any, Resources]) -> aws.ClientPath:
    """The clients' path to the service and the faults it can carry (none on the external
    runtime: the case then runs without injected faults)."""
    cluster, _ = env
    made: aws.ClientPath = sdconform.fault(lambda: aws.client_path(cluster))
    return made
