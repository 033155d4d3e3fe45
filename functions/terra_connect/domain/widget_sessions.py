"""Creating a Terra widget session bound to the signed-in caller."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from terra_connect.domain.connections import ConnectionRegistry, ConnectionStatus
from terra_connect.domain.deadline import Deadline
from terra_connect.domain.errors import RegistryUnavailable
from terra_connect.domain.models import WidgetSessionParams, WidgetSessionRequest, WidgetSessionResponse
from terra_connect.domain.ports import WidgetSessionGateway
from terra_connect.domain.redirects import RedirectPolicy


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WidgetSessionService:
    def __init__(
        self,
        terra: WidgetSessionGateway,
        redirects: RedirectPolicy,
        *,
        default_success_redirect_url: str | None = None,
        default_failure_redirect_url: str | None = None,
        registry: ConnectionRegistry | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """`registry` pre-fills the widget with the caller's connections; leave it out where Terra ignores them."""
        self._terra = terra
        self._redirects = redirects
        self._default_success = default_success_redirect_url
        self._default_failure = default_failure_redirect_url
        self._registry = registry
        self._now = now

    def create(self, reference_id: str, request: WidgetSessionRequest, deadline: Deadline) -> WidgetSessionResponse:
        """Ask Terra for a widget session whose reference_id is the caller's verified identity."""
        params = WidgetSessionParams(
            reference_id=reference_id,
            providers=tuple(request.providers or ()),
            language=request.language,
            success_redirect_url=self._redirects.choose(
                request.success_redirect_url, self._default_success, field="success_redirect_url"
            ),
            failure_redirect_url=self._redirects.choose(
                request.failure_redirect_url, self._default_failure, field="failure_redirect_url"
            ),
            multi_auth=request.multi_auth,
            show_disconnect=request.show_disconnect,
            connected_uids=self._connected_uids(reference_id),
        )
        session = self._terra.create_widget_session(params, deadline)
        return WidgetSessionResponse(
            url=session.url,
            session_id=session.session_id,
            expires_in=session.expires_in,
            expires_at=(self._now() + timedelta(seconds=session.expires_in)).replace(microsecond=0),
            warnings=list(session.warnings) or None,
        )

    def _connected_uids(self, reference_id: str) -> tuple[str, ...]:
        """The caller's connected Terra users, so the widget shows them as connected (current endpoint only)."""
        if self._registry is None:
            return ()
        try:
            connections = self._registry.connections_of(reference_id)
        except RegistryUnavailable:
            return ()  # the widget works without the pre-fill; failing the whole request would not help
        return tuple(c.terra_user_id for c in connections if c.status is ConnectionStatus.CONNECTED)
