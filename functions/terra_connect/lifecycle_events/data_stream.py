"""The data table's stream as the events function reads it: `Wearable Data Received` when a payload's part 0 is
inserted with its announcement, `Wearable Backfill Completed` when a backfill's plan item goes from open to
completed or incomplete, `Wearable Data Erased` when a purge's end is recorded (data_erasure/dynamodb.py). Each
detail was written with the item (health_data/events.py, data_erasure/models.py built it), in the same write that
made it true; the records themselves are never in an item, so never in an event.

The same stream carries far more than these (every record's index item, every backfill step): they publish
nothing. Part 0 is written once (a conditional put), so a payload delivered again, or a copy older than the stored
one, writes no part and publishes nothing; a stream record delivered twice publishes the same `id` twice, which
subscribers deduplicate on, as for every lifecycle event.
"""

import json
from typing import Any

from terra_connect.data_erasure.models import DATA_ERASED
from terra_connect.health_data.events import BACKFILL_COMPLETED, DataReceived

Entry = tuple[str, dict[str, Any]]

_DATA_PARTITIONS = ("u#", "t#")
_PLAN = "plan"
_PURGE = "purge#"
_DONE = "done"
_ENDED = frozenset({"completed", "incomplete"})


def is_data_table_record(record: dict[str, Any], connections_table: str) -> bool:
    """Whether a stream record is the data table's: never when its source is the connections table; else by the
    keys only the data table's items have (the registry's partitions are `terra-user#`, `owner#`, `outbox#`, ...)."""
    if _table_of(record.get("eventSourceARN")) == connections_table:
        return False
    keys = record.get("dynamodb", {}).get("Keys", {})
    pk: str = keys.get("pk", {}).get("S", "")
    sk: str = keys.get("sk", {}).get("S", "")
    return (
        (pk.startswith(_DATA_PARTITIONS) and sk.startswith(("p#", "r#")))
        or (pk.startswith("bf") and (sk == _PLAN or pk == "bf-open"))
        or (pk.startswith(_PURGE) and sk == _DONE)
    )


def data_change(record: dict[str, Any]) -> tuple[Entry, ...]:
    """The events (detail-type, detail) one data table stream record (NEW_AND_OLD_IMAGES) carries; none for most."""
    change = record.get("dynamodb", {})
    keys = change["Keys"]
    old, new = change.get("OldImage"), change.get("NewImage")
    if new is None:
        return ()
    sk = keys["sk"]["S"]
    if keys["pk"]["S"].startswith(_PURGE) and sk == _DONE:
        # Written once (a conditional put): only its insertion is the event; its expiry a day later is none.
        return ((DATA_ERASED, json.loads(new["detail"]["S"])),) if old is None else ()
    if sk.startswith("p#") and old is None and new.get("announce", {}).get("BOOL") is True:
        announcement = DataReceived(**json.loads(new["announcement"]["S"]))
        return ((announcement.detail_type, announcement.to_detail()),)
    if keys["pk"]["S"].startswith("bf#") and sk == _PLAN and "detail" in new:
        before = old.get("status", {}).get("S") if old else None
        if before == "open" and new.get("status", {}).get("S") in _ENDED:
            return ((BACKFILL_COMPLETED, json.loads(new["detail"]["S"])),)
    return ()


def _table_of(arn: Any) -> str | None:
    """`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` → name."""
    if not isinstance(arn, str) or ":table/" not in arn:
        return None
    return arn.split(":table/", 1)[1].split("/", 1)[0]
