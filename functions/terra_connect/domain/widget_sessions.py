"""Creating a Terra widget session bound to the signed-in caller."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from terra_connect.domain.deadline import Deadline
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
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._terra = terra
        self._redirects = redirects
        self._default_success = default_success_redirect_url
        self._default_failure = default_failure_redirect_url
        self._now = now

    def create(self, reference_id: str, request: WidgetSessionRequest, deadline: Deadline) -> WidgetSessionResponse:
        """Ask Terra for a widget session whose reference_id is the caller's verified identity."""
        params = WidgetSessionParams(
            reference_id=reference_id,
            providers=tuple(request.providers or ()),
            language=request.language,
            success_redirect_url=self._redirect(request.success_redirect_url, self._default_success, "success"),
            failure_redirect_url=self._redirect(request.failure_redirect_url, self._default_failure, "failure"),
            multi_auth=request.multi_auth,
            show_disconnect=request.show_disconnect,
        )
        session = self._terra.create_widget_session(params, deadline)
        return WidgetSessionResponse(
            url=session.url,
            session_id=session.session_id,
            expires_in=session.expires_in,
            expires_at=(self._now() + timedelta(seconds=session.expires_in)).replace(microsecond=0),
            warnings=list(session.warnings) or None,
        )

    def _redirect(self, requested: str | None, default: str | None, outcome: str) -> str | None:
        if requested is None:
            return default
        return self._redirects.require(requested, field=f"{outcome}_redirect_url")
