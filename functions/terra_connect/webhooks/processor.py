"""Terra's connection-lifecycle events, turned into facts for the registry.

Every published shape is read (Terra's 2026 JSON Schemas and the older docs and SDK types):

- `auth` success: `user` (whose `reference_id` names the app user; older shapes put `reference_id` beside it).
- a failed attempt: 2026 `auth_cancelled` (`reason`, `reference_id`, no user, no provider), or 2025 `auth` with
  `status: error` (`user`, `provider`, `reason`, `reference_id`).
- `user_reauth`: `new_user`, and `old_user` - a TerraUser or null ("when available").
- `deauth`, `access_revoked`, `connection_error`, `permission_change` (`scopes_added`/`scopes_removed`, comma-
  separated): each with `user`.
- anything else (`healthcheck`, data events): acknowledged and ignored.

Each fact is stamped with the time Terra emitted the event (its ordering timestamp, in milliseconds, kept across
retries) or, without one, the time Terra signed the delivery (`sent_at`, seconds), so the registry can weigh late
deliveries; the signing time itself is what the SDK binding trusts (sdk/binding.py), as the signature covers it.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from terra_connect.connections.records import Change, UnnamedReauth, ended, moment, scopes_changed, seen_alive
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.vocabulary import AuthAttempt, ConnectionStatus, EndReason, TerraUser
from terra_connect.kernel.errors import RegistryRejected
from terra_connect.terra import users

# What an event type must look like to be named in logs and metrics as sent (Terra's are lower_snake_case, its lab
# reports dotted: lab_report.completed).
_EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,40}")

Parser = Callable[[Mapping[str, Any], int], tuple[Change, str]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing an event did, for the log line, the metrics and the answer."""

    event_type: str
    action: str
    changed: int = 0  # Terra users whose record or standing changed
    unstorable: str | None = None  # why an authentic event could not be stored (acknowledged all the same)
    archived: bool = False  # a data event, archived and queued for the ingest function


def event_name(event_type: Any) -> str:
    """The event's type as logs and metrics name it: Terra's own when it looks like one, else "other"."""
    return event_type if isinstance(event_type, str) and _EVENT_TYPE.fullmatch(event_type) else "other"


def _user(event: Mapping[str, Any], key: str = "user", *, fallback: bool = True) -> TerraUser | None:
    top_level = users.reference_id(event.get("reference_id")) if fallback else None
    return users.terra_user(event.get(key), reference_id_fallback=top_level)


def _auth(event: Mapping[str, Any], at: int) -> tuple[Change, str]:
    if event.get("status") != "success":
        return _auth_failed(event, at)
    user = _user(event)
    if user is None:
        return Change(), "ignored (no user)"
    attempt = AuthAttempt("success", user.provider, None, moment(at))
    return Change(
        records=(seen_alive(user, at, ConnectionStatus.CONNECTED),),
        attempt=(user.reference_id, attempt) if user.reference_id else None,
        attempt_user=user.terra_user_id,
    ), "connected"


def _auth_failed(event: Mapping[str, Any], at: int) -> tuple[Change, str]:
    document = event.get("user")
    user: Mapping[str, Any] = document if isinstance(document, dict) else {}
    reference_id = users.reference_id(event.get("reference_id")) or users.reference_id(user.get("reference_id"))
    if reference_id is None:
        return Change(), "ignored (no reference_id)"
    provider = users.provider(event.get("provider")) or users.provider(user.get("provider"))
    attempt = AuthAttempt("error", provider, users.reason(event.get("reason")), moment(at))
    return Change(attempt=(reference_id, attempt)), "attempt recorded"


def _reauth(event: Mapping[str, Any], at: int) -> tuple[Change, str]:
    new = _user(event, "new_user")
    if new is None:
        return Change(), "ignored (no new_user)"
    old = _user(event, "old_user", fallback=False)
    records = [seen_alive(new, at, ConnectionStatus.CONNECTED)]
    if old is not None:
        # The new user inherits the old one's owners: a chain A -> B -> C may name the app user only once.
        records.insert(0, ended(old, at, EndReason.REPLACED, successor=new.terra_user_id))
        return Change(records=tuple(records)), "replaced"
    unnamed = None
    if new.reference_id and new.provider:
        unnamed = UnnamedReauth(new.reference_id, new.provider, at, new.terra_user_id)
    return Change(records=tuple(records), unnamed_reauth=unnamed), "replaced (old_user not named)"


def _ended(reason: EndReason) -> Parser:
    def parse(event: Mapping[str, Any], at: int) -> tuple[Change, str]:
        user = _user(event)
        if user is None:
            return Change(), "ignored (no user)"
        return Change(records=(ended(user, at, reason),)), reason.status.value

    return parse


def _connection_error(event: Mapping[str, Any], at: int) -> tuple[Change, str]:
    user = _user(event)
    if user is None:
        return Change(), "ignored (no user)"
    return Change(records=(seen_alive(user, at, ConnectionStatus.NEEDS_REAUTH),)), "needs_reauth"


def _permission_change(event: Mapping[str, Any], at: int) -> tuple[Change, str]:
    user = _user(event)
    if user is None:
        return Change(), "ignored (no user)"
    added = users.scopes(event.get("scopes_added")) or ()
    removed = users.scopes(event.get("scopes_removed")) or ()
    return Change(records=(scopes_changed(user, at, added, removed),)), "scopes updated"


PARSERS: dict[str, Parser] = {
    "auth": _auth,
    "auth_cancelled": _auth_failed,
    "user_reauth": _reauth,
    "deauth": _ended(EndReason.DEAUTH),
    "access_revoked": _ended(EndReason.ACCESS_REVOKED),
    "connection_error": _connection_error,
    "permission_change": _permission_change,
}


class WebhookProcessor:
    """Applies Terra's lifecycle events to the registry; every event may arrive twice, late, or out of order."""

    def __init__(self, registry: ConnectionRegistry, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._registry = registry
        self._now = now

    def process(
        self, event: Mapping[str, Any], delivery_id: str | None, sent_at: int, ordered_at: int | None = None
    ) -> Outcome:
        """`sent_at`: the signature's `t` (seconds); `ordered_at`: the time the event stands for (milliseconds,
        signatures.fact_time), the signing second when not given. Terra retries every non-2xx for hours, so
        anything authentic but unusable is acknowledged, not refused."""
        event_type = event.get("type")
        name = event_name(event_type)
        if delivery_id and self._registry.already_processed(delivery_id):
            return Outcome(name, "duplicate delivery ignored")
        parse = PARSERS.get(event_type) if isinstance(event_type, str) else None
        try:
            at = sent_at * 1000 if ordered_at is None else ordered_at
            change, action = parse(event, at) if parse else (Change(), "ignored")
            changed = self._registry.apply(replace(change, signed_at=sent_at * 1000))
        except RegistryRejected as rejected:
            return Outcome(name, "not stored", unstorable=str(rejected.log_context.get("reason", "rejected")))
        if delivery_id:
            self._registry.mark_processed(delivery_id, self._now())
        return Outcome(name, action, changed)
