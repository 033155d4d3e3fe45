"""The connection registry's model: which Terra users belong to which app user, and in what state.

A reference_id (the app user) can own several Terra users, one per provider account. A Terra user id
only ever moves forward: once disconnected or replaced it is a tombstone, so a late or replayed `auth`
event for it cannot bring it back (reconnecting creates a new Terra user id).
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"
    REPLACED = "replaced"

    @property
    def is_final(self) -> bool:
        return self in {ConnectionStatus.DISCONNECTED, ConnectionStatus.REPLACED}


@dataclass(frozen=True, slots=True)
class Connection:
    reference_id: str
    terra_user_id: str
    provider: str
    status: ConnectionStatus
    scopes: tuple[str, ...] = ()
    connected_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthAttempt:
    """The outcome of the caller's latest widget or custom-UI attempt, as Terra reported it."""

    status: str  # "success" or "error"
    provider: str | None = None
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TerraUser:
    terra_user_id: str
    provider: str
    reference_id: str | None
    scopes: tuple[str, ...] = field(default=())


class ConnectionRegistry(Protocol):
    def connections_of(self, reference_id: str) -> list[Connection]:
        """Every connection of an app user, tombstones included."""
        ...

    def connection(self, reference_id: str, terra_user_id: str) -> Connection | None: ...

    def owner_of(self, terra_user_id: str) -> str | None:
        """The reference_id a Terra user belongs to, for events that do not carry it."""
        ...

    def record_connected(self, reference_id: str, user: TerraUser, at: datetime) -> bool:
        """Connected, unless the Terra user is already a tombstone. True when something changed."""
        ...

    def record_status(
        self,
        reference_id: str,
        terra_user_id: str,
        status: ConnectionStatus,
        at: datetime,
        provider: str | None = None,
    ) -> bool:
        """Move a live connection to `status` (a final one even if not seen yet); a tombstone never changes."""
        ...

    def record_scopes(self, reference_id: str, terra_user_id: str, scopes: tuple[str, ...], at: datetime) -> bool: ...

    def record_attempt(self, reference_id: str, attempt: AuthAttempt) -> None: ...

    def last_attempt(self, reference_id: str) -> AuthAttempt | None: ...

    def already_processed(self, delivery_id: str) -> bool: ...

    def mark_processed(self, delivery_id: str, at: datetime) -> None: ...
