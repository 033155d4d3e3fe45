"""The API key, the dev id, the caller's token and the widget URL never appear in logs, metrics or errors."""

import io
import logging
from collections.abc import Callable

import boto3
import pytest
import requests
import responses

from tests.support.builders import (
    API_KEY,
    DEV_ID,
    SESSION_URL,
    WIDGET_URL,
    ApiAnswer,
    api_event,
    load_event,
    terra_session_answer,
)

TOKEN = load_event("widget-session.json")["headers"]["authorization"].removeprefix("Bearer ")
SESSION_TOKEN = "6a1f0c2e-secret-session-token"
NEVER_LOGGED = [API_KEY, DEV_ID, TOKEN, SESSION_URL, SESSION_TOKEN]


def _success(terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())


def _rejected_with_echo(terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=403, json={"status": "error", "message": f"key {API_KEY} of {DEV_ID} invalid"})


def _gone(terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=410, json={"status": "error", "message": "gone"})


def _timeout(terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, body=requests.ReadTimeout(f"read timed out for {WIDGET_URL}"))


def _bad_answer(terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=201, json={"url": SESSION_URL.replace("https", "http"), "session_id": SESSION_TOKEN})


def _throttled(terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=429, headers={"Retry-After": "90"})


SCENARIOS: dict[str, Callable[[responses.RequestsMock], None]] = {
    "success": _success,
    "terra-rejects-and-echoes-the-key": _rejected_with_echo,
    "terra-410": _gone,
    "terra-timeout": _timeout,
    "terra-bad-answer": _bad_answer,
    "terra-throttled": _throttled,
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_no_secret_reaches_the_logs_or_the_answer(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    function_logs: io.StringIO,
    scenario: Callable[[responses.RequestsMock], None],
) -> None:
    caplog.set_level(logging.DEBUG)
    scenario(terra)

    answer = invoke(api_event({"providers": ["GARMIN"]}))

    printed = capfd.readouterr()
    output = printed.out + printed.err + caplog.text + function_logs.getvalue()
    assert '"service":"terra-connect"' in function_logs.getvalue(), "the sweep must see the function's log lines"
    for secret in NEVER_LOGGED:
        assert secret not in output
    for secret in [API_KEY, DEV_ID, TOKEN]:
        assert secret not in answer.body


def test_a_broken_secret_is_reported_without_its_content(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    settings_env: dict[str, str],
    function_logs: io.StringIO,
) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=settings_env["TERRA_SECRET_ARN"], SecretString=f'{{"dev_id": "{DEV_ID}", "api_key": {API_KEY}'
    )

    answer = invoke(api_event())

    output = function_logs.getvalue()
    assert answer.status == 500
    assert "the Terra secret is not JSON" in output
    assert API_KEY not in output + answer.body
    assert DEV_ID not in output + answer.body


def test_the_logs_say_what_failed(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, function_logs: io.StringIO
) -> None:
    _gone(terra)

    invoke(api_event())

    output = function_logs.getvalue()
    assert '"terra_status":410' in output
    assert "TerraWidgetSessionUrl" in output
