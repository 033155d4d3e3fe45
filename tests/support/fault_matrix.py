"""The fault matrix: what Terra or AWS does wrong, and the answer the app gets. docs/security.md shows this table."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import requests
import responses
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.support.builders import API_KEY, DEV_ID, ROTATED_API_KEY, WIDGET_URL, api_event


@dataclass
class FaultContext:
    terra: responses.RequestsMock
    secret_arn: str
    aws_failures: dict[str, Exception]  # AWS operation -> the error it raises

    def put_secret(self, value: str) -> None:
        boto3.client("secretsmanager").put_secret_value(SecretId=self.secret_arn, SecretString=value)


def widget_session_request() -> dict[str, Any]:
    return api_event({"providers": ["GARMIN"]})


def list_connections_request() -> dict[str, Any]:
    return api_event(method="GET", path="/v1/connections")


@dataclass(frozen=True)
class InjectedFault:
    id: str
    source: str
    description: str
    arrange: Callable[[FaultContext], None]
    status: int
    code: str | None  # None for a recovered (201) answer
    terra_calls: int  # exactly this many attempts reach Terra
    secret_reads: int  # exactly this many GetSecretValue calls
    retry_after: str | None = None
    request: Callable[[], dict[str, Any]] = widget_session_request


def _session(**overrides: Any) -> dict[str, Any]:
    return {"session_id": "s-1", "url": "https://widget.tryterra.co/session/s-1", "expires_in": 900} | overrides


def terra_answers(*answers: dict[str, Any]) -> Callable[[FaultContext], None]:
    """Terra answers in this order (the last one repeats)."""

    def arrange(context: FaultContext) -> None:
        for answer in answers:
            context.terra.post(WIDGET_URL, **answer)

    return arrange


def secrets_manager_error(code: str) -> Callable[[FaultContext], None]:
    def arrange(context: FaultContext) -> None:
        error = ClientError({"Error": {"Code": code, "Message": "injected"}}, "GetSecretValue")
        context.aws_failures["GetSecretValue"] = error

    return arrange


def dynamodb_error(code: str) -> Callable[[FaultContext], None]:
    def arrange(context: FaultContext) -> None:
        error = ClientError({"Error": {"Code": code, "Message": "injected"}}, "Query")
        context.aws_failures["Query"] = error

    return arrange


def secret_value(value: str) -> Callable[[FaultContext], None]:
    return lambda context: context.put_secret(value)


def _unreachable_secrets_manager(context: FaultContext) -> None:
    context.aws_failures["GetSecretValue"] = EndpointConnectionError(endpoint_url="https://secretsmanager")


def _rotated_key(context: FaultContext) -> None:
    """The function read API_KEY; the operator rotates it before Terra's answer, which rejects the old one."""

    def rotate_then_reject(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.headers["x-api-key"] == API_KEY
        context.put_secret(json.dumps({"dev_id": DEV_ID, "api_key": ROTATED_API_KEY}))
        return 401, {}, json.dumps({"status": "error", "message": "credentials invalid"})

    context.terra.add_callback(responses.POST, WIDGET_URL, callback=rotate_then_reject)
    context.terra.post(WIDGET_URL, status=201, json=_session())


OK = {"status": 201, "json": _session()}


def _registry_down_during_prefill(context: FaultContext) -> None:
    dynamodb_error("InternalServerError")(context)
    terra_answers(OK)(context)


FAULTS: list[InjectedFault] = [
    InjectedFault("connect-timeout", "Terra", "connect timeout on every attempt",
                  terra_answers({"body": requests.ConnectTimeout("connect timeout")}), 504, "terra_timeout", 3, 1),
    InjectedFault("read-timeout", "Terra", "read timeout on every attempt",
                  terra_answers({"body": requests.ReadTimeout("read timeout")}), 504, "terra_timeout", 3, 1),
    InjectedFault("connection-reset", "Terra", "connection reset by peer",
                  terra_answers({"body": requests.ConnectionError("Connection reset by peer")}),
                  503, "terra_unavailable", 3, 1, "1"),
    InjectedFault("dns-failure", "Terra", "DNS name not resolved",
                  terra_answers({"body": requests.ConnectionError("Name or service not known")}),
                  503, "terra_unavailable", 3, 1, "1"),
    InjectedFault("http-500", "Terra", "500 on every attempt", terra_answers({"status": 500}),
                  503, "terra_unavailable", 3, 1, "1"),
    InjectedFault("http-502", "Terra", "502 on every attempt", terra_answers({"status": 502}),
                  503, "terra_unavailable", 3, 1, "1"),
    InjectedFault("http-503", "Terra", "503 on every attempt", terra_answers({"status": 503}),
                  503, "terra_unavailable", 3, 1, "1"),
    InjectedFault("http-504", "Terra", "504 on every attempt", terra_answers({"status": 504}),
                  503, "terra_unavailable", 3, 1, "1"),
    InjectedFault("http-503-once", "Terra", "one 503, then success", terra_answers({"status": 503}, OK),
                  201, None, 2, 1),
    InjectedFault("http-429", "Terra", "429 without Retry-After", terra_answers({"status": 429}),
                  503, "terra_unavailable", 3, 1, "1"),
    InjectedFault("http-429-retry-after", "Terra", "429 with Retry-After: 2, then success",
                  terra_answers({"status": 429, "headers": {"Retry-After": "2"}}, OK), 201, None, 2, 1),
    InjectedFault("http-429-retry-after-too-long", "Terra", "429 with Retry-After: 60 (beyond the time left)",
                  terra_answers({"status": 429, "headers": {"Retry-After": "60"}}),
                  503, "terra_unavailable", 1, 1, "60"),
    InjectedFault("http-410", "Terra", "410 Gone (retired legacy endpoint)",
                  terra_answers({"status": 410, "json": {"status": "error", "message": "gone"}}),
                  502, "terra_rejected", 1, 1),
    InjectedFault("http-400", "Terra", "400 with Terra's error body",
                  terra_answers({"status": 400, "json": {"status": "error", "message": "bad"}}),
                  502, "terra_rejected", 1, 1),
    InjectedFault("http-401-rotated-key", "Terra", "401, and the secret now holds a new key: recovers",
                  _rotated_key, 201, None, 2, 2),
    InjectedFault("http-403-bad-key", "Terra", "403, and the secret still holds the same key",
                  terra_answers({"status": 403, "json": {"status": "error", "message": "credentials invalid"}}),
                  502, "terra_rejected", 1, 2),
    InjectedFault("http-307", "Terra", "a redirect (never followed)",
                  terra_answers({"status": 307, "headers": {"Location": "https://evil.example/"}}),
                  502, "terra_bad_response", 1, 1),
    InjectedFault("non-json-201", "Terra", "201 with a non-JSON body", terra_answers({"status": 201, "body": "<html>"}),
                  502, "terra_bad_response", 1, 1),
    InjectedFault("no-url-201", "Terra", "201 without `url`", terra_answers({"status": 201, "json": {"status": "ok"}}),
                  502, "terra_bad_response", 1, 1),
    InjectedFault("http-url-200", "Terra", "200 with an `http://` widget URL",
                  terra_answers({"status": 200, "json": _session(url="http://widget.tryterra.co/session/s-1")}),
                  502, "terra_bad_response", 1, 1),
    InjectedFault("huge-body-201", "Terra", "201 with a 1 MB body",
                  terra_answers({"status": 201, "json": _session(padding="x" * 1_000_000)}),
                  502, "terra_bad_response", 1, 1),
    InjectedFault("secret-not-found", "Secrets Manager", "ResourceNotFoundException",
                  secrets_manager_error("ResourceNotFoundException"), 500, "configuration_error", 0, 1),
    InjectedFault("secret-access-denied", "Secrets Manager", "AccessDeniedException",
                  secrets_manager_error("AccessDeniedException"), 500, "configuration_error", 0, 1),
    InjectedFault("secret-decryption-failure", "Secrets Manager", "DecryptionFailure (KMS)",
                  secrets_manager_error("DecryptionFailure"), 500, "configuration_error", 0, 1),
    InjectedFault("secret-throttled", "Secrets Manager", "ThrottlingException",
                  secrets_manager_error("ThrottlingException"), 503, "secrets_unavailable", 0, 1, "1"),
    InjectedFault("secret-internal-error", "Secrets Manager", "InternalServiceError",
                  secrets_manager_error("InternalServiceError"), 503, "secrets_unavailable", 0, 1, "1"),
    InjectedFault("secret-unreachable", "Secrets Manager", "endpoint unreachable",
                  _unreachable_secrets_manager, 503, "secrets_unavailable", 0, 1, "1"),
    InjectedFault("secret-malformed-json", "Secrets Manager", "the secret is not JSON",
                  secret_value('{"dev_id": "x", '), 500, "configuration_error", 0, 1),
    InjectedFault("secret-missing-keys", "Secrets Manager", "the secret lacks `api_key`",
                  secret_value('{"dev_id": "x"}'), 500, "configuration_error", 0, 1),
    InjectedFault("secret-placeholders", "Secrets Manager", "the stack's placeholder values",
                  secret_value('{"dev_id": "REPLACE_ME", "api_key": "REPLACE_ME"}'), 500, "configuration_error", 0, 1),
    InjectedFault("registry-throttled-list", "DynamoDB", "Query throttled while listing connections",
                  dynamodb_error("ProvisionedThroughputExceededException"), 503, "registry_unavailable", 0, 0, "1",
                  list_connections_request),
    InjectedFault("registry-missing-list", "DynamoDB", "the table does not exist",
                  dynamodb_error("ResourceNotFoundException"), 500, "configuration_error", 0, 0, None,
                  list_connections_request),
    InjectedFault("registry-down-widget", "DynamoDB", "Query fails during the widget pre-fill: served without it",
                  _registry_down_during_prefill,
                  201, None, 1, 1),
]  # fmt: skip

assert len({fault.id for fault in FAULTS}) == len(FAULTS), "fault ids must be unique"
