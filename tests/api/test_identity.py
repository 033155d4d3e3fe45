"""Terra's reference_id is the verified token's claim; the caller can never choose it."""

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
import responses
from tooling.openapi import OPENAPI_FILE

from tests.support.builders import SUBJECT, WIDGET_URL, ApiAnswer, AwsCalls, api_event, terra_session_answer

# Every route behind the JWT authorizer, with a path that names an existing resource where it takes one.
JWT_ROUTES = [
    ("POST", "/v1/widget-sessions", "/v1/widget-sessions"),
    ("GET", "/v1/connections", "/v1/connections"),
    ("DELETE", "/v1/connections", "/v1/connections"),
    ("POST", "/v1/connections/sync", "/v1/connections/sync"),
    ("DELETE", "/v1/connections/{terra_user_id}", "/v1/connections/4f1c7a52-9a0e-4f7b-8d3c-2b6e1a9d0c11"),
    ("POST", "/v1/connections/{provider}/auth-url", "/v1/connections/GARMIN/auth-url"),
    ("POST", "/v1/sdk-tokens", "/v1/sdk-tokens"),
    ("GET", "/v1/providers", "/v1/providers"),
    ("GET", "/v1/data/{type}", "/v1/data/daily"),
]
# Wherever a caller could put it, however it is spelled.
CHOSEN_IDENTITY: dict[str, dict[str, Any]] = {
    "body": {"body": {"reference_id": "bob"}},
    "body, camel case": {"body": {"referenceId": "bob"}},
    "query": {"query": "reference_id=bob"},
    "header": {"headers": {"x-reference-id": "bob"}},
}


def test_reference_id_comes_from_token_not_body(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer = invoke(api_event({"reference_id": "someone-else"}))

    assert answer.status == 422
    assert answer.code == "reference_id_not_allowed"
    assert len(terra.calls) == 0


def test_the_identity_claim_is_configurable(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terra_connect.entrypoints import api as container  # noqa: PLC0415
    from terra_connect.http import dependencies  # noqa: PLC0415

    monkeypatch.setenv("REFERENCE_ID_CLAIM", "user_id")
    monkeypatch.setattr(dependencies, "services", lambda: container.build_container(os.environ))
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    answer = invoke(api_event({}, claims={"sub": SUBJECT, "user_id": "app-user-42"}))

    assert answer.status == 201
    assert b'"reference_id": "app-user-42"' in (terra.calls[0].request.body or b"")


def test_the_routes_checked_are_every_route_the_token_protects() -> None:
    document = json.loads(OPENAPI_FILE.read_text())
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") != []
    }

    assert documented == {(method, template) for method, template, _ in JWT_ROUTES}


@pytest.mark.parametrize("where", CHOSEN_IDENTITY)
@pytest.mark.parametrize(("method", "template", "path"), JWT_ROUTES, ids=[f"{m} {t}" for m, t, _ in JWT_ROUTES])
def test_every_route_refuses_a_reference_id_the_caller_chooses(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    aws_calls: AwsCalls,
    method: str,
    template: str,
    path: str,
    where: str,
) -> None:
    answer = invoke(api_event(method=method, path=path, **CHOSEN_IDENTITY[where]))

    assert (answer.status, answer.code) == (422, "reference_id_not_allowed")
    assert answer.json["request_id"]
    assert len(terra.calls) == 0
    assert aws_calls.operations == []  # refused before anything upstream is asked
