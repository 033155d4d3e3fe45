"""Validation answers name what is wrong without echoing it; valid encodings are accepted.

The full table of refused requests is tests/hostile_inputs.py."""

from collections.abc import Callable

import responses

from tests.conftest import terra_session_answer
from tests.support import WIDGET_URL, ApiAnswer, api_event


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
