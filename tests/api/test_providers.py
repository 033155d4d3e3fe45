"""GET /v1/providers and the custom-UI route's provider check: the Terra account's integrations, cached per
container, any case accepted, Terra always sent its upper-case codes."""

import json
from collections.abc import Callable

import pytest
import responses

from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import UnknownProvider
from terra_connect.providers.service import CACHE_SECONDS, ProvidersService
from terra_connect.terra.messages import Integrations
from tests.conftest import INTEGRATIONS, INTEGRATIONS_URL, terra_session_answer
from tests.support.builders import WIDGET_URL, ApiAnswer, api_event

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


class FakeIntegrations:
    def __init__(self, *providers: str) -> None:
        self.providers = providers
        self.calls = 0

    def integrations(self, deadline: Deadline) -> Integrations:
        self.calls += 1
        return Integrations(self.providers, ("APPLE",))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_within_the_cache_an_unknown_provider_is_refused_at_once(clock: Clock) -> None:
    terra = FakeIntegrations("GARMIN")
    service = ProvidersService(terra, clock=clock)
    assert service.require("garmin", Deadline.after(5)) == "GARMIN"

    with pytest.raises(UnknownProvider):
        service.require("OURA", Deadline.after(5))

    assert terra.calls == 1


def test_a_stale_cache_is_refreshed_once_before_refusing(clock: Clock) -> None:
    terra = FakeIntegrations("GARMIN")
    service = ProvidersService(terra, clock=clock)
    service.require("GARMIN", Deadline.after(5))
    terra.providers = ("GARMIN", "OURA")  # enabled on Terra's dashboard since
    clock.now += CACHE_SECONDS + 1

    assert service.require("oura", Deadline.after(5)) == "OURA"
    with pytest.raises(UnknownProvider):
        service.require("WHOOP", Deadline.after(5))
    assert terra.calls == 2


def test_widget_providers_are_accepted_in_any_case_and_sent_upper_case(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    assert invoke(api_event({"providers": ["garmin", "Oura", "GARMIN"]})).status == 201

    body = json.loads(terra.calls[-1].request.body or b"{}")
    assert body["providers"] == "GARMIN,OURA"
