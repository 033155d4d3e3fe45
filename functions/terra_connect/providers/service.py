"""The providers enabled for the Terra account, cached per container: for apps that build their own picker, and
so the custom-UI route refuses a provider the account does not have without asking Terra."""

import time
from collections.abc import Callable

from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import UnknownProvider
from terra_connect.providers.models import ProvidersResponse
from terra_connect.providers.ports import TerraIntegrationsGateway
from terra_connect.terra.messages import Integrations

# Providers are switched on and off in Terra's dashboard, rarely: a change shows within this.
CACHE_SECONDS = 900.0


class ProvidersService:
    def __init__(
        self,
        terra: TerraIntegrationsGateway,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._terra = terra
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cached: tuple[Integrations, float] | None = None

    def list(self, deadline: Deadline) -> ProvidersResponse:
        integrations = self._integrations(deadline)
        return ProvidersResponse(providers=list(integrations.providers), sdk_providers=list(integrations.sdk_providers))

    def require(self, provider: str, deadline: Deadline) -> str:
        """The provider's code as Terra writes it, if the account can connect it through the custom UI."""
        code = provider.upper()
        integrations = self._integrations(deadline)
        if code not in integrations.providers and self._stale():
            integrations = self._integrations(deadline, refresh=True)  # enabled since the cache was filled?
        if code in integrations.providers:
            return code
        if code in integrations.sdk_providers:
            raise UnknownProvider(
                f"{code} is connected on the device with Terra's mobile SDK: get a token from POST /v1/sdk-tokens.",
                log_context={"provider": code},
            )
        raise UnknownProvider(log_context={"provider": code})

    def forget(self) -> None:
        self._cached = None

    def _stale(self) -> bool:
        return self._cached is None or self._clock() - self._cached[1] > self._cache_seconds

    def _integrations(self, deadline: Deadline, *, refresh: bool = False) -> Integrations:
        if self._cached is None or refresh or self._stale():
            self._cached = (self._terra.integrations(deadline), self._clock())
        return self._cached[0]
