"""The connection registry's vocabulary: app users (reference_id), the Terra users they own, and their fate.

A reference_id (the app user) can own several Terra users, one per provider account. Each Terra user is owned
by at most one reference_id at a time. A Terra user id is never reused: once it has ended (deauthorised,
revoked, replaced, gone at Terra) it stays ended, and reconnecting creates a new Terra user id.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# Bounds on what the registry stores, so that an authentic but absurd event cannot make an item DynamoDB refuses
# (keys up to 1 KiB, items up to 400 KB). Terra's ids are UUIDs; identity providers' subjects are under 256.
MAX_TERRA_USER_ID_LENGTH = 128
MAX_REFERENCE_ID_LENGTH = 256
MAX_PROVIDER_LENGTH = 64
MAX_SCOPES = 64
MAX_SCOPE_LENGTH = 128
MAX_REASON_LENGTH = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"
    REPLACED = "replaced"
    MOVED = "moved"  # history only: another app user owns this Terra user now

    @property
    def is_live(self) -> bool:
        return self in {ConnectionStatus.CONNECTED, ConnectionStatus.NEEDS_REAUTH}


class EndReason(StrEnum):
    """Why a Terra user ended; every one of them is final."""

    DEAUTH = "deauth"  # Terra's deauth event: disconnected at Terra (by the app, the user or Terra's dashboard)
    ACCESS_REVOKED = "access_revoked"  # the user revoked Terra's access at the provider
    DISCONNECTED_BY_USER = "disconnected_by_user"  # DELETE /v1/connections/{id}, confirmed by Terra
    REPLACED = "user_reauth"  # named as old_user by a user_reauth event
    REPLACED_UNNAMED = "user_reauth_unnamed"  # an older same-provider connection when user_reauth named no old_user
    GONE_AT_TERRA = "gone_at_terra"  # Terra no longer knows it (reconciliation, or the widget's invalid_user_ids)

    @property
    def status(self) -> ConnectionStatus:
        replaced = {EndReason.REPLACED, EndReason.REPLACED_UNNAMED}
        return ConnectionStatus.REPLACED if self in replaced else ConnectionStatus.DISCONNECTED


@dataclass(frozen=True, slots=True)
class TerraUser:
    """A Terra user as Terra describes it (TerraUser in its schemas); None means Terra did not say."""

    terra_user_id: str
    provider: str | None
    reference_id: str | None = None
    scopes: tuple[str, ...] | None = None
    active: bool | None = None
    created_at: int | None = None  # when Terra created it (a stamp: milliseconds since the epoch)


@dataclass(frozen=True, slots=True)
class Connection:
    """A live connection, as the owner lists it."""

    reference_id: str
    terra_user_id: str
    provider: str
    status: ConnectionStatus
    scopes: tuple[str, ...] = ()
    active: bool | None = None
    connected_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A Terra user an app user no longer has, and why (kept for the history retention)."""

    reference_id: str
    terra_user_id: str
    provider: str
    status: ConnectionStatus
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AuthAttempt:
    """The outcome of the caller's latest widget or custom-UI attempt, as Terra reported it."""

    status: str  # "success" or "error"
    provider: str | None = None
    reason: str | None = None
    at: datetime | None = None

    def order(self) -> tuple[int, str, str, str]:
        """The latest attempt wins (to the millisecond); equal times are ordered on the content so every order
        gives one answer."""
        milliseconds = (self.at - _EPOCH) // timedelta(milliseconds=1) if self.at else 0
        return (milliseconds, self.status, self.provider or "", self.reason or "")
