"""The values of keeping health data: what a delivered payload holds, and what the store keeps of it.

A payload is read (payloads.py) into exactly one of:

- `DataPayload`: records to keep (any data type, types Terra adds later included);
- `PayloadPointer`: `s3_payload` / `s3_upload` - the data is at a presigned URL to fetch at once;
- `LargeRequestProcessing` / `LargeRequestSending`: a chunked data request's announcements;
- `Notice`: an authentic event with nothing to keep but its raw body (`healthcheck`, `rate_limit_hit`, ...);
- `Unreadable`: an authentic body nothing can be read from (kept raw, counted, never retried).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from terra_connect.connections.vocabulary import TerraUser
from terra_connect.health_data.events import DataReceived
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.ordering import CopyOrder


@dataclass(frozen=True, slots=True)
class Record:
    """One of Terra's records, keyed: its identity (without owner), its day, and its content."""

    identity: RecordIdentity
    day: str  # YYYY-MM-DD, where reads list it
    start_time: str | None  # as Terra wrote them
    end_time: str | None
    content: str = field(repr=False)  # Terra's record as canonical JSON: what is stored and read back
    digest: str  # sha256 of `content`: the last part of the copy order


@dataclass(frozen=True, slots=True)
class PayloadSpan:
    """What a payload's records cover, for its event: days, and the earliest and latest times Terra wrote."""

    start_date: str
    end_date: str
    start_time: str | None
    end_time: str | None


@dataclass(frozen=True, slots=True)
class DataPayload:
    event_type: str  # as Terra wrote it: `lab_report.completed`
    data_type: str  # where its records are kept: `lab_report`
    terra_user: TerraUser | None  # None for lab reports, or when Terra named no usable user
    owner_hint: str | None  # the reference_id the payload names: a hint for attribution, never proof
    records: tuple[Record, ...]  # distinct identities (see payloads.py for a payload naming one twice)
    unkeyed: int = 0  # records the rules of the type could not key: in the raw payload only

    @property
    def span(self) -> PayloadSpan | None:
        return span_of(self.records)


@dataclass(frozen=True, slots=True)
class PayloadPointer:
    """`s3_payload` (Terra's schema) or `s3_upload` (its webhook list): the data is at `url` for `expires_in`
    seconds from when Terra made it. The URL is a credential: never logged (repr hides it)."""

    event_type: str
    url: str = field(repr=False)
    expires_in: int  # seconds; 300 when Terra gave none
    payload_reference: str | None = None  # Terra's docs name it (not its schema): correlation only


@dataclass(frozen=True, slots=True)
class LargeRequestProcessing:
    """Terra is assembling the data of a request over a month; chunks will follow under `reference`."""

    reference: str
    terra_user: TerraUser | None
    owner_hint: str | None


@dataclass(frozen=True, slots=True)
class LargeRequestSending:
    """The chunks of `reference` are being sent: `expected_payloads` of them."""

    reference: str
    expected_payloads: int
    terra_user: TerraUser | None
    owner_hint: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    """An authentic event with nothing to keep beyond its raw body."""

    event_type: str
    terra_user: TerraUser | None
    owner_hint: str | None


class UnreadableReason(StrEnum):
    NOT_JSON = "not_json"  # not UTF-8 JSON, NaN, nested too deep, a number too long
    NOT_AN_OBJECT = "not_an_object"
    NO_TYPE = "no_type"
    BAD_TYPE = "bad_type"  # a type no partition can be named after
    BAD_SHAPE = "bad_shape"  # a known type without what its schema requires (`data` not a list, no `url`, ...)


@dataclass(frozen=True, slots=True)
class Unreadable:
    reason: UnreadableReason
    event_type: str | None = None  # when the type itself was readable


ParsedPayload = DataPayload | PayloadPointer | LargeRequestProcessing | LargeRequestSending | Notice | Unreadable


@dataclass(frozen=True, slots=True, order=True)
class ObjectVersion:
    """One version of one S3 object: what is deleted by id, so that no older copy is left behind."""

    key: str
    version_id: str


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """A record's current copy, as the index holds it (item `r#...` of the owner's partition)."""

    identity: RecordIdentity
    day: str
    order: CopyOrder
    payload_id: str  # the payload that wrote it
    location: ObjectVersion
    size: int  # bytes of the object
    terra_user_id: str | None
    received_ms: int
    start_time: str | None = None
    end_time: str | None = None
    # Copies this one replaced whose objects may still exist: deleted after the commit, then forgotten. Kept on the
    # item so that a crash in between leaves them named, for the next writer or retry to delete.
    superseded: tuple[ObjectVersion, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordPosition:
    """Where a page of a type's records stopped: the last record's keys (the index's LastEvaluatedKey, less the
    partition, which always comes from the caller's identity)."""

    sort_key: str
    day_key: str


@dataclass(frozen=True, slots=True)
class RecordPage:
    copies: tuple[StoredCopy, ...]
    after: RecordPosition | None  # None: nothing more


@dataclass(frozen=True, slots=True)
class PayloadPart:
    """Which records one payload changed (item `p#<payload_id>#<number>`); part 0 carries its announcement, so the
    event exists exactly when the write that made it does."""

    payload_id: str
    number: int
    data_type: str
    sort_keys: tuple[str, ...]
    raw: ObjectVersion
    announcement: DataReceived | None = None
    # When the payload was signed, and by which Terra user: an erasure's purge keeps what was signed after it
    # started (data_erasure/models.py). None on parts written before they were recorded.
    signed_ms: int | None = None
    terra_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ownership:
    """What the connection registry says of a Terra user."""

    owner: str | None  # the app user the registry attributes its data to (SDK bindings already decided)
    known: bool  # the registry has a record of the Terra user
    erased: bool = False  # a tombstone: its app user was erased, its data must be refused


# Index items stay far below DynamoDB's 400 KB: 500 sort keys of at most ~370 bytes each.
MAX_PART_RECORDS = 500


def payload_parts(
    payload_id: str,
    data_type: str,
    sort_keys: tuple[str, ...],
    raw: ObjectVersion,
    announcement: DataReceived,
    *,
    signed_ms: int,
    terra_user_id: str | None,
) -> tuple[PayloadPart, ...]:
    """The parts that list `sort_keys` (the records a payload changed), in order; part 0 announces."""
    chunks = [sort_keys[i : i + MAX_PART_RECORDS] for i in range(0, len(sort_keys), MAX_PART_RECORDS)] or [()]
    return tuple(
        PayloadPart(payload_id, n, data_type, chunk, raw, announcement if n == 0 else None, signed_ms, terra_user_id)
        for n, chunk in enumerate(chunks)
    )


def span_of(records: tuple[Record, ...]) -> PayloadSpan | None:
    """Days from the first to the last record's, and the earliest start and latest end Terra wrote (compared as
    instants where they can be read; a time without offset is read as UTC, for comparing only)."""
    if not records:
        return None
    days = sorted(record.day for record in records)
    starts = [(instant, t) for t in (r.start_time for r in records) if (instant := _instant(t)) is not None]
    ends = [(instant, t) for t in (r.end_time or r.start_time for r in records) if (instant := _instant(t)) is not None]
    return PayloadSpan(
        days[0],
        days[-1],
        min(starts)[1] if starts else None,
        max(ends)[1] if ends else None,
    )


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
