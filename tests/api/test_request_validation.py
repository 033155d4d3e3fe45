"""Validation answers name what is wrong without echoing it; valid encodings are accepted.

The full table of refused requests is tests/support/hostile_inputs.py."""

from collections.abc import Callable

import responses
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from terra_connect.http.resolver import refusal
from terra_connect.kernel.errors import InvalidRequest, ReferenceIdNotAllowed, ServiceError, UnsupportedMediaType
from tests.support.builders import WIDGET_URL, ApiAnswer, api_event, terra_session_answer


def test_validation_errors_name_the_field_but_never_echo_the_input(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer = invoke(api_event({"providers": ["o.k", "GARMIN"], "language": "<secret-input>"}))

    assert answer.status == 422
    locations = [error["loc"] for error in answer.json["errors"]]
    assert ["body", "providers", 0] in locations
    assert ["body", "language"] in locations
    assert "secret-input" not in answer.body


def test_a_base64_encoded_json_body_is_accepted(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    answer = invoke(api_event({"language": "fr"}, base64_body=True))

    assert answer.status == 201
    assert b'"language": "fr"' in (terra.calls[0].request.body or b"")


def test_a_json_media_type_in_any_case_and_a_label_without_a_body_are_read_as_always(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    upper_case = invoke(api_event({"language": "fr"}, headers={"content-type": "Application/JSON; charset=UTF-8"}))
    labelled_but_empty = invoke(api_event(headers={"content-type": "text/plain"}))
    not_json = invoke(api_event("language=fr", headers={"content-type": "TEXT/PLAIN"}))

    assert (upper_case.status, labelled_but_empty.status) == (201, 201)
    assert b'"language": "fr"' in (terra.calls[0].request.body or b"")
    assert (not_json.status, not_json.code) == (415, "unsupported_media_type")


def test_what_powertools_validation_refuses_is_answered_by_kind_never_with_the_value() -> None:
    def error(loc: tuple[str | int, ...], kind: str) -> RequestValidationError:
        return RequestValidationError([{"loc": loc, "type": kind, "msg": "m", "input": "<secret-input>"}])

    invalid = refusal(error(("body", "language"), "string_pattern_mismatch"), json_body=True)
    assert type(invalid) is InvalidRequest
    assert invalid.errors == [{"loc": ["body", "language"], "type": "string_pattern_mismatch"}]
    assert type(refusal(error(("body", "ReferenceID"), "extra_forbidden"), json_body=True)) is ReferenceIdNotAllowed
    assert type(refusal(error(("body", "language"), "string_type"), json_body=False)) is UnsupportedMediaType
    unsupported = RequestUnsupportedContentType("x", errors=[{"loc": ("body",), "type": "unsupported_content_type"}])
    assert type(refusal(unsupported, json_body=True)) is UnsupportedMediaType
    # Powertools reports a route's answer that breaks its own annotation as a validation error: this service's bug.
    assert type(refusal(error(("response",), "string_type"), json_body=True)) is ServiceError
