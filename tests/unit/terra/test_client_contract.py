"""TerraClient against every variant Terra publishes: the three widget paths, SDK tokens, integrations, and answers
no real Terra would give (refused, not trusted)."""

import json
from dataclasses import replace
from typing import Any

import pytest
import responses

from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import TerraBadResponse, TerraRejected
from terra_connect.terra.client import TerraClient
from tests.support.builders import terra_session_answer
from tests.unit.terra.test_client import PARAMS, FakeClock, FakeCredentials

ACCESS = "https://access.tryterra.co"
API = "https://api.tryterra.co/v2"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def credentials() -> FakeCredentials:
    return FakeCredentials()


def client(
    clock: FakeClock, credentials: FakeCredentials, url: str = ACCESS + "/api/widget/session", **kwargs: Any
) -> TerraClient:
    return TerraClient(
        widget_session_url=url, credentials=credentials, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0, **kwargs
    )


def deadline(clock: FakeClock) -> Deadline:
    return Deadline.after(10.0, clock)


def test_with_the_default_a_404_tries_the_other_published_paths_and_remembers_the_one_that_answers(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(ACCESS + "/api/widget/session", status=404, json={"status": "error", "message": "not found"})
    terra.post(ACCESS + "/widget/api/session", status=404, json={"status": "error", "message": "not found"})
    terra.post(ACCESS + "/widget/session", status=201, json=terra_session_answer())
    found: list[str] = []
    terra_client = client(clock, credentials, on_widget_url_found=found.append)

    terra_client.create_widget_session(PARAMS, deadline(clock))
    terra_client.create_widget_session(PARAMS, deadline(clock))

    assert [call.request.url for call in terra.calls] == [
        ACCESS + "/api/widget/session",
        ACCESS + "/widget/api/session",
        ACCESS + "/widget/session",
        ACCESS + "/widget/session",
    ]
    assert found == [ACCESS + "/widget/session"]


@pytest.mark.parametrize(("path", "status"), [("/widget/api/session", 200), ("/widget/session", 201)])
def test_both_success_statuses_are_accepted(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, path: str, status: int
) -> None:
    for other in ("/api/widget/session", "/widget/api/session", "/widget/session"):
        if other != path:
            terra.post(ACCESS + other, status=404, json={"status": "error", "message": "not found"})
    terra.post(ACCESS + path, status=status, json=terra_session_answer())

    session = client(clock, credentials).create_widget_session(PARAMS, deadline(clock))

    assert session.session_id == terra_session_answer()["session_id"]


def test_when_no_published_path_answers_the_search_stops_for_the_container(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    for path in ("/api/widget/session", "/widget/api/session", "/widget/session"):
        terra.post(ACCESS + path, status=404, json={"status": "error", "message": "not found"})
    terra_client = client(clock, credentials)

    for _ in range(2):
        with pytest.raises(TerraRejected):
            terra_client.create_widget_session(PARAMS, deadline(clock))

    assert len(terra.calls) == 3 + 1


def test_an_explicitly_configured_url_is_used_as_is(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(ACCESS + "/widget/session", status=404, json={"status": "error", "message": "not found"})

    with pytest.raises(TerraRejected):
        client(clock, credentials, ACCESS + "/widget/session").create_widget_session(PARAMS, deadline(clock))

    assert [call.request.url for call in terra.calls] == [ACCESS + "/widget/session"]


def test_the_current_endpoint_gets_the_2026_options_and_the_apps_sdk_urls(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(ACCESS + "/api/widget/session", status=201, json=terra_session_answer())
    params = replace(
        PARAMS,
        bypass_feedback=True,
        use_terra_avengers_app=False,
        apple_app_url="myapp://terra/apple",
        samsung_app_url="myapp://terra/samsung",
    )

    client(clock, credentials).create_widget_session(params, deadline(clock))

    body = json.loads(terra.calls[0].request.body or b"{}")
    assert {
        key: body[key] for key in ("bypass_feedback", "use_terra_avengers_app", "apple_app_url", "samsung_app_url")
    } == {
        "bypass_feedback": True,
        "use_terra_avengers_app": False,
        "apple_app_url": "myapp://terra/apple",
        "samsung_app_url": "myapp://terra/samsung",
    }


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [(86_400, 86_400), (900.0, 900), ("900", 900), (True, 900), (None, 900)],
    ids=["2026.10-day", "float", "string", "bool", "null"],
)
def test_expires_in_is_read_as_the_number_terra_documents(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, expires_in: Any, expected: int
) -> None:
    terra.post(ACCESS + "/api/widget/session", status=201, json=terra_session_answer(expires_in=expires_in))

    assert client(clock, credentials).create_widget_session(PARAMS, deadline(clock)).expires_in == expected


@pytest.mark.parametrize("expires_in", [10**12, -1, 0, 31 * 86_400])
def test_an_expiry_no_real_session_has_is_a_bad_answer(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, expires_in: int
) -> None:
    terra.post(ACCESS + "/api/widget/session", status=201, json=terra_session_answer(expires_in=expires_in))

    with pytest.raises(TerraBadResponse):
        client(clock, credentials).create_widget_session(PARAMS, deadline(clock))


def test_an_sdk_token_is_asked_for_with_no_body_and_never_shown(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    secret_token = "250c68b9c21b78e40e7a3285a2d538d3bc24aabd3b4c76a782fb0a571ca4501d"
    terra.post(API + "/auth/generateAuthToken", json={"status": "success", "token": secret_token, "expires_in": 180})

    token = client(clock, credentials).generate_auth_token("user-1", deadline(clock))

    assert (token.token, token.expires_in) == (secret_token, 180)
    assert secret_token not in repr(token)
    assert terra.calls[0].request.url == API + "/auth/generateAuthToken?reference_id=user-1"
    assert terra.calls[0].request.body is None
    assert terra.calls[0].request.headers["dev-id"] == credentials.get().dev_id


@pytest.mark.parametrize("answer", [{"status": "success"}, {"token": ""}, {"token": 7}, {"token": "x" * 2000}])
def test_an_answer_without_a_usable_token_is_a_bad_answer(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, answer: dict[str, Any]
) -> None:
    terra.post(API + "/auth/generateAuthToken", json=answer)

    with pytest.raises(TerraBadResponse):
        client(clock, credentials).generate_auth_token("user-1", deadline(clock))


def test_integrations_are_read_in_terras_upper_case_and_anything_else_is_dropped(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.replace(
        responses.GET,
        API + "/integrations",
        json={
            "providers": ["GARMIN", "oura", "GARMIN", "bad code!", 7],
            "sdk_providers": ["APPLE"],
            "status": "success",
        },
    )

    integrations = client(clock, credentials).integrations(deadline(clock))

    assert (integrations.providers, integrations.sdk_providers) == (("GARMIN", "OURA"), ("APPLE",))
