"""Upstream failures reach the app as a small, documented set of problem+json answers."""

from collections.abc import Callable

import boto3
import pytest
import requests
import responses

from tests.conftest import terra_session_answer
from tests.support import API_KEY, DEV_ID, ROTATED_API_KEY, WIDGET_URL, ApiAnswer, api_event


def assert_problem(answer: ApiAnswer, status: int, code: str) -> None:
    assert (answer.status, answer.code) == (status, code)
    assert answer.json["type"] == "about:blank"
    assert answer.json["status"] == status
    assert answer.json["request_id"]
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("status", "body", "expected_status", "code"),
    [
        (400, {"status": "error", "message": "Invalid providers"}, 502, "terra_rejected"),
        (404, {"status": "error", "message": "not found"}, 502, "terra_rejected"),
        (410, {"status": "error", "message": "gone"}, 502, "terra_rejected"),
        (500, {"detail": "boom"}, 503, "terra_unavailable"),
        (502, {"detail": "bad gateway"}, 503, "terra_unavailable"),
        (503, {"detail": "down"}, 503, "terra_unavailable"),
        (504, {"detail": "gateway timeout"}, 503, "terra_unavailable"),
        (429, {"detail": "rate limit exceeded"}, 503, "terra_unavailable"),
    ],
)
def test_terra_statuses_map_to_documented_problems(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    status: int,
    body: dict[str, str],
    expected_status: int,
    code: str,
) -> None:
    terra.post(WIDGET_URL, status=status, json=body)

    answer = invoke(api_event())

    assert_problem(answer, expected_status, code)
    assert "message" not in answer.json
    assert len(terra.calls) <= 3


def test_503_carries_retry_after_from_terra(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, sleeps: list[float]
) -> None:
    terra.post(WIDGET_URL, status=429, json={"detail": "rate limit exceeded"}, headers={"Retry-After": "60"})

    answer = invoke(api_event())

    assert_problem(answer, 503, "terra_unavailable")
    assert answer.headers["Retry-After"] == "60"
    assert len(terra.calls) == 1
    assert sleeps == []


def test_a_terra_timeout_is_504(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, sleeps: list[float]
) -> None:
    terra.post(WIDGET_URL, body=requests.ReadTimeout("slow"))

    answer = invoke(api_event())

    assert_problem(answer, 504, "terra_timeout")
    assert len(terra.calls) == 3
    assert len(sleeps) == 2


def test_too_little_remaining_time_is_504_without_calling_terra(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer = invoke(api_event(), remaining_ms=600)

    assert_problem(answer, 504, "terra_timeout")
    assert len(terra.calls) == 0


@pytest.mark.parametrize(
    "body", ["not json", '{"status": "success"}', '{"url": "http://widget.tryterra.co/session/x"}']
)
def test_an_unusable_terra_answer_is_502(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, body: str
) -> None:
    terra.post(WIDGET_URL, status=201, body=body)

    assert_problem(invoke(api_event()), 502, "terra_bad_response")


def test_a_rotated_key_is_picked_up_after_a_401(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, settings_env: dict[str, str]
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())
    assert invoke(api_event()).status == 201  # warm: the container now caches the old key
    boto3.client("secretsmanager").put_secret_value(
        SecretId=settings_env["TERRA_SECRET_ARN"],
        SecretString=f'{{"dev_id": "{DEV_ID}", "api_key": "{ROTATED_API_KEY}"}}',
    )
    terra.post(WIDGET_URL, status=401, json={"status": "error", "message": "credentials invalid"})
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    answer = invoke(api_event())

    assert answer.status == 201
    assert [c.request.headers["x-api-key"] for c in terra.calls] == [API_KEY, API_KEY, ROTATED_API_KEY]


def test_a_bad_key_fails_cleanly_with_502(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    terra.post(WIDGET_URL, status=403, json={"status": "error", "message": "credentials invalid"})

    answer = invoke(api_event())

    assert_problem(answer, 502, "terra_rejected")
    assert len(terra.calls) == 1


@pytest.mark.parametrize(
    "secret",
    ['{"dev_id": "only"}', "{not json", '{"dev_id": "REPLACE_ME", "api_key": "REPLACE_ME"}'],
    ids=["missing-key", "not-json", "placeholders"],
)
def test_a_malformed_secret_is_500_configuration_error(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, settings_env: dict[str, str], secret: str
) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=settings_env["TERRA_SECRET_ARN"], SecretString=secret)

    answer = invoke(api_event())

    assert_problem(answer, 500, "configuration_error")
    assert "only" not in answer.body
    assert len(terra.calls) == 0


def test_a_deleted_secret_is_500_configuration_error(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, settings_env: dict[str, str]
) -> None:
    boto3.client("secretsmanager").delete_secret(
        SecretId=settings_env["TERRA_SECRET_ARN"], ForceDeleteWithoutRecovery=True
    )

    answer = invoke(api_event())

    assert_problem(answer, 500, "configuration_error")
    assert settings_env["TERRA_SECRET_ARN"] not in answer.body
    assert len(terra.calls) == 0
