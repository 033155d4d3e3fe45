"""Fixtures every tier shares: emulated AWS and Terra, the functions' settings, and each function's real handler."""

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import responses
from botocore.client import BaseClient
from local.aws import DataStack, create_connections_table, create_data_stack
from moto import mock_aws

from tests.support.builders import (
    API_KEY,
    DEV_ID,
    INTEGRATIONS,
    INTEGRATIONS_URL,
    ROTATED_API_KEY,
    SDK_TOKEN,
    SIGNING_SECRET,
    WIDGET_URL,
    ApiAnswer,
    AwsCalls,
    FakeLambdaContext,
    load_event,
)

# Fake AWS credentials and Powertools settings, set before any test imports the function's code.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "terra-connect",
        "POWERTOOLS_METRICS_NAMESPACE": "TerraConnect",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }
)
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
    os.environ.pop(name, None)

# Values that must never appear in a log line: the Terra credentials, the caller's token, a widget URL.
NEVER_LOGGED = (
    DEV_ID,
    SIGNING_SECRET,
    API_KEY,
    ROTATED_API_KEY,
    load_event("widget-session.json")["headers"]["authorization"].removeprefix("Bearer "),
    "6a1f0c2e-secret-session-token",
    SDK_TOKEN,
)
# Loggers of the test tools themselves (moto logs the secrets it stores), not of the product.
TOOL_LOGGERS = ("moto", "werkzeug", "responses", "hypothesis", "schemathesis")

ALLOWED_REDIRECTS = "myapp://terra,https://app.example.com/terra"
SECRET = {"dev_id": DEV_ID, "api_key": API_KEY, "webhook_signing_secret": SIGNING_SECRET}
TABLE = "terra-connect-connections"


@pytest.fixture(autouse=True)
def no_secret_is_ever_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test doubles as a log sweep: no record the product emits, extras included, holds a secret."""
    caplog.set_level(logging.DEBUG)
    yield
    records = [r for r in caplog.get_records("call") if not r.name.startswith(TOOL_LOGGERS)]
    text = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in records)
    leaked = [secret for secret in NEVER_LOGGED if secret in text]
    assert not leaked, f"secrets in the logs: {leaked}"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def secret_arn(aws: None) -> str:
    client = boto3.client("secretsmanager")
    return client.create_secret(Name="terra-connect/terra", SecretString=json.dumps(SECRET))["ARN"]


@pytest.fixture
def aws_calls(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    """Records AWS calls made after the test's own set-up (the secret already exists)."""
    recorder = AwsCalls()
    original = BaseClient.__dict__["_make_api_call"]  # the one method every botocore API call goes through

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        recorder.operations.append(operation)
        if operation in recorder.failures:
            raise recorder.failures[operation]
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return recorder


@pytest.fixture
def terra() -> Iterator[responses.RequestsMock]:
    """Terra stand-in: any request not registered by the test fails, so nothing leaves the process. The account's
    integrations are answered (the custom-UI route checks a provider against them)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(INTEGRATIONS_URL, json=INTEGRATIONS)
        yield mock


@pytest.fixture
def table(aws: None) -> str:
    create_connections_table(None, TABLE)
    return TABLE


@pytest.fixture
def settings_env(secret_arn: str, table: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "TERRA_SECRET_ARN": secret_arn,
        "CONNECTIONS_TABLE": table,
        "TERRA_WIDGET_SESSION_URL": WIDGET_URL,
        "ALLOWED_REDIRECT_URLS": ALLOWED_REDIRECTS,
        "DEFAULT_SUCCESS_REDIRECT_URL": "myapp://terra/connected",
        "DEFAULT_FAILURE_REDIRECT_URL": "myapp://terra/failed",
        "REFERENCE_ID_CLAIM": "sub",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def data_stack(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> DataStack:
    """The data path's bucket, tables and queues, named in every function's environment (a stack that keeps data)."""
    stack = create_data_stack()
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
        settings_env[name] = value
    return stack


@pytest.fixture
def ingest(data_stack: DataStack) -> Iterator[Callable[[list[dict[str, Any]]], dict[str, Any]]]:
    """The ingest function's real handler, fed the messages the queue holds as Lambda's SQS event source would."""
    from terra_connect.entrypoints import ingest as handler  # noqa: PLC0415 - after the environment is set

    handler.get_ingest_container.cache_clear()

    def _run(messages: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = handler.lambda_handler({"Records": messages}, FakeLambdaContext(60_000))
        return result

    yield _run
    handler.get_ingest_container.cache_clear()


@pytest.fixture
def function_logs() -> Iterator[io.StringIO]:
    """Every line the function's logger writes during the test, formatted exactly as in CloudWatch."""
    from terra_connect.platform.observability import logger  # noqa: PLC0415

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    function_logger = logging.getLogger(logger.name)
    function_logger.addHandler(handler)
    yield stream
    function_logger.removeHandler(handler)


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff delays the Terra client asked for; tests never sleep for real."""
    return []


@pytest.fixture
def invoke(
    settings_env: dict[str, str],
    terra: responses.RequestsMock,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., ApiAnswer]]:
    """Run an event through the real Lambda handler; only the backoff sleep is replaced."""
    from terra_connect.entrypoints import api as handler  # noqa: PLC0415 - after the environment is set
    from terra_connect.http import dependencies  # noqa: PLC0415

    handler.get_container.cache_clear()
    wired = handler.build_container(os.environ, sleep=sleeps.append)
    monkeypatch.setattr(dependencies, "services", lambda: wired)  # the routes' one way to the container

    def _invoke(event: dict[str, Any], *, remaining_ms: int = 10_000) -> ApiAnswer:
        return ApiAnswer.from_lambda(handler.lambda_handler(event, FakeLambdaContext(remaining_ms)))

    yield _invoke
    handler.get_container.cache_clear()


@pytest.fixture
def deliver(settings_env: dict[str, str]) -> Iterator[Callable[[dict[str, Any]], ApiAnswer]]:
    """Run an event through the real webhook function's handler."""
    from terra_connect.entrypoints import webhook as handler  # noqa: PLC0415 - after the environment is set

    handler.get_webhook_container.cache_clear()

    def _deliver(event: dict[str, Any]) -> ApiAnswer:
        return ApiAnswer.from_lambda(handler.lambda_handler(event, FakeLambdaContext()))

    yield _deliver
    handler.get_webhook_container.cache_clear()


@pytest.fixture
def reconcile(
    settings_env: dict[str, str], terra: responses.RequestsMock, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., dict[str, Any]]:
    """The scheduled function's real handler; only the Retry-After sleep is replaced."""
    from terra_connect.entrypoints import reconcile as handler  # noqa: PLC0415 - after the environment is set

    wired = handler.build_reconciler_container(os.environ, sleep=sleeps.append)
    monkeypatch.setattr(handler, "get_reconciler_container", lambda: wired)

    def _run(event: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = handler.lambda_handler(event or {}, FakeLambdaContext(remaining_ms=900_000))
        return result

    return _run


@pytest.fixture
def publish(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, Any]]]:
    """The events function's real handler, publishing to a bus in the emulated AWS."""
    boto3.client("events").create_event_bus(Name="terra-connect-events")
    monkeypatch.setenv("EVENT_BUS_NAME", "terra-connect-events")
    from terra_connect.entrypoints import lifecycle_events as handler  # noqa: PLC0415 - after the environment is set

    handler.get_events_container.cache_clear()

    def _publish(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = handler.lambda_handler(event, FakeLambdaContext())
        return result

    yield _publish
    handler.get_events_container.cache_clear()


@pytest.fixture
def stores(settings_env: dict[str, str]) -> Any:
    """The adapters of the table the functions write."""
    from terra_connect.connections.table_client import ConnectionsTable  # noqa: PLC0415
    from terra_connect.entrypoints.shared import RegistryStores  # noqa: PLC0415

    return RegistryStores.over(ConnectionsTable(settings_env["CONNECTIONS_TABLE"], retention=timedelta(days=30)))


@pytest.fixture
def registry(stores: Any) -> Any:
    """The registry the functions write, read through the domain's own facade."""
    from tests.support.memory_registry import registry_over  # noqa: PLC0415

    return registry_over(stores)
