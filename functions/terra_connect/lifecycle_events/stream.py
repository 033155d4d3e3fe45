"""The connections table's stream as the events function reads it: the lifecycle events each record carries, and
the outbox items to delete once published. Only the table's codec is imported, not its store."""

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.connections.table import CLIENT_CONFIG, OUTBOX, RECORD, attempt_of, stored_user_of
from terra_connect.kernel.errors import RegistryUnavailable
from terra_connect.lifecycle_events.events import attempt_events, user_events
from terra_connect.platform.aws_clients import aws_client


def stream_change(record: dict[str, Any]) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The lifecycle events (detail-type, detail) one stream record (NEW_AND_OLD_IMAGES) carries, in order; none
    for the items subscribers never see (views, deliveries, tokens, markers)."""
    change = record.get("dynamodb", {})
    pk, sk = change["Keys"]["pk"]["S"], change["Keys"]["sk"]["S"]
    old, new = change.get("OldImage"), change.get("NewImage")
    if sk == RECORD and pk.startswith("terra-user#"):
        events = user_events(stored_user_of(old) if old else None, stored_user_of(new) if new else None)
    elif sk == "attempt" and pk.startswith("owner#"):
        before, after = (attempt_of(image) if image else None for image in (old, new))
        events = attempt_events(pk.removeprefix("owner#"), before, after)
    elif outbox_key(record) is not None:
        return ((new["detail_type"]["S"], json.loads(new["detail"]["S"])),)
    else:
        return ()
    return tuple(event.entry() for event in events)


def outbox_key(record: dict[str, Any]) -> dict[str, Any] | None:
    """The key of the outbox item a stream record put there (to delete once published); None for anything else."""
    change = record.get("dynamodb", {})
    keys = change["Keys"]
    if (
        keys["pk"]["S"].startswith(OUTBOX)
        and keys["sk"]["S"] == "event"
        and change.get("NewImage")
        and not change.get("OldImage")
    ):
        return {"pk": keys["pk"], "sk": keys["sk"]}
    return None


class Outbox:
    """Deletes the outbox items the events function published (it may delete nothing else: see template.yaml)."""

    def __init__(self, table_name: str, *, endpoint_url: str | None = None) -> None:
        self._table = table_name
        self._client = aws_client("dynamodb", config=CLIENT_CONFIG, endpoint_url=endpoint_url)

    def delete(self, key: dict[str, Any]) -> None:
        """Best effort: an item left behind expires anyway (OUTBOX_RETENTION), and is never published twice
        because only its insertion is an event."""
        try:
            self._client.delete_item(TableName=self._table, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise RegistryUnavailable(log_context={"dynamodb_error": type(error).__name__}) from None
