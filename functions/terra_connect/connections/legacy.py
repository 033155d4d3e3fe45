"""Items of the registry's first layout (pk = reference_id), read as the facts they hold: the reconciliation's scan
converts each one it meets, then drops it."""

from dataclasses import replace
from datetime import datetime

from terra_connect.connections.records import Change, at_time, ended, seen_alive, stamp
from terra_connect.connections.table import Item
from terra_connect.connections.vocabulary import AuthAttempt, ConnectionStatus, EndReason, TerraUser

LEGACY_CONNECTION = "user#"  # the first layout: pk = reference_id, sk = "user#<id>"


def legacy_change(item: Item) -> Change:
    """An item of the first layout (pk = reference_id) as the facts it holds, stamped with its own times."""
    reference_id = item["pk"]["S"]
    updated = _legacy_time(item.get("updated_at")) or _legacy_time(item.get("at")) or 0
    if item["sk"]["S"] == "attempt":
        attempt = AuthAttempt(
            status=item["status"]["S"],
            provider=item.get("provider", {}).get("S"),
            reason=item.get("reason", {}).get("S"),
            at=at_time(updated) if updated else None,
        )
        return Change(attempt=(reference_id, attempt))
    user = TerraUser(
        terra_user_id=item["sk"]["S"].removeprefix(LEGACY_CONNECTION),
        provider=item.get("provider", {}).get("S"),
        reference_id=reference_id,
        scopes=tuple(sorted(item.get("scopes", {}).get("SS", []))) or None,
    )
    status = ConnectionStatus(item.get("status", {}).get("S", ConnectionStatus.CONNECTED.value))
    if not status.is_live:
        reason = EndReason.REPLACED if status is ConnectionStatus.REPLACED else EndReason.DEAUTH
        return Change(records=(ended(user, updated, reason),))
    connected = _legacy_time(item.get("connected_at")) or updated
    return Change(records=(replace(seen_alive(user, updated, status), first_seen=connected),))


def _legacy_time(value: dict[str, str] | None) -> int | None:
    text = (value or {}).get("S")
    return stamp(datetime.fromisoformat(text)) if text else None
