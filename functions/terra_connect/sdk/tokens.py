"""Tokens for Terra's mobile SDK, recorded as they are issued so the SDK connection they make can be verified."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from terra_connect.connections.records import stamp
from terra_connect.kernel.deadline import Deadline
from terra_connect.sdk.binding import TOKEN_RECORD_RETENTION
from terra_connect.sdk.models import SdkTokenResponse
from terra_connect.sdk.ports import SdkTokenStore, TerraSdkGateway


class SdkTokenService:
    def __init__(
        self,
        terra: TerraSdkGateway,
        tokens: SdkTokenStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._terra = terra
        self._tokens = tokens
        self._now = now

    def issue(self, reference_id: str, deadline: Deadline) -> SdkTokenResponse:
        """A token for the caller's device, recorded before it is handed out: the SDK connection it makes is only
        accepted for this reference_id, around this time."""
        token = self._terra.generate_auth_token(reference_id, deadline)
        issued = self._now()
        self._tokens.record_sdk_token(reference_id, stamp(issued), stamp(issued + TOKEN_RECORD_RETENTION))
        return SdkTokenResponse(
            token=token.token,
            expires_in=token.expires_in,
            expires_at=(issued + timedelta(seconds=token.expires_in)).replace(microsecond=0),
            reference_id=reference_id,
        )
