"""Builders shared by the tests: API Gateway events, a Lambda context, Terra's answers, the handler's answer, and
recorders of what the code asked of AWS."""

import base64
import copy
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from local.signing import terra_signature
from referencing import Registry
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

DEV_ID = "testing-dev-id-4f1c9a"
API_KEY = "sk-terra-test-9d8c7b6a5f4e3d2c1b0a"
ROTATED_API_KEY = "sk-terra-rotated-1a2b3c4d5e6f7a8b9c0d"
SIGNING_SECRET = "whsec-test-5e4d3c2b1a0f9e8d7c6b"
SUBJECT = "7d5c6f3e-2b1a-4c9d-8e7f-0a1b2c3d4e5f"
WIDGET_URL = "https://access.tryterra.co/api/widget/session"
LEGACY_WIDGET_URL = "https://api.tryterra.co/v2/auth/generateWidgetSession"
SESSION_URL = "https://widget.tryterra.co/session/6a1f0c2e-secret-session-token"
SDK_TOKEN = "sdk-token-250c68b9c21b78e40e7a3285a2d538d3bc24aabd3b4c"

_SENTINEL: Any = object()


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def api_event(
    body: Any = _SENTINEL,
    *,
    claims: dict[str, Any] | None = _SENTINEL,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/v1/widget-sessions",
    query: str = "",
    base64_body: bool = False,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event, based on events/widget-session.json."""
    event = copy.deepcopy(load_event("widget-session.json"))
    event["routeKey"] = f"{method} {path}"
    event["rawPath"] = path
    event["rawQueryString"] = query
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    if query:
        event["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
    if claims is None:
        event["requestContext"].pop("authorizer", None)
    elif claims is not _SENTINEL:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if body is not _SENTINEL:
        raw = body if isinstance(body, str | bytes) else json.dumps(body)
        if base64_body:
            raw = base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode()
        event["body"] = raw
        event["isBase64Encoded"] = base64_body
        event["headers"]["content-type"] = "application/json"
    event["headers"].update(headers or {})
    return event


class FakeLambdaContext:
    function_name = "terra-connect-ApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:terra-connect-ApiFunction"
    memory_limit_in_mb = 512
    aws_request_id = "5f2b1c4e-9a8d-4e7f-b6c5-3d2e1f0a9b8c"
    log_group_name = "/terra-connect/api-function"
    log_stream_name = "2026/11/21/[$LATEST]0123456789abcdef"

    def __init__(self, remaining_ms: int = 10_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str:
        assert self.headers.get("Content-Type") == "application/problem+json", self.body
        return str(self.json["code"])

    @classmethod
    def from_lambda(cls, result: dict[str, Any]) -> "ApiAnswer":
        headers = {k: str(v) for k, v in result.get("headers", {}).items()}
        return cls(status=result["statusCode"], headers=headers, body=result.get("body") or "")


def webhook_event(
    payload: Any,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    header: str = "terra-signature",
    signature: str | None = None,
    trace_id: str | None = None,
    base64_body: bool = False,
    ordering: str | None = None,
) -> dict[str, Any]:
    """A Terra delivery as API Gateway hands it to the webhook function, signed like Terra signs it; `ordering`:
    the `x-terra-ordering-timestamp` header it carries, if any."""

    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signed_at = int(time.time()) if timestamp is None else timestamp
    headers = {"content-type": "application/json", "user-agent": "Terra"}
    headers[header] = signature if signature is not None else terra_signature(secret, raw, signed_at)
    if trace_id:
        headers["x-terra-trace-id"] = trace_id
    if ordering is not None:
        headers["x-terra-ordering-timestamp"] = ordering
    event = copy.deepcopy(load_event("widget-session.json"))
    event["requestContext"].pop("authorizer")
    event["routeKey"] = "POST /v1/terra/webhooks"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/terra/webhooks"
    event["headers"] = headers
    event["body"] = base64.b64encode(raw).decode() if base64_body else raw.decode()
    event["isBase64Encoded"] = base64_body
    return event


def terra_user(user_id: str, provider: str = "GARMIN", reference_id: str | None = SUBJECT) -> dict[str, Any]:
    user: dict[str, Any] = {"user_id": user_id, "provider": provider, "active": True, "scopes": "activity,sleep"}
    if reference_id is not None:
        user["reference_id"] = reference_id
    return user


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def emf_documents(stdout: str) -> Iterator[dict[str, Any]]:
    """The CloudWatch EMF documents among the lines a handler printed (Powertools writes them to stdout)."""
    for line in stdout.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            yield document


def emitted_metrics(stdout: str) -> dict[str, float]:
    """Metric totals from the CloudWatch EMF documents a handler printed."""
    totals: dict[str, float] = {}
    for document in emf_documents(stdout):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                    value if isinstance(value, list) else [value]
                )
    return totals


@cache
def _openapi_registry() -> Registry[Any]:
    openapi = json.loads((ROOT / "docs" / "openapi.json").read_text())
    registry: Registry[Any] = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(openapi))
    return registry


def assert_matches_schema(document: Any, name: str) -> None:
    """`document` is valid against docs/openapi.json's components/schemas/<name> (its $refs resolved)."""
    schema = {"$ref": f"urn:openapi#/components/schemas/{name}"}
    Draft202012Validator(schema, registry=_openapi_registry()).validate(document)


class RecordingOutbox:
    """The events function's outbox cleaner, remembering what it was asked to delete."""

    def __init__(self) -> None:
        self.deleted: list[dict[str, Any]] = []

    def delete(self, key: dict[str, Any]) -> None:
        self.deleted.append(key)


@dataclass
class AwsCalls:
    """Every AWS API call the code under test makes, and failures to inject into chosen operations."""

    operations: list[str] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)

    def count(self, operation: str) -> int:
        return self.operations.count(operation)


# The Terra account's integrations, as GET /integrations answers them (tests that need others register their own).
INTEGRATIONS = {
    "providers": ["GARMIN", "FITBIT", "OURA", "WITHINGS", "POLAR", "WHOOP"],
    "sdk_providers": ["APPLE", "SAMSUNG", "HEALTH_CONNECT"],
    "status": "success",
}


INTEGRATIONS_URL = "https://api.tryterra.co/v2/integrations"


def terra_session_answer(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "session_id": "6a1f0c2e-secret-session-token",
        "url": "https://widget.tryterra.co/session/6a1f0c2e-secret-session-token",
        "status": "success",
        "expires_in": 900,
    }
    body.update(overrides)
    return body
