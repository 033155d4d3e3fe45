"""The caller's connections: list them, disconnect one, or start connecting one provider with the app's own UI."""

from collections.abc import Callable
from datetime import UTC, datetime

from terra_connect.connections.models import (
    AttemptView,
    AuthUrlRequest,
    AuthUrlResponse,
    ConnectionsResponse,
    ConnectionView,
)
from terra_connect.connections.ports import TerraConnectionsGateway
from terra_connect.connections.records import Change, ended_by_id, stamp
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.vocabulary import EndReason
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import NotFound
from terra_connect.kernel.redirects import RedirectPolicy
from terra_connect.providers.service import ProvidersService
from terra_connect.terra.messages import AuthUrlParams


class ConnectionsService:
    def __init__(
        self,
        registry: ConnectionRegistry,
        terra: TerraConnectionsGateway,
        redirects: RedirectPolicy,
        *,
        providers: ProvidersService | None = None,
        default_success_redirect_url: str | None = None,
        default_failure_redirect_url: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._terra = terra
        self._redirects = redirects
        self._providers = providers
        self._defaults = (default_success_redirect_url, default_failure_redirect_url)
        self._now = now

    def list(self, reference_id: str, deadline: Deadline) -> ConnectionsResponse:
        """Every live connection the caller owns now (connected or needs_reauth) and the latest attempt."""
        connections = self._registry.connections(reference_id, deadline)
        attempt = self._registry.last_attempt(reference_id)
        return ConnectionsResponse(
            connections=[
                ConnectionView(
                    terra_user_id=c.terra_user_id,
                    provider=c.provider,
                    status=c.status.value,
                    scopes=list(c.scopes),
                    active=c.active,
                    connected_at=c.connected_at,
                    updated_at=c.updated_at,
                )
                for c in connections
            ],
            last_attempt=AttemptView(
                status=attempt.status, provider=attempt.provider, reason=attempt.reason, at=attempt.at
            )
            if attempt
            else None,
        )

    def disconnect(self, reference_id: str, terra_user_id: str, deadline: Deadline) -> None:
        """Only a live connection the caller owns now: anything else is the same 404, so ids cannot be probed."""
        if not self._registry.owns_live(reference_id, terra_user_id):
            raise NotFound("No such connection.")
        # Terra's 404 means it is already gone there: the outcome the caller wants.
        self._terra.deauthenticate_user(terra_user_id, deadline)
        ending = ended_by_id(terra_user_id, stamp(self._now()), EndReason.DISCONNECTED_BY_USER)
        self._registry.apply(Change(records=(ending,)))

    def auth_url(
        self, reference_id: str, provider: str, request: AuthUrlRequest, deadline: Deadline
    ) -> AuthUrlResponse:
        """`provider` in any case; one the account does not have is refused without asking Terra for a URL."""
        success_default, failure_default = self._defaults
        success = self._redirects.choose(request.success_redirect_url, success_default, field="success_redirect_url")
        failure = self._redirects.choose(request.failure_redirect_url, failure_default, field="failure_redirect_url")
        params = AuthUrlParams(
            reference_id=reference_id,
            provider=self._providers.require(provider, deadline) if self._providers else provider.upper(),
            language=request.language,
            success_redirect_url=success,
            failure_redirect_url=failure,
        )
        answer = self._terra.authenticate_user(params, deadline)
        return AuthUrlResponse(auth_url=answer.auth_url, provider=params.provider, terra_user_id=answer.terra_user_id)
