"""Terra's signed webhooks: verifying them, and turning connection-lifecycle events into registry changes."""

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from terra_connect.domain.connections import AuthAttempt, ConnectionRegistry, ConnectionStatus, TerraUser
from terra_connect.domain.errors import InvalidSignature

SIGNATURE_HEADERS = ("terra-signature", "x-terra-signature")
TOLERANCE_SECONDS = 300
MAX_SIGNATURE_HEADER = 1024


def signature_header(headers: Mapping[str, str]) -> str | None:
    """Terra's header, read case-insensitively under either of its names."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return next((lowered[name] for name in SIGNATURE_HEADERS if name in lowered), None)


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise InvalidSignature(log_context={"reason": "no t= or no v1= part"})
    return timestamp, signatures


def verify_signature(header: str | None, raw_body: bytes, secret: str, now: float) -> None:
    """HMAC-SHA256 over f"{t}.{raw_body}", compared in constant time; t within 300 s of now, either side."""
    if not header or len(header) > MAX_SIGNATURE_HEADER:
        raise InvalidSignature(log_context={"reason": "no signature header"})
    timestamp, signatures = _parse(header)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature(log_context={"reason": "timestamp outside the 300 s tolerance"})
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    # Compare against every v1 (several may be sent during Terra's own secret rotation) without short-circuit.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise InvalidSignature(log_context={"reason": "no v1 signature matches"})


def sign(raw_body: bytes, secret: str, timestamp: int) -> str:
    """The header value Terra would send: used by the local Terra simulator and the tests."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing an event did, for the log line and the answer."""

    event_type: str
    action: str


def _user(document: Any) -> TerraUser | None:
    if not isinstance(document, dict):
        return None
    user_id, provider = document.get("user_id"), document.get("provider")
    if not isinstance(user_id, str) or not user_id:
        return None
    reference_id = document.get("reference_id")
    scopes = document.get("scopes")
    return TerraUser(
        terra_user_id=user_id,
        provider=provider if isinstance(provider, str) else "UNKNOWN",
        reference_id=reference_id if isinstance(reference_id, str) and reference_id else None,
        scopes=_scopes(scopes),
    )


def _scopes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(sorted({s.strip() for s in value.split(",") if s.strip()}))
    if isinstance(value, list):
        return tuple(sorted({s for s in value if isinstance(s, str) and s}))
    return ()


class WebhookProcessor:
    """Applies Terra's connection-lifecycle events to the registry; every event may arrive twice or late."""

    def __init__(self, registry: ConnectionRegistry, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """Terra retries failed deliveries for hours, so anything malformed but authentic is acknowledged."""
        self._registry = registry
        self._now = now
        self._handlers: dict[str, Callable[[Mapping[str, Any]], str]] = {
            "auth": self._auth,
            "auth_cancelled": self._auth_failed,
            "user_reauth": self._reauth,
            "deauth": lambda e: self._status(e, ConnectionStatus.DISCONNECTED),
            "access_revoked": lambda e: self._status(e, ConnectionStatus.DISCONNECTED),
            "connection_error": lambda e: self._status(e, ConnectionStatus.NEEDS_REAUTH),
            "permission_change": self._permissions,
        }

    def process(self, event: Mapping[str, Any], delivery_id: str | None) -> Outcome:
        event_type = str(event.get("type") or "unknown")
        if delivery_id and self._registry.already_processed(delivery_id):
            return Outcome(event_type, "duplicate delivery ignored")
        handler = self._handlers.get(event_type)
        action = handler(event) if handler else "ignored"
        if delivery_id:
            self._registry.mark_processed(delivery_id, self._now())
        return Outcome(event_type, action)

    def _reference_of(self, user: TerraUser, event: Mapping[str, Any]) -> str | None:
        top_level = event.get("reference_id")
        if user.reference_id:
            return user.reference_id
        if isinstance(top_level, str) and top_level:
            return top_level
        return self._registry.owner_of(user.terra_user_id)

    def _auth(self, event: Mapping[str, Any]) -> str:
        if event.get("status") != "success":
            return self._auth_failed(event)
        user = _user(event.get("user"))
        reference_id = self._reference_of(user, event) if user else None
        if user is None or reference_id is None:
            return "ignored (no user or reference_id)"
        now = self._now()
        self._registry.record_attempt(reference_id, AuthAttempt("success", user.provider, None, now))
        changed = self._registry.record_connected(reference_id, user, now)
        return "connected" if changed else "unchanged (already connected, or a tombstone)"

    def _auth_failed(self, event: Mapping[str, Any]) -> str:
        reference_id = event.get("reference_id")
        if not isinstance(reference_id, str) or not reference_id:
            return "ignored (no reference_id)"
        reason = event.get("reason")
        provider = event.get("resource")
        self._registry.record_attempt(
            reference_id,
            AuthAttempt(
                "error",
                provider if isinstance(provider, str) else None,
                reason[:200] if isinstance(reason, str) else None,
                self._now(),
            ),
        )
        return "attempt recorded"

    def _reauth(self, event: Mapping[str, Any]) -> str:
        old, new = _user(event.get("old_user")), _user(event.get("new_user"))
        if old is None or new is None:
            return "ignored (no old_user or new_user)"
        reference_id = self._reference_of(new, event) or self._reference_of(old, event)
        if reference_id is None:
            return "ignored (unknown user)"
        now = self._now()
        self._registry.record_status(reference_id, old.terra_user_id, ConnectionStatus.REPLACED, now, old.provider)
        self._registry.record_connected(reference_id, new, now)
        return "replaced"

    def _status(self, event: Mapping[str, Any], status: ConnectionStatus) -> str:
        user = _user(event.get("user"))
        reference_id = self._reference_of(user, event) if user else None
        if user is None or reference_id is None:
            return "ignored (unknown user)"
        changed = self._registry.record_status(reference_id, user.terra_user_id, status, self._now(), user.provider)
        return status.value if changed else "unchanged"

    def _permissions(self, event: Mapping[str, Any]) -> str:
        user = _user(event.get("user"))
        reference_id = self._reference_of(user, event) if user else None
        if user is None or reference_id is None:
            return "ignored (unknown user)"
        current = self._registry.connection(reference_id, user.terra_user_id)
        if current is None or current.status.is_final:
            return "unchanged"
        scopes = (set(current.scopes) | set(_scopes(event.get("scopes_added")))) - set(
            _scopes(event.get("scopes_removed"))
        )
        self._registry.record_scopes(reference_id, user.terra_user_id, tuple(sorted(scopes)), self._now())
        return "scopes updated"
