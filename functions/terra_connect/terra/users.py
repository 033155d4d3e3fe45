"""Terra's TerraUser object, read the same way from webhooks and from Terra's API answers.

Terra's schema: `user_id` and `provider` required; `reference_id` string or null; `scopes` a comma-separated
string or null ("activity:read,sleep:read"); `active` boolean or null. Anything missing or malformed is read as
"Terra did not say". Values beyond what the registry can store raise RegistryRejected: a retry cannot fix them.
"""

import re
from datetime import UTC, datetime
from typing import Any

from terra_connect.connections.vocabulary import (
    MAX_PROVIDER_LENGTH,
    MAX_REASON_LENGTH,
    MAX_REFERENCE_ID_LENGTH,
    MAX_SCOPE_LENGTH,
    MAX_SCOPES,
    TerraUser,
)
from terra_connect.kernel.errors import RegistryRejected

# Terra user ids are UUIDs. The registry stores, lists and accepts in DELETE /v1/connections/{id} exactly
# the ids this pattern admits, so anything it lists can be disconnected.
TERRA_USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~:@+=-]{0,127}$"
_TERRA_USER_ID = re.compile(TERRA_USER_ID_PATTERN)


def text(value: Any) -> str | None:
    """A non-empty string, or None."""
    return value if isinstance(value, str) and value.strip() else None


def terra_user_id(value: Any) -> str | None:
    identifier = text(value)
    if identifier is not None and not _TERRA_USER_ID.fullmatch(identifier):
        raise RegistryRejected(log_context={"reason": "a Terra user id the registry cannot store"})
    return identifier


def reference_id(value: Any) -> str | None:
    """A reference_id an app user of this stack could have: identities are printable and at most 256 characters."""
    identifier = text(value)
    if identifier is not None and (len(identifier) > MAX_REFERENCE_ID_LENGTH or not identifier.isprintable()):
        raise RegistryRejected(log_context={"reason": "a reference_id no app user can have"})
    return identifier


def provider(value: Any) -> str | None:
    code = text(value)
    if code is not None and (len(code) > MAX_PROVIDER_LENGTH or not code.isprintable()):
        raise RegistryRejected(log_context={"reason": "a provider the registry cannot store"})
    return code.strip().upper() if code else None


def reason(value: Any) -> str | None:
    words = text(value)
    return words[:MAX_REASON_LENGTH] if words else None


def scopes(value: Any) -> tuple[str, ...] | None:
    """Terra's comma-separated scopes (a list is read too); None when absent or beyond the registry's bounds."""
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, list):
        parts = [part for part in value if isinstance(part, str)]
    else:
        return None
    found = {part.strip() for part in parts if part.strip()}
    if len(found) > MAX_SCOPES or any(len(scope) > MAX_SCOPE_LENGTH or not scope.isprintable() for scope in found):
        return None  # debugging metadata to Terra; losing it beats losing the event
    return tuple(sorted(found))


def created_at(value: Any) -> int | None:
    """Terra's `created_at` ("2022-12-12T10:00:00.000000+00:00") as a stamp; None when absent or unreadable."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def terra_user(document: Any, *, reference_id_fallback: str | None = None) -> TerraUser | None:
    """The TerraUser in `document`, or None when it has no user_id. `reference_id_fallback` is used when the
    object names none (older event shapes carried reference_id beside the user, not in it)."""
    if not isinstance(document, dict):
        return None
    identifier = terra_user_id(document.get("user_id"))
    if identifier is None:
        return None
    active = document.get("active")
    return TerraUser(
        terra_user_id=identifier,
        provider=provider(document.get("provider")),
        reference_id=reference_id(document.get("reference_id")) or reference_id_fallback,
        scopes=scopes(document.get("scopes")),
        active=active if isinstance(active, bool) else None,
        created_at=created_at(document.get("created_at")),
    )
