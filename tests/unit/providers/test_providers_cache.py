"""The account's providers are cached per container: within the cache an unknown provider is refused at once, a
stale cache is read again once before a refusal."""

import pytest

from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import UnknownProvider
from terra_connect.providers.service import CACHE_SECONDS, ProvidersService
from terra_connect.terra.messages import Integrations


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
