"""Inputs once seen turning into a 500 from outside, each pinned to the answer it gets now."""

from collections.abc import Callable
from typing import Any

import pytest
import responses

from tests.support.builders import SUBJECT, WIDGET_URL, ApiAnswer, api_event, terra_session_answer, webhook_event

DEEP = "[" * 100_000 + "]" * 100_000
AUTH = {"type": "auth", "status": "success", "user": {"user_id": "tu-1", "provider": "GARMIN", "reference_id": SUBJECT}}


@pytest.mark.parametrize("path", ["/v1/widget-sessions", "/v1/connections/GARMIN/auth-url"])
def test_multipart_without_a_boundary_is_415(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, path: str
) -> None:
    answer = invoke(api_event("--x--", path=path, headers={"content-type": "multipart/form-data"}))

    assert (answer.status, answer.code) == (415, "unsupported_media_type")
    assert [call for call in terra.calls if "integrations" not in str(call.request.url)] == []


@pytest.mark.parametrize("signature", ["t=²,v1=" + "0" * 64, "t=1795262400,v1=" + "é" * 64, "t=١٢٣,v1=00"])
def test_a_non_ascii_signature_is_401(deliver: Callable[[dict[str, Any]], ApiAnswer], signature: str) -> None:
    answer = deliver(webhook_event(AUTH, signature=signature))

    assert (answer.status, answer.code) == (401, "invalid_signature")


@pytest.mark.parametrize(
    "terra_answer",
    [terra_session_answer(expires_in=10**12), terra_session_answer(expires_in=10**400), DEEP],
    ids=["expires-in-1e12", "expires-in-1e400", "nested-100000-deep"],
)
def test_an_absurd_terra_answer_is_502(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, terra_answer: Any
) -> None:
    if isinstance(terra_answer, str):
        terra.post(WIDGET_URL, body=terra_answer, content_type="application/json", status=201)
    else:
        terra.post(WIDGET_URL, json=terra_answer, status=201)

    answer = invoke(api_event())

    assert answer.status == 502
    assert answer.code.startswith("terra_")


def test_a_signed_webhook_nested_100000_deep_is_refused_as_malformed(
    deliver: Callable[[dict[str, Any]], ApiAnswer],
) -> None:
    answer = deliver(webhook_event(DEEP.encode()))

    assert (answer.status, answer.code) == (400, "malformed_body")


def test_a_webhook_over_6_mib_is_413_as_documented(deliver: Callable[[dict[str, Any]], ApiAnswer]) -> None:
    answer = deliver(webhook_event({**AUTH, "padding": "x" * (6 * 1024 * 1024)}))

    assert (answer.status, answer.code) == (413, "payload_too_large")


def test_a_json_null_body_is_no_body(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, json=terra_session_answer(), status=201)

    assert invoke(api_event("null")).status == 201


@pytest.mark.parametrize("terra_user_id", ["tu.1", "a.b-c_d~e:f@g+h=i"])
def test_an_id_the_list_can_hold_is_accepted_by_delete(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, terra_user_id: str
) -> None:
    answer = invoke(api_event(method="DELETE", path=f"/v1/connections/{terra_user_id}"))

    assert answer.status == 404  # a well-formed id the caller does not own, not a validation error
    assert answer.code != "validation_error"
