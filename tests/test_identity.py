"""Terra's reference_id is the verified token's claim; the caller can never choose it."""

import os
from collections.abc import Callable

import pytest
import responses

from tests.conftest import terra_session_answer
from tests.support import SUBJECT, WIDGET_URL, ApiAnswer, api_event


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
    from terra_connect.api import container, dependencies  # noqa: PLC0415

    monkeypatch.setenv("REFERENCE_ID_CLAIM", "user_id")
    monkeypatch.setattr(dependencies, "services", lambda: container.build_container(os.environ))
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    answer = invoke(api_event({}, claims={"sub": SUBJECT, "user_id": "app-user-42"}))

    assert answer.status == 201
    assert b'"reference_id": "app-user-42"' in (terra.calls[0].request.body or b"")
