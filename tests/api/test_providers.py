"""GET /v1/providers and the custom-UI route's provider check: the Terra account's integrations, cached per
container, any case accepted, Terra always sent its upper-case codes."""

import json
from collections.abc import Callable

import responses

from tests.support.builders import (
    INTEGRATIONS,
    INTEGRATIONS_URL,
    WIDGET_URL,
    ApiAnswer,
    api_event,
    terra_session_answer,
)

AUTHENTICATE = "https://api.tryterra.co/v2/auth/authenticateUser"


def calls_to(terra: responses.RequestsMock, url: str) -> int:
    return sum(url in (call.request.url or "") for call in terra.calls)


def test_the_providers_of_the_account_are_listed_and_cached(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    first = invoke(api_event(method="GET", path="/v1/providers"))
    second = invoke(api_event(method="GET", path="/v1/providers"))

    assert first.status == 200
    assert first.json == {"providers": INTEGRATIONS["providers"], "sdk_providers": INTEGRATIONS["sdk_providers"]}
    assert first.headers["Cache-Control"] == "private, max-age=300"
    assert second.json == first.json
    assert calls_to(terra, INTEGRATIONS_URL) == 1


def test_a_provider_the_account_does_not_have_is_refused_without_asking_terra_for_an_auth_url(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer = invoke(api_event({}, path="/v1/connections/COROS/auth-url"))

    assert (answer.status, answer.code) == (404, "unknown_provider")
    assert calls_to(terra, AUTHENTICATE) == 0


def test_an_sdk_provider_on_the_custom_ui_route_is_told_to_use_the_sdk(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer = invoke(api_event({}, path="/v1/connections/apple/auth-url"))

    assert (answer.status, answer.code) == (404, "unknown_provider")
    assert "POST /v1/sdk-tokens" in answer.json["detail"]
    assert calls_to(terra, AUTHENTICATE) == 0


def test_the_providers_route_needs_an_identity(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    answer = invoke(api_event(method="GET", path="/v1/providers", claims=None))

    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert calls_to(terra, INTEGRATIONS_URL) == 0


def test_widget_providers_are_accepted_in_any_case_and_sent_upper_case(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    assert invoke(api_event({"providers": ["garmin", "Oura", "GARMIN"]})).status == 201

    body = json.loads(terra.calls[-1].request.body or b"{}")
    assert body["providers"] == "GARMIN,OURA"
