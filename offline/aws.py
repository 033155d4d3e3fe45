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
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from offline.template import load_template

REGION = "us-east-1"
EVENT_BUS = "terra-connect-events"  # events/env.json's EVENT_BUS_NAME
EVENT_SOURCE = "terra-connect"  # the events' source (functions/terra_connect/lifecycle_events/events.py)
LOCAL_EVENTS_QUEUE = "terra-connect-local-events"
CONNECTIONS_TABLE = "terra-connect-connections"  # events/env.json's CONNECTIONS_TABLE
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


def _client(service: str, endpoint: str | None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def seed_terra_secret(endpoint: str, credentials: dict[str, Any], name: str = "terra-connect/terra") -> str:
    """Store the Terra credentials the way the stack's secret holds them; returns the secret's ARN."""
    secret = _client("secretsmanager", endpoint).create_secret(Name=name, SecretString=json.dumps(credentials))
    return str(secret["ARN"])


def create_connections_table(endpoint: str | None, name: str) -> None:
    """Create the connection registry exactly as template.yaml defines it (billing mode, keys and stream)."""
    properties = load_template()["Resources"]["ConnectionsTable"]["Properties"]
    _client("dynamodb", endpoint).create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        StreamSpecification={"StreamEnabled": True, **properties["StreamSpecification"]},
    )


def create_event_sink(endpoint: str) -> str:
    """The stack's bus, and a rule sending every lifecycle event to a local queue; returns the queue's URL."""
    events, sqs = _client("events", endpoint), _client("sqs", endpoint)
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
