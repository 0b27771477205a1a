"""AWS services (DynamoDB, S3, SQS, SNS, Kinesis): where they run, the faults on the clients'
path to them, boto3 clients, and the resources a case creates.

On the session's runtime (``--sdconform-runtime``):

- ``local``: moto's server (``moto[server]``, pinned in the ``aws`` extra) as a node of the
  local runtime, serving one request at a time (``topology.SERIAL_SERVER``: threaded moto races
  its conditional writes). A case about a claim moto cannot exhibit (replication lag, eventual
  consistency, an availability zone's loss) passes ``emulator_limit=`` (why) on this runtime, so
  that it comes out ``inconclusive (emulator)``; the catalogue's expected outcome stays what
  real AWS does.
- ``external``: real AWS (``SDCONFORM_AWS_ENDPOINT`` unset: the default endpoints and the
  default credential chain) or the endpoint it names; ``SDCONFORM_AWS_REGION`` (default
  us-east-1). Nothing is started, no fault reaches the path, and every resource a case creates
  is tagged ``sdconform-run=<run id>``: deletes and purges refuse a resource without that tag.

What is where: ``topology.py`` (the Topology, ``AwsInfo``, moto's node, the clients'
``Endpoint``); ``faults.py`` (``client_path``: toxiproxy in front of moto, latency and
timeouts); ``client.py`` (boto3 without retries; DynamoDB and S3 clients); ``messaging.py``
(SQS, SNS, Kinesis clients); ``resources.py`` (the run-tagged resources and the guard);
``judges/`` (the judges of the AWS claims).
"""

from .client import BotoClient, DynamoRegister, DynamoTransfers, S3Register, S3Versions, boto
from .faults import ClientPath, ConsumerOutage, Proxied, client_path
from .messaging import KinesisClient, SnsClient, SqsClient
from .resources import TAG, Env, NotOurs, Resources
from .topology import (
    DEFAULT_REGION,
    EXTERNAL,
    LOCAL,
    PORT,
    AwsInfo,
    Endpoint,
    Topology,
    endpoint,
    is_emulator,
    moto_spec,
    provision,
    region,
    reset,
)

__all__ = [
    "DEFAULT_REGION",
    "EXTERNAL",
    "LOCAL",
    "PORT",
    "TAG",
    "AwsInfo",
    "BotoClient",
    "ClientPath",
    "ConsumerOutage",
    "DynamoRegister",
    "DynamoTransfers",
    "Endpoint",
    "Env",
    "KinesisClient",
    "NotOurs",
    "Proxied",
    "Resources",
    "S3Register",
    "S3Versions",
    "SnsClient",
    "SqsClient",
    "Topology",
    "boto",
    "client_path",
    "endpoint",
    "is_emulator",
    "moto_spec",
    "provision",
    "region",
    "reset",
]
