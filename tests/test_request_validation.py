"""Every malformed request gets a clear 4xx problem+json, and Terra is never called."""

import base64
from collections.abc import Callable
from typing import Any

import pytest
import responses

from tests.conftest import terra_session_answer
from tests.support import WIDGET_URL, ApiAnswer, api_event

BAD_BODIES: list[tuple[str, Any, int, str]] = [
    ("unknown-field", {"colour": "blue"}, 422, "validation_error"),
    ("not-an-object", [1, 2], 422, "validation_error"),
    ("json-null", "null", 422, "validation_error"),
    ("json-string", '"GARMIN"', 422, "validation_error"),
    ("truncated-json", '{"providers": ["GARMIN",', 400, "malformed_body"),
    ("duplicate-keys", '{"language": "en", "language": "fr"}', 400, "malformed_body"),
    ("nan", '{"language": NaN}', 400, "malformed_body"),
    ("deeply-nested", '{"providers":' + "[" * 8000 + "]" * 8000 + "}", 422, "validation_error"),
    ("over-16-KiB", {"language": "e" * 17_000}, 413, "payload_too_large"),
    ("providers-lower-case", {"providers": ["garmin"]}, 422, "validation_error"),
    ("providers-comma-joined", {"providers": ["GARMIN,OURA"]}, 422, "validation_error"),
    ("providers-as-string", {"providers": "GARMIN"}, 422, "validation_error"),
    ("providers-empty-list", {"providers": []}, 422, "validation_error"),
    ("providers-empty-code", {"providers": [""]}, 422, "validation_error"),
    ("providers-too-many", {"providers": [f"P{i:02d}" for i in range(51)]}, 422, "validation_error"),
    ("providers-cyrillic-look-alike", {"providers": ["G\u0410RMIN"]}, 422, "validation_error"),
    ("providers-trailing-newline", {"providers": ["GARMIN\n"]}, 422, "validation_error"),
    ("language-injection", {"language": "en'><script>"}, 422, "validation_error"),
    ("language-over-long", {"language": "en-" + "a" * 40}, 422, "validation_error"),
    ("bool-as-string", {"multi_auth": "true"}, 422, "validation_error"),
    ("bool-as-number", {"show_disconnect": 1}, 422, "validation_error"),
    ("redirect-as-number", {"success_redirect_url": 42}, 422, "validation_error"),
]


@pytest.mark.parametrize(("body", "status", "code"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES])
def test_bad_bodies_are_refused_before_terra(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, body: Any, status: int, code: str
) -> None:
    answer = invoke(api_event(body))

    assert (answer.status, answer.code) == (status, code)
    assert len(terra.calls) == 0


def test_validation_errors_name_the_field_but_never_echo_the_input(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer = invoke(api_event({"providers": ["ok", "GARMIN"], "language": "<secret-input>"}))

    assert answer.status == 422
    locations = [error["loc"] for error in answer.json["errors"]]
    assert ["body", "providers", 0] in locations
    assert ["body", "language"] in locations
    assert "secret-input" not in answer.body


@pytest.mark.parametrize(
    ("raw", "label"),
    [("!!not base64!!", "garbage"), (base64.b64encode(b"\xff\xfe{}").decode(), "invalid-utf8")],
)
def test_base64_bodies_that_do_not_decode_to_json_get_400(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, raw: str, label: str
) -> None:
    event = api_event(raw)
    event["isBase64Encoded"] = True

    answer = invoke(event)

    assert (answer.status, answer.code) == (400, "malformed_body"), label
    assert len(terra.calls) == 0


def test_a_base64_encoded_json_body_is_accepted(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    answer = invoke(api_event({"language": "fr"}, base64_body=True))

    assert answer.status == 201
    assert b'"language": "fr"' in (terra.calls[0].request.body or b"")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("hello", "text/plain"), ("providers=GARMIN", "application/x-www-form-urlencoded"), ("<a/>", "application/xml")],
)
def test_non_json_content_types_get_415(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, body: str, content_type: str
) -> None:
    answer = invoke(api_event(body, headers={"content-type": content_type}))

    assert (answer.status, answer.code) == (415, "unsupported_media_type")
    assert len(terra.calls) == 0


@pytest.mark.parametrize(
    ("query", "code"),
    [("reference_id=someone-else", "reference_id_not_allowed"), ("debug=1", "validation_error")],
)
def test_query_parameters_are_refused(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, query: str, code: str
) -> None:
    answer = invoke(api_event({}, query=query))

    assert (answer.status, answer.code) == (422, code)
    assert len(terra.calls) == 0


@pytest.mark.parametrize("header", ["x-reference-id", "Terra-Reference-ID", "reference_id"])
def test_a_header_that_tries_to_choose_the_identity_is_refused(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, header: str
) -> None:
    answer = invoke(api_event({}, headers={header: "someone-else"}))

    assert (answer.status, answer.code) == (422, "reference_id_not_allowed")
    assert len(terra.calls) == 0


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/widget-sessions"), ("POST", "/v1/widget-session")])
def test_unknown_routes_get_a_404_problem(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, method: str, path: str
) -> None:
    answer = invoke(api_event(method=method, path=path))

    assert (answer.status, answer.code) == (404, "not_found")
    assert len(terra.calls) == 0
