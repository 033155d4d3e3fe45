"""A purge's values: the request the erasure queues (and the purge re-queues to go on), what an index item
references, what a purge removed, and the `Wearable Data Erased` event it ends with.

A request names the app user and every Terra user of the erasure - never health data - so the queue that carries it
needs no more than SQS-managed encryption. It is read strictly: a message this service did not write is refused.
"""

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from terra_connect.health_data import layout
from terra_connect.health_data.models import ObjectVersion
from terra_connect.lifecycle_events.events import SCHEMA_VERSION, event_id

REQUEST_VERSION = 1
DATA_ERASED = "Wearable Data Erased"
# backfill/dynamodb_store.py keeps a Terra user's backfill under this partition.
BACKFILL_PREFIX = "bf#"
MAX_TERRA_USERS = 1000  # far beyond any app user's wearables; bounds what one message may ask for
MAX_ID_LENGTH = 512
REQUESTERS = frozenset({"user", "operator"})


class MalformedPurgeRequest(ValueError):
    """A message that is no purge request of this service: it ends in the dead-letter queue."""


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    records: int = 0  # record items deleted (current copies)
    objects: int = 0  # object versions deleted (record copies, raw payloads, fetched bodies)
    items: int = 0  # index items deleted in all (records, payload parts, backfill state)

    def __add__(self, other: "PurgeCounts") -> "PurgeCounts":
        return PurgeCounts(self.records + other.records, self.objects + other.objects, self.items + other.items)


@dataclass(frozen=True, slots=True)
class PurgeRequest:
    """Purge what is stored of an erased app user: pass 1 at once, pass 2 later (for writes still in flight).
    `partition` is the cursor: the partitions before it are done (items are deleted as they are read, so a
    partition is always read from its start)."""

    erasure_id: str
    reference_id: str
    terra_user_ids: tuple[str, ...]
    started_at: int  # when the erasure started (milliseconds)
    requested_by: str  # "user" or "operator"
    run: int = 1  # the pass: 1 or 2
    partition: int = 0
    counts: PurgeCounts = PurgeCounts()

    def keeps(self, item: "StoredItem") -> bool:
        """Whether the item is data the app user sent again after the erasure started (they connected again, as a
        new Terra user): ingest accepts it, so the purge leaves it. Only in their own partition, never of a Terra
        user of the erasure (data it signed before its tombstone landed is the erased connection's), and an item
        with no signed time is taken for older. A record's signed time moves when a later delivery of the same
        content raises its order without writing a copy: it is kept only if the copy it names was also received
        after the start."""
        return (
            item.key.pk == layout.owner_partition(self.reference_id)
            and item.key.sk.startswith((layout.RECORD_PREFIX, layout.PAYLOAD_PART_PREFIX))
            and item.signed_ms is not None
            and item.signed_ms > self.started_at
            and (not item.is_record or (item.received_ms is not None and item.received_ms > self.started_at))
            and item.terra_user_id not in self.terra_user_ids
        )

    def partitions(self) -> tuple[str, ...]:
        """Every data table partition the app user's data may be under: theirs, and each Terra user's (data kept
        while no owner was known, then the Terra user's backfill)."""
        ids = sorted(set(self.terra_user_ids))
        return (
            layout.owner_partition(self.reference_id),
            *(layout.unattributed_partition(terra_user_id) for terra_user_id in ids),
            *(f"{BACKFILL_PREFIX}{terra_user_id}" for terra_user_id in ids),
        )

    def at(self, partition: int, counts: PurgeCounts) -> "PurgeRequest":
        return replace(self, partition=partition, counts=counts)

    def second_pass(self, counts: PurgeCounts) -> "PurgeRequest":
        return replace(self, run=2, partition=0, counts=counts)

    def to_message(self) -> str:
        return json.dumps(
            {
                "v": REQUEST_VERSION,
                "erasure_id": self.erasure_id,
                "reference_id": self.reference_id,
                "terra_user_ids": sorted(set(self.terra_user_ids)),
                "started_at": self.started_at,
                "requested_by": self.requested_by,
                "pass": self.run,
                "partition": self.partition,
                "records": self.counts.records,
                "objects": self.counts.objects,
                "items": self.counts.items,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_message(cls, message: str) -> "PurgeRequest":
        try:
            document = json.loads(message)
        except ValueError:
            raise MalformedPurgeRequest("not JSON") from None
        if not isinstance(document, dict) or document.get("v") != REQUEST_VERSION:
            raise MalformedPurgeRequest("not a purge request of this version")
        ids = document.get("terra_user_ids")
        if not isinstance(ids, list) or len(ids) > MAX_TERRA_USERS:
            raise MalformedPurgeRequest("terra_user_ids")
        requested_by = _text(document, "requested_by")
        if requested_by not in REQUESTERS:
            raise MalformedPurgeRequest("requested_by")
        run = _whole(document, "pass")
        if run not in (1, 2):
            raise MalformedPurgeRequest("pass")
        return cls(
            erasure_id=_text(document, "erasure_id"),
            reference_id=_text(document, "reference_id"),
            terra_user_ids=tuple(_id(value) for value in ids),
            started_at=_whole(document, "started_at"),
            requested_by=requested_by,
            run=run,
            partition=_whole(document, "partition"),
            counts=PurgeCounts(_whole(document, "records"), _whole(document, "objects"), _whole(document, "items")),
        )


def _id(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise MalformedPurgeRequest("an id")
    return value


def _text(document: dict[str, Any], name: str) -> str:
    try:
        return _id(document.get(name))
    except MalformedPurgeRequest:
        raise MalformedPurgeRequest(name) from None


def _whole(document: dict[str, Any], name: str) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedPurgeRequest(name)
    return value


@dataclass(frozen=True, slots=True)
class ItemKey:
    pk: str
    sk: str


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One index item of an erased user's partition, as a purge needs it: its key, the object versions it names
    (a record's copy and its superseded copies not yet deleted, a payload part's raw or fetched body), and the items
    that exist only because of it (a backfill's listing for the sweep); for records and payload parts, when their
    data was signed and by which Terra user (None: not recorded)."""

    key: ItemKey
    objects: tuple[ObjectVersion, ...] = ()
    linked: tuple[ItemKey, ...] = ()
    superseded: tuple[ObjectVersion, ...] = ()  # those of `objects` no copy is current of: garbage whoever's
    signed_ms: int | None = None
    terra_user_id: str | None = None
    received_ms: int | None = None  # a record's: when the copy it names was received (its order may move later)

    @property
    def is_record(self) -> bool:
        return self.key.sk.startswith(layout.RECORD_PREFIX)


@dataclass(frozen=True, slots=True)
class DataErased:
    """The end of a purge: nothing stored of the app user is left. Counts only - never health data."""

    erasure_id: str
    reference_id: str
    requested_by: str
    counts: PurgeCounts
    time_ms: int

    @property
    def detail_type(self) -> str:
        return DATA_ERASED

    def to_detail(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "id": event_id(self.reference_id, "data-erased", self.erasure_id),
            "reference_id": self.reference_id,
            "erasure_id": self.erasure_id,
            "records_deleted": self.counts.records,
            "objects_deleted": self.counts.objects,
            "items_deleted": self.counts.items,
            "requested_by": self.requested_by,
            "time": datetime.fromtimestamp(self.time_ms / 1000, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
