"""AWS emulated on loopback with moto's server, for processes that cannot share the tests' in-process mocks.

The server counts the API calls it answers (by X-Amz-Target), so benchmarks can report calls at the source.
"""

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from tooling.template import load_template, nested_template
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

REGION = "us-east-1"
EVENT_BUS = "terra-connect-events"  # events/env.json's EVENT_BUS_NAME
EVENT_SOURCE = "terra-connect"  # the events' source (functions/terra_connect/lifecycle_events/events.py)
LOCAL_EVENTS_QUEUE = "terra-connect-local-events"
CONNECTIONS_TABLE = "terra-connect-connections"  # events/env.json's CONNECTIONS_TABLE
DATA_PREFIX = "terra-connect"  # the data resources' local names: terra-connect-data, terra-connect-ingest, ...
# The queues data.yaml declares, by the name their URL ends with locally (the ingest function tells its queues apart
# by the end of each record's eventSourceARN). Terra's SQS destination's queue exists only with
# TerraDeliveryPrincipalArn in a deployment; locally it always does, as a queue costs nothing here.
DATA_QUEUES = {
    "ingest": "IngestQueue",
    "fetch": "FetchQueue",
    "backfill": "BackfillQueue",
    "purge": "PurgeQueue",
    "terra": "TerraDeliveryQueue",
}
# moto accepts any credentials; these only keep the SDK from looking for real ones.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline"}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class EmulatedAws:
    endpoint: str
    calls: Counter[str] = field(default_factory=Counter)  # "secretsmanager.GetSecretValue": 3

    def counting(self, app: WsgiApp) -> WsgiApp:
        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET")
            if target:
                self.calls[target] += 1
            return app(environ, start_response)

        return counted


class PortInUse(OSError):
    """Another program listens on the port a local server was asked to take."""


def bind_server(host: str, port: int, app: WsgiApp, request_handler: type[WSGIRequestHandler]) -> BaseWSGIServer:
    """A threaded WSGI server bound to host:port (0: any free port), not serving yet. A port already taken raises
    PortInUse (werkzeug itself would end the process)."""
    try:
        return make_server(host, port, app, threaded=True, request_handler=request_handler)
    except SystemExit as exited:
        raise PortInUse(f"{host}:{port} is in use by another program") from exited


@contextmanager
def emulated_aws(host: str = "127.0.0.1", port: int = 0) -> Iterator[EmulatedAws]:
    """Run moto's server on loopback until the block ends."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    aws = EmulatedAws(endpoint="")
    app = aws.counting(DomainDispatcherApplication(create_backend_app))
    server = bind_server(host, port, app, MotoRequestHandler)
    aws.endpoint = f"http://{host}:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    # moto keeps its state per process: start every emulated AWS empty, whatever ran before in this process.
    requests.post(f"{aws.endpoint}/moto-api/reset", timeout=10).raise_for_status()
    try:
        yield aws
    finally:
        server.shutdown()
        thread.join(timeout=5)


def local_client(service: str, endpoint: str | None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def seed_terra_secret(endpoint: str, credentials: dict[str, Any], name: str = "terra-connect/terra") -> str:
    """Store the Terra credentials the way the stack's secret holds them; returns the secret's ARN."""
    secret = local_client("secretsmanager", endpoint).create_secret(Name=name, SecretString=json.dumps(credentials))
    return str(secret["ARN"])


def create_connections_table(endpoint: str | None, name: str) -> None:
    """Create the connection registry exactly as template.yaml defines it (billing mode, keys and stream)."""
    properties = load_template()["Resources"]["ConnectionsTable"]["Properties"]
    local_client("dynamodb", endpoint).create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        StreamSpecification={"StreamEnabled": True, **properties["StreamSpecification"]},
    )


def create_event_sink(endpoint: str) -> str:
    """The stack's bus, and a rule sending every lifecycle event to a local queue; returns the queue's URL."""
    events, sqs = local_client("events", endpoint), local_client("sqs", endpoint)
    events.create_event_bus(Name=EVENT_BUS)
    queue = sqs.create_queue(QueueName=LOCAL_EVENTS_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="local-sink", EventBusName=EVENT_BUS, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(Rule="local-sink", EventBusName=EVENT_BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return str(queue)


@dataclass(frozen=True)
class StackResources:
    secret_arn: str
    events_queue_url: str  # where a rule on the bus delivers every lifecycle event


def create_stack_resources(endpoint: str, terra_credentials: dict[str, Any]) -> StackResources:
    """What the stack creates for its functions, in the emulated AWS: the Terra secret, the connections table
    (CONNECTIONS_TABLE) and the event bus, with a local queue behind it."""
    secret_arn = seed_terra_secret(endpoint, terra_credentials)
    create_connections_table(endpoint, CONNECTIONS_TABLE)
    return StackResources(secret_arn, create_event_sink(endpoint))


@dataclass(frozen=True)
class DataStack:
    """data.yaml's resources in an emulated account: where the data path's functions keep and carry health data."""

    bucket: str
    table: str
    idempotency_table: str
    key_id: str  # the key's ARN, as the stack's DataKeyArn output gives it
    queue_urls: dict[str, str]  # ingest, fetch, backfill, purge, terra
    dead_letter_urls: dict[str, str]

    def environment(self) -> dict[str, str]:
        """The functions' environment variables naming these resources (one name, one resource, everywhere)."""
        return {
            "DATA_BUCKET": self.bucket,
            "DATA_KEY_ID": self.key_id,
            "DATA_TABLE": self.table,
            "IDEMPOTENCY_TABLE": self.idempotency_table,
            "INGEST_QUEUE_URL": self.queue_urls["ingest"],
            "FETCH_QUEUE_URL": self.queue_urls["fetch"],
            "BACKFILL_QUEUE_URL": self.queue_urls["backfill"],
            "PURGE_QUEUE_URL": self.queue_urls["purge"],
            "TERRA_DELIVERY_QUEUE_URL": self.queue_urls["terra"],
        }

    def settings(self, parameters: dict[str, str] | None = None) -> dict[str, str]:
        """Every data variable the template's Globals give each function: these resources, and the data parameters
        (BACKFILL_DAYS, DATA_RETENTION_DAYS, PAYLOAD_URL_HOSTS, ...) at their defaults unless `parameters` (by
        parameter name, e.g. {"BackfillDays": "60"}) says otherwise."""
        template = load_template()
        variables = template["Globals"]["Function"]["Environment"]["Variables"]
        chosen = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()} | (parameters or {})
        names = self.environment()
        settings = {
            variable: chosen[value["Ref"]]
            for variable, value in variables.items()
            if variable.startswith(("DATA_", "RECORD_", "BACKFILL_", "PAYLOAD_")) and set(value) == {"Ref"}
        }
        if chosen.get("BackfillDays") == "0":
            names = {**names, "BACKFILL_QUEUE_URL": ""}  # the template's Fn::If: no backfill queue
        return settings | names


def _literal(properties: dict[str, Any], *names: str) -> dict[str, Any]:
    """Those of `names` the template sets to a plain value (a reference to another resource is resolved apart)."""
    return {name: properties[name] for name in names if name in properties}


def _create_table(dynamodb: Any, name: str, properties: dict[str, Any]) -> None:
    stream = properties.get("StreamSpecification")
    dynamodb.create_table(
        TableName=name,
        **_literal(properties, "BillingMode", "AttributeDefinitions", "KeySchema", "LocalSecondaryIndexes"),
        **({"StreamSpecification": {"StreamEnabled": True, **stream}} if stream else {}),
    )
    if "TimeToLiveSpecification" in properties:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=properties["TimeToLiveSpecification"])


def create_data_stack(endpoint: str | None = None, *, prefix: str = DATA_PREFIX) -> DataStack:
    """data.yaml's key, bucket, tables and queues, each from the properties the template gives it (moto's server at
    `endpoint`, or moto in this process when None): the bucket versioned and encrypted under the key by default, the
    data table with its by-day index, stream and TTL, the idempotency table, and each queue with its visibility,
    retention and redrive to its dead-letter queue."""
    resources = nested_template("Data")["Resources"]
    key = resources["DataKey"]["Properties"]
    kms = local_client("kms", endpoint)
    key_arn = str(kms.create_key(Description=key["Description"])["KeyMetadata"]["Arn"])
    if key.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key_arn)

    bucket, s3 = f"{prefix}-data", local_client("s3", endpoint)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration=resources["DataBucket"]["Properties"]["VersioningConfiguration"]
    )
    (rule,) = resources["DataBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    default = {**rule["ServerSideEncryptionByDefault"], "KMSMasterKeyID": key_arn}
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": rule["BucketKeyEnabled"]}]
        },
    )

    dynamodb = local_client("dynamodb", endpoint)
    table, idempotency_table = f"{prefix}-data", f"{prefix}-idempotency"
    _create_table(dynamodb, table, resources["DataTable"]["Properties"])
    _create_table(dynamodb, idempotency_table, resources["IdempotencyTable"]["Properties"])

    sqs = local_client("sqs", endpoint)
    queue_urls: dict[str, str] = {}
    dead_letter_urls: dict[str, str] = {}
    for name, logical_id in DATA_QUEUES.items():
        properties = resources[logical_id]["Properties"]
        redrive = properties["RedrivePolicy"]
        dead_letter_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        dead = sqs.create_queue(
            QueueName=f"{prefix}-{name}-dlq",
            Attributes={
                k: str(v)
                for k, v in _literal(resources[dead_letter_id]["Properties"], "MessageRetentionPeriod").items()
            },
        )["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {k: str(v) for k, v in _literal(properties, "VisibilityTimeout", "MessageRetentionPeriod").items()}
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dead_arn, "maxReceiveCount": redrive["maxReceiveCount"]}
        )
        queue_urls[name] = sqs.create_queue(QueueName=f"{prefix}-{name}", Attributes=attributes)["QueueUrl"]
        dead_letter_urls[name] = dead
    return DataStack(bucket, table, idempotency_table, key_arn, queue_urls, dead_letter_urls)
