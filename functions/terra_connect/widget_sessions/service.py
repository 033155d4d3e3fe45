"""Creating a Terra widget session bound to the signed-in caller."""

from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from terra_connect.connections.records import Change, ended_by_id, stamp
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.vocabulary import ConnectionStatus, EndReason
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import RegistryUnavailable, StaleConnectedUsers
from terra_connect.kernel.redirects import RedirectPolicy
from terra_connect.terra.messages import WidgetSessionParams
from terra_connect.widget_sessions.models import WidgetSessionRequest, WidgetSessionResponse
from terra_connect.widget_sessions.ports import WidgetSessionGateway

# Told how many pre-filled ids Terra refused (and which), so the composition root can log and count it.
StalePrefillObserver = Callable[[tuple[str, ...]], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ignore_stale_prefill(_: tuple[str, ...]) -> None:
    """Default observer: record nothing."""


class WidgetSessionService:
    def __init__(
        self,
        terra: WidgetSessionGateway,
        redirects: RedirectPolicy,
        *,
        default_success_redirect_url: str | None = None,
        default_failure_redirect_url: str | None = None,
        apple_app_url: str | None = None,
        samsung_app_url: str | None = None,
        registry: ConnectionRegistry | None = None,
        now: Callable[[], datetime] = _utc_now,
        on_stale_prefill: StalePrefillObserver = _ignore_stale_prefill,
    ) -> None:
        """`registry` pre-fills the widget with the caller's connections; leave it out where Terra ignores them."""
        self._terra = terra
        self._redirects = redirects
        self._default_success = default_success_redirect_url
        self._default_failure = default_failure_redirect_url
        self._sdk_app_urls = (apple_app_url, samsung_app_url)
        self._registry = registry
        self._now = now
        self._on_stale_prefill = on_stale_prefill

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
            bypass_feedback=request.bypass_feedback,
            use_terra_avengers_app=request.use_terra_avengers_app,
            connected_uids=self._connected_uids(reference_id, deadline),
            apple_app_url=self._sdk_app_urls[0],
            samsung_app_url=self._sdk_app_urls[1],
        )
        try:
            session = self._terra.create_widget_session(params, deadline)
        except StaleConnectedUsers as stale:
            if not params.connected_uids:
                raise
            session = self._terra.create_widget_session(self._without_stale(params, stale), deadline)
        return WidgetSessionResponse(
            url=session.url,
            session_id=session.session_id,
            expires_in=session.expires_in,
            expires_at=(self._now() + timedelta(seconds=session.expires_in)).replace(microsecond=0),
            warnings=list(session.warnings) or None,
        )

    def _connected_uids(self, reference_id: str, deadline: Deadline) -> tuple[str, ...]:
        """The caller's connected Terra users, so the widget shows them as connected (current endpoint only)."""
        if self._registry is None:
            return ()
        try:
            connections = self._registry.connections(reference_id, deadline)
        except RegistryUnavailable:
            return ()  # the widget works without the pre-fill; failing the whole request would not help
        return tuple(c.terra_user_id for c in connections if c.status is ConnectionStatus.CONNECTED)

    def _without_stale(self, params: WidgetSessionParams, stale: StaleConnectedUsers) -> WidgetSessionParams:
        """A registry mistake must never cost the user the widget: drop what Terra refused and mark it gone.

        Only ids the pre-fill sent are marked: Terra's answer cannot end anybody else's connections. When Terra
        names none of them, the retry goes without the pre-fill at all.
        """
        invalid = tuple(uid for uid in params.connected_uids if uid in set(stale.invalid_user_ids))
        self._on_stale_prefill(invalid)
        if invalid and self._registry is not None:
            at = stamp(self._now())
            # If the registry is down, the next sync or reconciliation marks them; the user still gets a URL.
            with suppress(RegistryUnavailable):
                self._registry.apply(
                    Change(records=tuple(ended_by_id(uid, at, EndReason.GONE_AT_TERRA) for uid in invalid))
                )
        kept = tuple(uid for uid in params.connected_uids if uid not in invalid) if invalid else ()
        return replace(params, connected_uids=kept)
