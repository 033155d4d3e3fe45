"""Lifecycle events: what changed for an app user's wearables, told to the app's backend (EventBridge).

Events are derived from what the registry wrote, never from what it was told: a Terra user's record before and
after one write (the DynamoDB stream's old and new images), and the owner's latest attempt before and after. A
write that changes nothing an owner sees (a replayed webhook, a repeated reconciliation) derives nothing, and a
write is published only once it has succeeded. Each event carries an `id` that is the same however often the same
write is read (the stream delivers at least once): subscribers deduplicate on it.
"""

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from terra_connect.connections.records import MOVED_REASON, StoredUser
from terra_connect.connections.vocabulary import AuthAttempt, Connection, ConnectionStatus, EndReason

if TYPE_CHECKING:
    from terra_connect.erasure.ports import Erasure

SOURCE = "terra-connect"
SCHEMA_VERSION = "1"


class DetailType(StrEnum):
    CONNECTED = "Wearable Connected"
    DISCONNECTED = "Wearable Disconnected"
    NEEDS_REAUTH = "Wearable Needs Reauth"
    SCOPES_CHANGED = "Wearable Scopes Changed"
    ATTEMPT_FAILED = "Connection Attempt Failed"
    ERASED = "User Erased"


# Why a connection ended, as subscribers see it.
DISCONNECT_REASONS = {
    EndReason.DISCONNECTED_BY_USER: "disconnected_by_user",
    EndReason.DEAUTH: "deauthenticated",
    EndReason.ACCESS_REVOKED: "revoked_at_provider",
    EndReason.REPLACED: "replaced_by_reauth",
    EndReason.REPLACED_UNNAMED: "replaced_by_reauth",
    EndReason.GONE_AT_TERRA: "gone_at_terra",
}
MOVED = MOVED_REASON  # an authentic event named another app user for the Terra user


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    detail_type: DetailType
    id: str
    reference_id: str
    time: datetime
    status: str
    terra_user_id: str | None = None
    provider: str | None = None
    reason: str | None = None
    scopes: tuple[str, ...] = ()
    scopes_added: tuple[str, ...] = ()
    scopes_removed: tuple[str, ...] = ()

    def entry(self) -> tuple[str, dict[str, Any]]:
        """(detail-type, detail): what is put on the bus."""
        return self.detail_type.value, self.detail()

    def detail(self) -> dict[str, Any]:
        """The event's `detail`, as docs/events.md documents it."""
        document: dict[str, Any] = {
            "version": SCHEMA_VERSION,
            "id": self.id,
            "reference_id": self.reference_id,
            "terra_user_id": self.terra_user_id,
            "provider": self.provider,
            "status": self.status,
            "reason": self.reason,
            "time": self.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if self.detail_type in {DetailType.CONNECTED, DetailType.NEEDS_REAUTH, DetailType.SCOPES_CHANGED}:
            document["scopes"] = list(self.scopes)
        if self.detail_type is DetailType.SCOPES_CHANGED:
            document["scopes_added"] = list(self.scopes_added)
            document["scopes_removed"] = list(self.scopes_removed)
        return document


def event_id(*parts: object) -> str:
    """The same id for the same change, however often it is read."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]


def _time(milliseconds: int | None) -> datetime:
    return datetime.fromtimestamp((milliseconds or 0) / 1000, UTC)


def user_events(before: StoredUser | None, after: StoredUser | None) -> list[LifecycleEvent]:
    """What one write of a Terra user's record changed for the app users who see it."""
    if after is None or after.erased:
        # An ended record expiring (its owners were told when it ended), or an erased app user's Terra user
        # becoming a tombstone (told once, by the erasure's own event).
        return []
    old = before.live_view() if before is not None else None
    new = after.live_view()
    record = after.record
    at = _time(after.standing.at or record.updated_at)
    version = after.version

    def event(kind: DetailType, view: Connection, status: str, reason: str | None = None) -> LifecycleEvent:
        return LifecycleEvent(
            kind,
            event_id(record.terra_user_id, version, kind, view.reference_id),
            view.reference_id,
            at,
            status,
            record.terra_user_id,
            view.provider,
            reason,
            scopes=view.scopes,
        )

    events: list[LifecycleEvent] = []
    if old is not None and (new is None or new.reference_id != old.reference_id):
        reason = MOVED if new is not None else _end_reason(after)
        status = ConnectionStatus.MOVED if new is not None else after.standing.status or ConnectionStatus.DISCONNECTED
        events.append(event(DetailType.DISCONNECTED, old, status.value, reason))
        old = None
    if new is None:
        return events
    if old is None or old.status != new.status:
        kind = DetailType.NEEDS_REAUTH if new.status is ConnectionStatus.NEEDS_REAUTH else DetailType.CONNECTED
        events.append(event(kind, new, new.status.value))
    elif old.scopes != new.scopes:
        changed = event(DetailType.SCOPES_CHANGED, new, new.status.value)
        added = tuple(sorted(set(new.scopes) - set(old.scopes)))
        removed = tuple(sorted(set(old.scopes) - set(new.scopes)))
        events.append(replace(changed, scopes_added=added, scopes_removed=removed))
    return events


def _end_reason(after: StoredUser) -> str:
    reason = after.standing.reason
    return DISCONNECT_REASONS[reason] if reason is not None else MOVED


def attempt_events(reference_id: str, before: AuthAttempt | None, after: AuthAttempt | None) -> list[LifecycleEvent]:
    """A failed widget or custom-UI attempt, when the owner's latest attempt became one."""
    if after is None or after.status != "error" or after == before:
        return []
    at = after.at or datetime.fromtimestamp(0, UTC)
    return [
        LifecycleEvent(
            DetailType.ATTEMPT_FAILED,
            event_id(reference_id, "attempt", after.status, after.provider, after.reason, at.isoformat()),
            reference_id,
            at,
            after.status,
            provider=after.provider,
            reason=after.reason,
        )
    ]


ERASURE_REASONS = {"user": "requested_by_user", "operator": "requested_by_operator"}


def erased_event(erasure: "Erasure") -> LifecycleEvent:
    """The one event an erasure publishes, once it has finished: the app user is forgotten."""
    return LifecycleEvent(
        DetailType.ERASED,
        event_id(erasure.reference_id, "erased", erasure.id),
        erasure.reference_id,
        datetime.fromtimestamp(erasure.started_at / 1000, UTC),
        "erased",
        reason=ERASURE_REASONS.get(erasure.requested_by, erasure.requested_by),
    )
