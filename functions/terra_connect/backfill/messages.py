"""The backfill queue's messages: a new connection to backfill, or a backfill's wake-up carrying its token.

Both are small JSON objects with a version, read strictly: a message this code did not write is not acted on.
"""

import json
from dataclasses import dataclass
from typing import Any

from terra_connect.backfill.plan import NewConnection
from terra_connect.health_data.keys import terra_token

VERSION = 1
_MAX_FIELD = 256


@dataclass(frozen=True, slots=True)
class WakeUp:
    terra_user_id: str
    token: int


def connected_message(connection: NewConnection) -> str:
    fields = {
        "reference_id": connection.reference_id,
        "terra_user_id": connection.terra_user_id,
        "provider": connection.provider,
    }
    return json.dumps({"v": VERSION, "connected": fields}, separators=(",", ":"))


def wake_message(terra_user_id: str, token: int) -> str:
    return json.dumps({"v": VERSION, "wake": {"terra_user_id": terra_user_id, "token": token}}, separators=(",", ":"))


def read_message(body: str) -> NewConnection | WakeUp | None:
    """What a message asks for; None for anything else (it is dropped: retrying cannot make it readable)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("v") != VERSION:
        return None
    connected, wake = document.get("connected"), document.get("wake")
    if isinstance(connected, dict):
        reference_id, provider = _text(connected.get("reference_id")), _text(connected.get("provider"))
        terra_user_id = terra_token(connected.get("terra_user_id"))
        if reference_id and provider and terra_user_id:
            return NewConnection(reference_id, terra_user_id, provider)
    if isinstance(wake, dict):
        terra_user_id, token = terra_token(wake.get("terra_user_id")), wake.get("token")
        if terra_user_id and type(token) is int and token >= 0:
            return WakeUp(terra_user_id, token)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_FIELD else None
