"""POST /v1/widget-sessions answers 201 with a widget URL for the caller, and sends Terra exactly what it should."""

import dataclasses
import io
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import pytest
import responses

from tests.support.builders import (
    API_KEY,
    DEV_ID,
    SESSION_URL,
    SUBJECT,
    WIDGET_URL,
    ApiAnswer,
    api_event,
    terra_session_answer,
)

if TYPE_CHECKING:
    from terra_connect.widget_sessions.service import WidgetSessionService


def sent_body(terra: responses.RequestsMock, index: int = -1) -> dict[str, object]:
    body = terra.calls[index].request.body
    assert body is not None
    return dict(json.loads(body))


def test_answers_201_with_the_widget_url(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())
    before = datetime.now(UTC)

    answer = invoke(api_event())

    assert answer.status == 201
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert body["url"] == SESSION_URL
    assert body["session_id"] == "6a1f0c2e-secret-session-token"
    assert body["expires_in"] == 900
    assert "warnings" not in body
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    assert before + timedelta(seconds=898) <= expires_at <= datetime.now(UTC) + timedelta(seconds=900)


def test_sends_the_credentials_as_headers_and_the_subject_as_reference_id(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    invoke(api_event())

    request = terra.calls[0].request
    assert request.headers["dev-id"] == DEV_ID
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert sent_body(terra) == {
        "reference_id": SUBJECT,
        "auth_success_redirect_url": "myapp://terra/connected",
        "auth_failure_redirect_url": "myapp://terra/failed",
    }


def test_options_are_sent_in_terra_terms(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    answer = invoke(
        api_event(
            {
                "providers": ["GARMIN", "OURA", "GARMIN", "FITBIT"],
                "language": "zh_cn",
                "success_redirect_url": "myapp://terra/done?from=widget",
                "failure_redirect_url": "https://app.example.com/terra/failed",
                "multi_auth": True,
                "show_disconnect": False,
                "bypass_feedback": True,
                "use_terra_avengers_app": False,
            }
        )
    )

    assert answer.status == 201
    assert sent_body(terra) == {
        "reference_id": SUBJECT,
        "providers": "GARMIN,OURA,FITBIT",
        "language": "zh_cn",
        "auth_success_redirect_url": "myapp://terra/done?from=widget",
        "auth_failure_redirect_url": "https://app.example.com/terra/failed",
        "multi_auth": True,
        "show_disconnect": False,
        "bypass_feedback": True,
        "use_terra_avengers_app": False,
    }


@pytest.mark.parametrize("option", ["bypass_feedback", "use_terra_avengers_app"])
@pytest.mark.parametrize("value", ["true", 1, [True]])
def test_the_sdk_options_are_strict_booleans(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, option: str, value: object
) -> None:
    answer = invoke(api_event({option: value}))

    assert (answer.status, answer.code) == (422, "validation_error")
    assert len(terra.calls) == 0


def test_the_stacks_apple_and_samsung_app_urls_are_sent_to_the_current_endpoint(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terra_connect.entrypoints import api as container  # noqa: PLC0415
    from terra_connect.http import dependencies  # noqa: PLC0415

    monkeypatch.setenv("APPLE_APP_URL", "myapp://terra/apple")
    monkeypatch.setenv("SAMSUNG_APP_URL", "https://app.example.com/terra/samsung")
    wired = container.build_container(os.environ)
    monkeypatch.setattr(dependencies, "services", lambda: wired)
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    assert invoke(api_event()).status == 201
    assert (sent_body(terra)["apple_app_url"], sent_body(terra)["samsung_app_url"]) == (
        "myapp://terra/apple",
        "https://app.example.com/terra/samsung",
    )


def test_terra_warnings_are_passed_on(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer(warnings=["Unknown provider: FOO"], expires_in=86400))

    answer = invoke(api_event({"providers": ["FOO", "GARMIN"]}))

    assert answer.status == 201
    assert answer.json["warnings"] == ["Unknown provider: FOO"]
    assert answer.json["expires_in"] == 86400


def test_an_empty_json_object_is_the_same_as_no_body(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    assert invoke(api_event({})).status == 201
    assert invoke(api_event()).status == 201
    assert sent_body(terra, 0) == sent_body(terra, 1)


def test_expires_in_defaults_to_terras_documented_900_seconds_when_missing(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer_without_expiry = terra_session_answer()
    del answer_without_expiry["expires_in"]
    terra.post(WIDGET_URL, status=201, json=answer_without_expiry)

    answer = invoke(api_event())

    assert answer.status == 201
    assert answer.json["expires_in"] == 900


def test_the_request_id_is_the_correlation_id(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    answer = invoke(api_event({"providers": ["b@d"]}))

    assert answer.status == 422
    assert re.fullmatch(r"[A-Za-z0-9=]+", answer.json["request_id"])
    assert answer.json["request_id"] == api_event()["requestContext"]["requestId"]
    assert len(terra.calls) == 0


def test_the_deployed_wiring_serves_a_request(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terra_connect.entrypoints import api as container  # noqa: PLC0415
    from terra_connect.http import dependencies  # noqa: PLC0415

    monkeypatch.setattr(dependencies, "services", container.get_container)  # the container the Lambda builds
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    answer = invoke(api_event())

    assert answer.status == 201
    assert answer.json["url"] == SESSION_URL


def test_an_unexpected_error_is_a_500_problem_that_hides_the_message(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    function_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from terra_connect.entrypoints import api as container  # noqa: PLC0415
    from terra_connect.http import dependencies  # noqa: PLC0415

    class Broken:
        def create(self, *_: object) -> None:
            raise RuntimeError("internal detail that must not leak")

    wired = container.build_container(os.environ)
    monkeypatch.setattr(
        dependencies,
        "services",
        lambda: dataclasses.replace(wired, widget_sessions=cast("WidgetSessionService", Broken())),
    )

    answer = invoke(api_event())

    assert (answer.status, answer.code) == (500, "internal_error")
    assert "internal detail" not in answer.body
    assert "RuntimeError" in function_logs.getvalue()


def test_a_forbidden_redirect_gets_422_and_terra_is_not_called(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer = invoke(api_event({"failure_redirect_url": "https://app.example.com@evil.example/terra"}))

    assert (answer.status, answer.code) == (422, "redirect_not_allowed")
    assert "failure_redirect_url" in answer.json["detail"]
    assert len(terra.calls) == 0


def test_requested_redirects_replace_the_defaults(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    invoke(api_event({"success_redirect_url": "https://app.example.com/terra/ok"}))

    body = terra.calls[0].request.body or b""
    assert b'"auth_success_redirect_url": "https://app.example.com/terra/ok"' in body
    assert b'"auth_failure_redirect_url": "myapp://terra/failed"' in body
