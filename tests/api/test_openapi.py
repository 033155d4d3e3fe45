"""docs/openapi.json is generated from the code, and fuzzing against it finds no unexpected 500."""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import responses
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.core import NOT_SET
from tooling.openapi import OPENAPI_FILE, render

from tests.support.builders import WIDGET_URL, ApiAnswer, api_event, assert_matches_schema, terra_session_answer

SCHEMA = schemathesis.openapi.from_path(OPENAPI_FILE)
# (path, method, generated requests per mode): valid and invalid, 1,800 in all.
OPERATIONS = [
    ("/v1/widget-sessions", "POST", 300),
    ("/v1/connections", "GET", 100),
    ("/v1/connections/{terra_user_id}", "DELETE", 100),
    ("/v1/connections/{provider}/auth-url", "POST", 100),
    ("/v1/connections/sync", "POST", 100),
    ("/v1/sdk-tokens", "POST", 100),
    ("/v1/providers", "GET", 100),
]
GENERATED_REQUESTS = 2 * sum(examples for _, _, examples in OPERATIONS)
DOCUMENTED_4XX = {400: "malformed_body", 413: "payload_too_large", 415: "unsupported_media_type"}


def test_the_checked_in_document_is_current() -> None:
    assert OPENAPI_FILE.read_text() == render(), "docs/openapi.json is stale: run `make docs`"


def test_the_document_describes_the_jwt_and_every_error_as_problem_json() -> None:
    document = json.loads(OPENAPI_FILE.read_text())
    operation = document["paths"]["/v1/widget-sessions"]["post"]

    assert document["security"] == [{"jwt": []}]
    assert document["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"
    for status, answer in operation["responses"].items():
        media_type = "application/json" if status == "201" else "application/problem+json"
        if status == "403":  # only API Gateway answers it: a valid token without the required scope
            assert list(answer["content"]) == ["application/json"], answer
            continue
        assert media_type in answer["content"], status
    assert "403" in operation["responses"]


def test_only_the_webhook_route_goes_without_a_token_and_its_signed_body_is_described() -> None:
    document = json.loads(OPENAPI_FILE.read_text())
    operations = {(p, m): o for p, methods in document["paths"].items() for m, o in methods.items()}
    webhook = operations.pop(("/v1/terra/webhooks", "post"))

    assert webhook["security"] == []
    assert all("security" not in operation for operation in operations.values())
    assert webhook["requestBody"]["required"] is True
    assert "type" in webhook["requestBody"]["content"]["application/json"]["schema"]["required"]
    signature = next(p for p in webhook["parameters"] if p["name"] == "terra-signature")
    assert (signature["in"], signature["required"]) == ("header", True)


def test_a_delete_answers_204_without_a_body() -> None:
    document = json.loads(OPENAPI_FILE.read_text())
    no_content = document["paths"]["/v1/connections/{terra_user_id}"]["delete"]["responses"]["204"]

    assert "content" not in no_content


def event_for(case: Case[Any]) -> dict[str, Any]:
    """The API Gateway event for a generated request: bytes arrive base64-encoded, as API Gateway sends them."""
    headers = {k.lower(): str(v) for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    query = urlencode({k: str(v) for k, v in (case.query or {}).items()})
    where: dict[str, Any] = {
        "method": case.method.upper(),
        "path": case.formatted_path,
        "query": query,
        "headers": headers,
    }
    if case.body is NOT_SET:
        return api_event(**where)
    body: Any = case.body
    if isinstance(body, bytes):
        event = api_event(body, base64_body=True, **where)
    else:
        event = api_event(body if isinstance(body, str) else json.dumps(body), **where)
    if case.media_type:
        event["headers"]["content-type"] = case.media_type
    return event


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize(("path", "method", "examples"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_generated_requests_never_get_an_unexpected_500(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    path: str,
    method: str,
    examples: int,
    mode: GenerationMode,
) -> None:
    terra.add_callback(responses.POST, WIDGET_URL, callback=lambda _: (201, {}, json.dumps(terra_session_answer())))
    terra.add_callback(
        responses.POST,
        "https://api.tryterra.co/v2/auth/authenticateUser",
        callback=lambda _: (200, {}, json.dumps({"user_id": "u", "auth_url": "https://connect.example/x"})),
    )
    terra.add_callback(responses.GET, "https://api.tryterra.co/v2/userInfo", callback=lambda _: (200, {}, "[]"))
    token = json.dumps({"status": "success", "token": "t", "expires_in": 180})
    terra.add_callback(
        responses.POST, "https://api.tryterra.co/v2/auth/generateAuthToken", callback=lambda _: (200, {}, token)
    )
    statuses: list[int] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=SCHEMA[path][method].as_strategy(mode))
    def exercise(case: Case[Any]) -> None:
        answer = invoke(event_for(case))
        statuses.append(answer.status)
        assert answer.status < 500, answer.body
        if answer.status >= 400:
            problem = json.loads(answer.body)
            assert_matches_schema(problem, "ProblemDetails")
            assert problem["code"] == DOCUMENTED_4XX.get(answer.status, problem["code"])
            assert answer.status in {400, 404, 413, 415, 422}
        elif path == "/v1/widget-sessions":
            assert_matches_schema(json.loads(answer.body), "WidgetSessionResponse")

    exercise()

    assert len(statuses) >= examples
    print(f"{mode.value}: {len(statuses)} requests, statuses {sorted(set(statuses))}")  # noqa: T201
