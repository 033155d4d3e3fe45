"""The connections table's layout as every adapter of it reads and writes it: key helpers, the item codec (a Terra
user's record, the owners' views, attempts, erasures) and the client settings. The layout itself is described in
connections/dynamodb.py; the events function decodes the table's stream with this module alone."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.config import Config

from terra_connect.connections.owners import Binding, OwnerEntry, Verdict
from terra_connect.connections.records import (
    ActiveFlag,
    Ending,
    Liveness,
    ScopeChange,
    ScopeList,
    Standing,
    StoredUser,
    UserRecord,
)
from terra_connect.connections.vocabulary import AuthAttempt, Connection, ConnectionStatus, EndReason
from terra_connect.erasure.ports import Erasure

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})
RECORD = "record"
LIVE, HISTORY, SDK_TOKEN, UNVERIFIED = "live#", "hist#", "sdk-token#", "unverified#"
ERASING, OUTBOX = "erasing", "outbox#"
OUTBOX_RETENTION = timedelta(days=1)  # a backstop: the events function deletes each outbox item it published
_SEPARATOR = "\x00"  # sorts before every character an attempt's fields can hold

Key = tuple[str, str]
Item = dict[str, Any]


def text(value: str) -> dict[str, str]:
    return {"S": value}


def number(value: int) -> dict[str, str]:
    return {"N": str(value)}


def owner_pk(reference_id: str) -> str:
    return f"owner#{reference_id}"


def user_key(terra_user_id: str) -> dict[str, dict[str, str]]:
    return {"pk": text(f"terra-user#{terra_user_id}"), "sk": text(RECORD)}


def item_key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": text(pk), "sk": text(sk)}


def erased_key(reference_id: str) -> dict[str, dict[str, str]]:
    digest = hashlib.sha256(reference_id.encode("utf-8", "surrogatepass")).hexdigest()
    return item_key(f"erased#{digest}", "erased")


def attempt_order(attempt: AuthAttempt) -> str:
    """Compared as a string. The time is the seconds (12 digits, as items written before milliseconds were kept
    hold them) followed by the milliseconds, so an earlier item's "<seconds><separator>" sorts before every attempt
    of a later second and, within its own second, before any from this version: it stands for the start of it."""
    milliseconds, status, provider, reason = attempt.order()
    return _SEPARATOR.join((f"{milliseconds // 1000:012d}{milliseconds % 1000:03d}", status, provider, reason))


def connection_of(reference_id: str, item: Item) -> Connection:
    return Connection(
        reference_id=reference_id,
        terra_user_id=item["terra_user_id"]["S"],
        provider=item["provider"]["S"],
        status=ConnectionStatus(item["status"]["S"]),
        scopes=tuple(scope["S"] for scope in item.get("scopes", {}).get("L", [])),
        active=item["active"]["BOOL"] if "active" in item else None,
        connected_at=from_seconds(item["connected_at"]["N"]) if "connected_at" in item else None,
        updated_at=from_seconds(item["updated_at"]["N"]) if "updated_at" in item else None,
    )


def stored_user_of(item: Item) -> StoredUser:
    """A Terra user's record item (as the client or the table's stream reads it)."""
    record = decode_record(item["pk"]["S"].removeprefix("terra-user#"), item["record"]["S"])
    standing = Standing(
        status=ConnectionStatus(item["status"]["S"]) if "status" in item else None,
        reason=EndReason(item["reason"]["S"]) if "reason" in item else None,
        at=int(item["standing_at"]["N"]) if "standing_at" in item else None,
    )
    erased_at = int(item["erased_at"]["N"]) if "erased_at" in item else None
    return StoredUser(record, standing, int(item["version"]["N"]), erased_at)


def erasure_of(reference_id: str, item: Item) -> Erasure:
    return Erasure(item["erasure_id"]["S"], reference_id, int(item["started_at"]["N"]), item["requested_by"]["S"])


def attempt_of(item: Item) -> AuthAttempt:
    return AuthAttempt(
        status=item["status"]["S"],
        provider=item.get("provider", {}).get("S"),
        reason=item.get("reason", {}).get("S"),
        at=from_seconds(item["at"]["N"]) if "at" in item else None,
    )


def encode_record(record: UserRecord) -> str:
    document: dict[str, Any] = {
        "provider": record.provider,
        "owners": record.owners,
        "live": record.live,
        "first_seen": record.first_seen,
        "last_alive": record.last_alive,
        "ending": [record.ending.at, record.ending.reason.value] if record.ending else None,
        "scopes_base": [record.scopes_base[0], list(record.scopes_base[1])] if record.scopes_base else None,
        "scope_changes": record.scope_changes,
        "active": record.active,
        "successors": record.successors,
        "created_at": record.created_at,
        "binding": [record.binding.judged_by, record.binding.verdicts] if record.binding else None,
    }
    return json.dumps({name: value for name, value in document.items() if value not in (None, ())})


def decode_record(terra_user_id: str, text: str) -> UserRecord:
    document: dict[str, Any] = json.loads(text)

    live, active = document.get("live"), document.get("active")
    ending = document.get("ending")
    base = document.get("scopes_base")
    binding = document.get("binding")  # absent from records written before bindings were kept
    return UserRecord(
        terra_user_id=terra_user_id,
        provider=document.get("provider"),
        owners=tuple(OwnerEntry(ref, int(links), int(at)) for ref, links, at in document.get("owners", [])),
        live=Liveness(int(live[0]), live[1]) if live else None,
        first_seen=document.get("first_seen"),
        last_alive=document.get("last_alive"),
        ending=Ending(int(ending[0]), EndReason(ending[1])) if ending else None,
        scopes_base=ScopeList(int(base[0]), tuple(base[1])) if base else None,
        scope_changes=tuple(
            ScopeChange(scope, int(at), bool(present)) for scope, at, present in document.get("scope_changes", [])
        ),
        active=ActiveFlag(int(active[0]), active[1]) if active else None,
        successors=tuple(document.get("successors", [])),
        created_at=document.get("created_at"),
        binding=Binding(int(binding[0]), tuple(Verdict(ref, bool(allowed)) for ref, allowed in binding[1]))
        if binding
        else None,
    )


def optional_int(item: Item, name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


def from_seconds(value: str) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)
