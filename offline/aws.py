"""AWS emulated on loopback with moto's server, for processes that cannot share the tests' in-process mocks."""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
# moto accepts any credentials; these only keep the SDK from looking for real ones.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline"}


@contextmanager
def emulated_aws(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run moto's server on loopback; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    try:
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.stop()


def seed_terra_secret(endpoint: str, credentials: dict[str, Any], name: str = "terra-connect/terra") -> str:
    """Store the Terra credentials the way the stack's secret holds them; returns the secret's ARN."""
    client = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return str(client.create_secret(Name=name, SecretString=json.dumps(credentials))["ARN"])
