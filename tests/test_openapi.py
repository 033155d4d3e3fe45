"""docs/openapi.json is generated from the code, and fuzzing against it finds no unexpected 500."""

import json
from collections.abc import Callable
from typing import Any

import pytest
import responses
import schemathesis
from hypothesis import HealthCheck, given, settings
from offline.openapi import OPENAPI_FILE, render
from schemathesis import Case, GenerationMode
from schemathesis.core import NOT_SET

from terra_connect.api.problems import ProblemDetails
from terra_connect.domain.models import WidgetSessionResponse
from tests.conftest import terra_session_answer
from tests.support import WIDGET_URL, ApiAnswer, api_event

EXAMPLES_PER_MODE = 600  # positive and negative: 1,200 generated requests
DOCUMENTED_4XX = {400: "malformed_body", 413: "payload_too_large", 415: "unsupported_media_type"}
OPERATION = schemathesis.openapi.from_path(OPENAPI_FILE)["/v1/widget-sessions"]["POST"]


def test_the_checked_in_document_is_current() -> None:
    assert OPENAPI_FILE.read_text() == render(), "docs/openapi.json is stale: run `make docs`"


def test_the_document_describes_the_jwt_and_every_error_as_problem_json() -> None:
    document = json.loads(OPENAPI_FILE.read_text())
    operation = document["paths"]["/v1/widget-sessions"]["post"]

    assert document["security"] == [{"jwt": []}]
    assert document["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"
    for status, answer in operation["responses"].items():
        media_type = "application/json" if status == "201" else "application/problem+json"
        assert media_type in answer["content"], status


def event_for(case: Case[Any]) -> dict[str, Any]:
    """The API Gateway event for a generated request: bytes arrive base64-encoded, as API Gateway sends them."""
    body: Any = "" if case.body is NOT_SET else case.body
    headers = {k.lower(): str(v) for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if isinstance(body, bytes):
        event = api_event(body, headers=headers, base64_body=True)
    else:
        event = api_event(body if isinstance(body, str) else json.dumps(body), headers=headers)
    if case.media_type:
        event["headers"]["content-type"] = case.media_type
    return event


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_generated_requests_never_get_an_unexpected_500(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, mode: GenerationMode
) -> None:
    terra.add_callback(responses.POST, WIDGET_URL, callback=lambda _: (201, {}, json.dumps(terra_session_answer())))
    statuses: list[int] = []

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=OPERATION.as_strategy(mode))
    def exercise(case: Case[Any]) -> None:
        answer = invoke(event_for(case))
        statuses.append(answer.status)
        assert answer.status < 500, answer.body
        if answer.status == 201:
            WidgetSessionResponse.model_validate_json(answer.body)
        else:
            problem = ProblemDetails.model_validate_json(answer.body)
            assert problem.code == DOCUMENTED_4XX.get(answer.status, problem.code)
            assert answer.status in {400, 413, 415, 422}

    exercise()

    assert len(statuses) >= EXAMPLES_PER_MODE
    print(f"{mode.value}: {len(statuses)} requests, statuses {sorted(set(statuses))}")  # noqa: T201
